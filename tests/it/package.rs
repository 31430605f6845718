//! The Debian package as an admin uses it: `dpkg -i` links every agent for
//! Pacemaker (`crm_resource --show-metadata`, `pcs resource describe`), `man`
//! finds the pages, a reinstall (dpkg's upgrade path) never removes a link,
//! `dpkg -r` removes our links and nothing else, and an admin's own file at
//! an agent's name is left alone by both. lintian finds no error in it.
//!
//! The package is target/debian/ocf-rs_<version>-1_<arch>.deb, built by
//! scripts/package.sh (scripts/test.sh builds it before the tests). Every
//! dpkg run happens in a private mount namespace (tests/harness/deb-sandbox.sh):
//! overlays on /usr, /etc and /var and a tmpfs over /usr/lib/ocf/resource.d,
//! so neither the host's dpkg database nor the provider links the other tests
//! use change, even if this test is killed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Outcome, bin, repo, require, run_env};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RUST: &str = "/usr/lib/ocf/resource.d/rust";

/// The private mount namespace: a holder process in it, entered by nsenter.
struct Sandbox {
    holder: Child,
    pid: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let script = repo().join("tests/harness/deb-sandbox.sh");
        let mut holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--fork",
                "--kill-child",
                "--",
            ])
            .arg(script)
            .arg("240")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("deb-sandbox.sh did not get ready: {line:?}"))
            .trim()
            .to_string();
        Sandbox { holder, pid }
    }

    /// Run `args` in the namespace, for at most 90 s.
    fn run(&self, args: &[&str]) -> Outcome {
        let mut argv = vec![
            "-k", "5", "90", "nsenter", "--target", &self.pid, "--mount", "--",
        ];
        argv.extend_from_slice(args);
        let started = Instant::now();
        let out = Command::new("timeout")
            .args(&argv)
            .env("PATH", PATH)
            .env("LC_ALL", "C.UTF-8")
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .stdin(Stdio::null())
            .output()
            .expect("timeout nsenter");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        out.stdout
    }

    /// `name -> target inode` of every entry in the provider directory.
    fn links(&self) -> Vec<String> {
        let out = self.run(&["find", RUST, "-mindepth", "1", "-printf", "%f %l %i\n"]);
        let mut v: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // unshare --kill-child takes the holder (and the namespace) with it.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn package() -> PathBuf {
    let version = run_env(&bin(), &["--version"], &[]).stdout;
    let version = version.split_whitespace().nth(1).unwrap().to_string();
    let arch = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    let arch = String::from_utf8_lossy(&arch.stdout).trim().to_string();
    let deb = repo().join(format!("target/debian/ocf-rs_{version}-1_{arch}.deb"));
    assert!(
        deb.is_file(),
        "{} is missing: build it with scripts/package.sh (scripts/test.sh does before the tests)",
        deb.display()
    );
    deb
}

fn host_state() -> (String, bool) {
    let q = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "ocf-rs"])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&q.stdout).into_owned(),
        std::path::Path::new("/usr/sbin/ocf-rs").exists(),
    )
}

fn param_names(metadata: &str) -> Vec<&str> {
    metadata
        .split("<parameter name=\"")
        .skip(1)
        .map(|c| c.split('"').next().unwrap())
        .collect()
}

