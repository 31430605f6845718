//! Every agent's meta-data against the validators that matter: the
//! ra-api-1.dtd ocf-tester uses (shipped by resource-agents), pcs's
//! ocf-1.1.rng (what `pcs resource create` checks), and resource-agents' own
//! metadata.rng. The list of agents comes from `ocf-rs list`, so a new agent
//! is covered the moment it is registered.

use std::fs;

use support::{Scratch, bin, require, run_env, sh};

fn agents() -> Vec<String> {
    let out = run_env(&bin(), &["list"], &[]);
    assert_eq!(out.code, 0);
    out.stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

fn xmllint(args: &[&str]) -> (i32, String) {
    require("xmllint");
    sh("xmllint", args)
}

#[test]
fn meta_data_validates_against_the_dtd_and_both_rngs() {
    let s = Scratch::new("metadata");
    let dtd = "/usr/share/resource-agents/ra-api-1.dtd";
    let pcs_rng = "/usr/share/pcs/data/ocf-1.1.rng";
    let ra_rng = "/usr/share/resource-agents/metadata.rng";
    for f in [dtd, pcs_rng, ra_rng] {
        assert!(
            fs::metadata(f).is_ok(),
            "{f} missing: scripts/install-deps.sh installs it"
        );
    }
    let names = agents();
    assert!(names.contains(&"dummy".to_string()));
    for name in names {
        let out = run_env(&bin(), &["meta-data", &name], &[]);
        assert_eq!(out.code, 0, "{name}: {out:?}");
        assert!(
            out.stdout
                .contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"),
            "{name}: ocf-tester needs the DOCTYPE"
        );
        assert!(out.stdout.contains("<version>1.1</version>"), "{name}");
        let file = s.path(&format!("{name}.xml"));
        fs::write(&file, &out.stdout).unwrap();
        let f = file.to_str().unwrap();
        let (rc, msg) = xmllint(&["--noout", "--dtdvalid", dtd, f]);
        assert_eq!(rc, 0, "{name} fails ra-api-1.dtd:\n{msg}");
        let (rc, msg) = xmllint(&["--noout", "--relaxng", pcs_rng, f]);
        assert_eq!(rc, 0, "{name} fails pcs's ocf-1.1.rng:\n{msg}");
        let (rc, msg) = xmllint(&["--noout", "--relaxng", ra_rng, f]);
        assert_eq!(rc, 0, "{name} fails resource-agents' metadata.rng:\n{msg}");
    }
}

/// The check ocf-tester itself makes, and the user it makes it as: `nobody`,
/// with no parameters and nothing of the managed software.
#[test]
fn meta_data_runs_as_nobody() {
    let installed = support::system_install();
    for name in agents() {
        let link = format!("/usr/lib/ocf/resource.d/{}/{name}", support::provider());
        let (rc, out) = sh(
            "setpriv",
            &[
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                &link,
                "meta-data",
            ],
        );
        assert_eq!(
            rc,
            0,
            "{name} meta-data as nobody ({}): {out}",
            installed.display()
        );
        assert!(
            out.contains("<resource-agent name=\"") && out.contains(&format!("name=\"{name}\""))
        );
    }
}
