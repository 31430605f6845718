//! `ocf-rs migrate`: from the heartbeat (and linbit) agents to ours.
//!
//! Without `--apply` it only reads (the live CIB through `cibadmin --query`,
//! or `--cib FILE`) and reports, for every primitive on an agent we
//! replace, its new agent, what ours would refuse or treat differently, and
//! the commands to switch. With `--apply` it switches what can switch
//! without a restart ([`apply`]). docs/migrate.md is the user's page.
//!
//! Exit codes: 0 everything on an agent we replace can switch (or was
//! switched) cleanly; 1 something needs the admin (listed); 2 usage, or the
//! CIB could not be read; 3 `--apply` failed and put everything back;
//! 4 `--apply` failed and could not put everything back (the report says
//! what is left).

mod apply;
mod cib;
mod cibxml;
mod notes;
mod plan;

use std::time::Duration;

use ocf::Deadline;
use ocf::exec::{self, Cmd};

use cibxml::{Restore, Update};
use plan::{Level, Plan, Verdict};

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub cib: Option<String>,
    pub apply: bool,
    pub provider: String,
    /// The whole run's budget (seconds).
    pub timeout: u64,
    /// How long the new agents get to report each resource running.
    pub verify: u64,
}

pub fn parse(args: &[&str]) -> Result<Options, String> {
    let mut o = Options {
        cib: None,
        apply: false,
        provider: "rust".into(),
        timeout: 300,
        verify: 90,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v)),
            _ => (*a, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .map(str::to_string)
                .or_else(|| it.next().map(|s| s.to_string()))
                .ok_or(format!("{what} needs a value"))
        };
        let secs = |v: String, what: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
                .ok_or(format!(
                    "{what} must be a number of seconds from 1 to 86400"
                ))
        };
        match key {
            "--cib" => o.cib = Some(value("--cib")?),
            "--apply" => o.apply = true,
            "--provider" => o.provider = value("--provider")?,
            "--timeout" => o.timeout = secs(value("--timeout")?, "--timeout")?,
            "--verify-timeout" => o.verify = secs(value("--verify-timeout")?, "--verify-timeout")?,
            other => return Err(format!("unknown migrate option {other:?}")),
        }
    }
    let p = &o.provider;
    if p.is_empty()
        || p.starts_with(['.', '-'])
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "provider {p:?} must be letters, digits, '-' or '_' and not start with '.' or '-'"
        ));
    }
    if o.apply && o.cib.is_some() {
        return Err("--apply works on the live CIB: leave out --cib".into());
    }
    Ok(o)
}

/// Largest CIB read from a file.
const MAX_CIB: u64 = 16 << 20;

fn read_cib(o: &Options, dl: &Deadline) -> Result<(String, String), String> {
    match &o.cib {
        Some(path) => {
            use std::io::Read;
            let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
            let mut text = String::new();
            f.take(MAX_CIB)
                .read_to_string(&mut text)
                .map_err(|e| format!("{path}: {e}"))?;
            Ok((text, format!("file {path}")))
        }
        None => {
            let cmd = Cmd::new("cibadmin").arg("--query");
            let out =
                exec::run(&cmd, &dl.cap(Duration::from_secs(30))).map_err(|e| e.to_string())?;
            if !out.success() {
                return Err(format!("cibadmin --query: {}", out.describe()));
            }
            Ok((
                out.stdout_str(),
                "the live cluster (cibadmin --query)".into(),
            ))
        }
    }
}

pub fn run(o: &Options) -> i32 {
    let dl = Deadline::after(Duration::from_secs(o.timeout));
    let (text, source) = match read_cib(o, &dl) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ocf-rs migrate: cannot read the CIB: {e}");
            return 2;
        }
    };
    let prims = match cib::primitives(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ocf-rs migrate: cannot read the CIB from {source}: {e}");
            return 2;
        }
    };
    let plan = Plan::build(prims, &o.provider);
    print!("{}", report(&plan, &source, o.apply));
    if !o.apply {
        return plan.exit_code();
    }
    println!();
    apply::apply(&plan, &dl, Duration::from_secs(o.verify))
}