#[test]
fn dpkg_installs_every_agent_for_pacemaker_and_removes_only_our_links() {
    for tool in [
        "unshare",
        "nsenter",
        "dpkg",
        "crm_resource",
        "pcs",
        "man",
        "lintian",
    ] {
        require(tool);
    }
    let started = Instant::now();
    let deb = package();
    let deb_s = deb.to_str().unwrap();
    let lintian = Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit", deb_s])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let host_before = host_state();
    let agents: Vec<(String, String)> = run_env(&bin(), &["list"], &[])
        .stdout
        .lines()
        .map(|l| {
            let (a, d) = l.split_once('\t').unwrap();
            (a.to_string(), d.to_string())
        })
        .collect();

    let sb = Sandbox::new();
    assert_ne!(
        sb.run(&["test", "-e", RUST]).code,
        0,
        "the sandbox starts with an empty provider tree"
    );
    // The admin's own things in our provider directory, at names that are
    // not agents: a note and a link to another agent.
    sb.ok(&["mkdir", "-p", RUST]);
    sb.ok(&["sh", "-c", &format!("echo keep > {RUST}/notes")]);
    sb.ok(&[
        "ln",
        "-s",
        "/usr/lib/ocf/resource.d/heartbeat/Dummy",
        &format!("{RUST}/mine"),
    ]);
    let foreign = |sb: &Sandbox| {
        assert_eq!(sb.ok(&["cat", &format!("{RUST}/notes")]), "keep\n");
        assert_eq!(
            sb.ok(&["readlink", &format!("{RUST}/mine")]),
            "/usr/lib/ocf/resource.d/heartbeat/Dummy\n"
        );
    };

    let install = sb.run(&["dpkg", "-i", deb_s]);
    assert_eq!(install.code, 0, "{install:?}");
    let links = sb.links();
    for (a, _) in &agents {
        assert!(
            links
                .iter()
                .any(|l| l.starts_with(&format!("{a} /usr/sbin/ocf-rs "))),
            "dpkg -i did not link {a} to /usr/sbin/ocf-rs: {links:?}"
        );
    }
    foreign(&sb);
    // The package carries this tree's agents and manual pages.
    assert_eq!(
        sb.ok(&["/usr/sbin/ocf-rs", "list"]),
        run_env(&bin(), &["list"], &[]).stdout,
        "{} is stale: rebuild it with scripts/package.sh",
        deb.display()
    );

    for (a, desc) in &agents {
        let ra = format!("ocf:rust:{a}");
        let ours = run_env(&bin(), &["meta-data", a], &[]).stdout;
        let md = sb.ok(&["crm_resource", "--show-metadata", &ra]);
        assert_eq!(
            md.trim_end(),
            ours.trim_end(),
            "crm_resource --show-metadata {ra}"
        );
        let pcs = sb.ok(&["pcs", "resource", "describe", &ra]);
        assert!(
            pcs.starts_with(&format!("{ra} - {desc}")),
            "pcs resource describe {ra}:\n{pcs}"
        );
        for p in param_names(&ours) {
            assert!(
                pcs.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(&format!("{p}:")) || l.starts_with(&format!("{p} ("))
                }),
                "pcs resource describe {ra} does not show {p}:\n{pcs}"
            );
        }
        let page = format!("/usr/share/man/man7/ocf_rust_{a}.7.gz");
        assert_eq!(sb.ok(&["man", "-w", &format!("ocf_rust_{a}")]).trim(), page);
        let shipped = sb.ok(&["zcat", &page]);
        let committed =
            std::fs::read_to_string(repo().join(format!("man/ocf_rust_{a}.7"))).unwrap();
        assert_eq!(shipped, committed, "{page} differs from man/ocf_rust_{a}.7");
    }
    assert_eq!(
        sb.ok(&["man", "-w", "ocf-rs"]).trim(),
        "/usr/share/man/man8/ocf-rs.8.gz"
    );
    let shown = sb.ok(&["man", "ocf_rust_ipaddr"]);
    assert!(shown.contains("ocf_rust_ipaddr - "), "{shown}");
    // Each page's EXAMPLE PCS, as man shows it, creates the resource (in a
    // CIB file: pcs -f checks it against the agent's meta-data).
    for (a, _) in &agents {
        let shown = sb.ok(&["man", &format!("ocf_rust_{a}")]);
        let example = shown
            .split("EXAMPLE PCS")
            .nth(1)
            .and_then(|t| t.split("SEE ALSO").next())
            .unwrap_or_else(|| panic!("ocf_rust_{a}(7) has no EXAMPLE PCS:\n{shown}"));
        let command: Vec<&str> = example
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("pcs "))
            .take_while(|l| !l.is_empty())
            .flat_map(|l| l.trim_end_matches('\\').split_whitespace())
            .collect();
        assert_eq!(command[..3], ["pcs", "resource", "create"], "{example}");
        let cib = format!("/mnt/cib-{a}.xml");
        sb.ok(&["sh", "-c", &format!("cibadmin --empty > {cib}")]);
        let args: Vec<String> = ["pcs", "-f", &cib]
            .into_iter()
            .map(str::to_string)
            .chain(command[1..].iter().map(|w| w.replace("=value", "=x")))
            .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.ok(&argv);
        let saved = sb.ok(&["cat", &cib]);
        let primitive = saved
            .lines()
            .find(|l| l.contains(&format!("id=\"p_{a}\"")) && l.contains("<primitive"))
            .unwrap_or_else(|| panic!("{argv:?} did not create p_{a}:\n{saved}"));
        for attr in [
            "class=\"ocf\"",
            "provider=\"rust\"",
            &format!("type=\"{a}\""),
        ] {
            assert!(primitive.contains(attr), "{primitive}");
        }
    }

    // A reinstall goes through dpkg's upgrade path (prerm upgrade, new files,
    // postinst configure): the very same links stay, never removed.
    let again = sb.run(&["dpkg", "-i", deb_s]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(sb.links(), links, "an upgrade replaced or removed a link");
    assert_eq!(
        again.stdout.matches("(unchanged)").count(),
        agents.len(),
        "{again:?}"
    );

    let remove = sb.run(&["dpkg", "-r", "ocf-rs"]);
    assert_eq!(remove.code, 0, "{remove:?}");
    let left = sb.links();
    assert!(
        left.iter().all(|l| !l.contains("/usr/sbin/ocf-rs")),
        "dpkg -r left links: {left:?}"
    );
    assert_eq!(
        left.len(),
        2,
        "only the admin's two entries are left: {left:?}"
    );
    foreign(&sb);
    assert_ne!(sb.run(&["test", "-e", "/usr/sbin/ocf-rs"]).code, 0);
    sb.ok(&["dpkg", "-P", "ocf-rs"]);

    // An admin's own file at an agent's name: the package still installs
    // (postinst accepts install's exit 3), links the others, and neither
    // install nor removal touches the file.
    sb.ok(&[
        "sh",
        "-c",
        &format!("printf '#!/bin/sh\\n# mine\\n' > {RUST}/dummy"),
    ]);
    let held = sb.run(&["dpkg", "-i", deb_s]);
    assert_eq!(held.code, 0, "{held:?}");
    assert!(
        held.stderr
            .contains("dummy exists and is not a symlink; not touching it"),
        "{held:?}"
    );
    assert_eq!(
        sb.ok(&["readlink", &format!("{RUST}/ipaddr")]),
        "/usr/sbin/ocf-rs\n"
    );
    // This time prerm cannot run the binary: postrm's fallback removes the
    // links to /usr/sbin/ocf-rs, and only those.
    sb.ok(&["chmod", "a-x", "/usr/sbin/ocf-rs"]);
    let fallback = sb.run(&["dpkg", "-r", "ocf-rs"]);
    assert_eq!(fallback.code, 0, "{fallback:?}");
    assert!(
        !fallback.stdout.contains("remove /usr/lib"),
        "prerm ran: {fallback:?}"
    );
    assert_eq!(
        sb.ok(&["cat", &format!("{RUST}/dummy")]),
        "#!/bin/sh\n# mine\n"
    );
    assert_eq!(sb.links().len(), 3, "{:?}", sb.links());
    drop(sb);

    assert_eq!(
        host_state(),
        host_before,
        "the host's dpkg database or /usr/sbin changed"
    );
    let lint = lintian.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&lint.stdout);
    assert!(
        lint.status.success() && !report.lines().any(|l| l.starts_with("E:")),
        "lintian finds errors in {}:\n{report}",
        deb.display()
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "the package test took {:?}",
        started.elapsed()
    );
}