/// The report: stable order (the CIB's), one block per resource.
pub fn report(plan: &Plan, source: &str, applying: bool) -> String {
    let mut s = String::new();
    let pr = &plan.provider;
    s += &format!("CIB: {source}\nNew provider: ocf:{pr}:*\n");
    let section = |s: &mut String, title: &str, verdict: Verdict| {
        let items: Vec<_> = plan.items.iter().filter(|i| i.verdict == verdict).collect();
        if items.is_empty() {
            return;
        }
        *s += &format!("\n{title} ({}):\n", items.len());
        for i in items {
            let p = &i.prim;
            match i.new_agent(pr) {
                Some(new) => *s += &format!("  {}: {} -> {new}{}\n", p.id, p.agent(), p.where_()),
                None => *s += &format!("  {}: {}{}\n", p.id, p.agent(), p.where_()),
            }
            for f in &i.findings {
                let tag = match f.level {
                    Level::Blocks => "NEEDS ADMIN",
                    Level::Note => "note",
                };
                *s += &format!("      {tag}: {}\n", f.text);
            }
        }
    };
    section(&mut s, "Can switch without a restart", Verdict::Switch);
    section(
        &mut s,
        "Needs the admin first (not switched)",
        Verdict::NeedsAdmin,
    );
    section(&mut s, &format!("Already on ocf:{pr}"), Verdict::Already);
    section(
        &mut s,
        "Left alone (agents ocf-rs does not replace)",
        Verdict::LeftAlone,
    );
    let switching: Vec<_> = plan.switching().collect();
    if !switching.is_empty() && !applying {
        s += "\nTo switch them (what `ocf-rs migrate --apply` does, with checks between the steps):\n";
        let mut unmanage = Update::default();
        let mut agents = Update::default();
        for i in &switching {
            unmanage.managed(&i.prim, "false");
            agents.agent(
                &i.prim,
                "ocf",
                Some(pr),
                i.target.map(|t| t.info.name).unwrap_or_default(),
            );
        }
        s += &format!(
            "  cibadmin --modify --scope resources --xml-text '{}'\n",
            unmanage.xml()
        );
        s += &format!(
            "  cibadmin --modify --scope resources --xml-text '{}'\n",
            agents.xml()
        );
        for i in &switching {
            s += &format!("  crm_resource --refresh --resource {}\n", i.prim.id);
        }
        s += "  crm_mon -1 --include=all    # each: running as before, under its new agent, not failed\n";
        for i in &switching {
            s += &match cibxml::restore_managed(&i.prim) {
                Restore::Modify(x) => {
                    format!("  cibadmin --modify --scope resources --xml-text '{x}'\n")
                }
                Restore::Delete(x) => {
                    format!("  cibadmin --delete --scope resources --xml-text '{x}'\n")
                }
            };
        }
    }
    let count = |v: Verdict| plan.items.iter().filter(|i| i.verdict == v).count();
    s += &format!(
        "\nSummary: {} can switch, {} need the admin, {} already on ocf:{pr}, {} left alone.\n",
        count(Verdict::Switch),
        count(Verdict::NeedsAdmin),
        count(Verdict::Already),
        count(Verdict::LeftAlone)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        assert_eq!(parse(&[]).unwrap().provider, "rust");
        let o = parse(&["--cib", "/tmp/c.xml", "--provider=rust17"]).unwrap();
        assert_eq!(o.cib.as_deref(), Some("/tmp/c.xml"));
        assert_eq!(o.provider, "rust17");
        assert!(parse(&["--apply", "--cib", "x"]).is_err());
        assert!(parse(&["--provider", "../x"]).is_err());
        assert!(parse(&["--provider", "-x"]).is_err());
        assert!(parse(&["--timeout", "0"]).is_err());
        assert!(parse(&["--frob"]).is_err());
        assert!(parse(&["--cib"]).is_err());
    }

    #[test]
    fn the_report_of_a_mixed_cib() {
        let prims = cib::primitives(include_str!("testdata/cib-mixed.xml")).unwrap();
        let plan = Plan::build(prims, "rust");
        let r = report(&plan, "file cib.xml", false);
        let expected = include_str!("testdata/cib-mixed.report");
        if r != expected && std::env::var_os("OCF_RS_BLESS").is_some() {
            std::fs::write(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/src/migrate/testdata/cib-mixed.report"
                ),
                &r,
            )
            .unwrap();
        }
        assert_eq!(r, expected, "OCF_RS_BLESS=1 rewrites the expected report");
        assert!(!r.contains("hunter2") && !r.contains("s3cret-pw"));
    }
}
