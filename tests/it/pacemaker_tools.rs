//! Pacemaker's own tools drive the installed agent without a cluster:
//! `crm_resource --show-metadata` and the `--force-*`/`--validate` forms
//! (which take `--class/--provider/--agent`, never `-r`). crm_resource's exit
//! code is the agent's.

use support::{Scratch, provider, require, sh, system_install};

fn crm_resource(op: &str, opts: &[(&str, &str)]) -> (i32, String) {
    let prov = provider();
    let mut args = vec![
        op,
        "--class",
        "ocf",
        "--provider",
        prov.as_str(),
        "--agent",
        "dummy",
    ];
    let kv: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for o in &kv {
        args.push("--option");
        args.push(o);
    }
    let (rc, out) = sh("crm_resource", &args);
    (rc, out)
}

#[test]
fn crm_resource_shows_metadata_and_runs_every_force_action() {
    require("crm_resource");
    system_install();
    let (rc, md) = sh(
        "crm_resource",
        &["--show-metadata", &format!("ocf:{}:dummy", provider())],
    );
    assert_eq!(rc, 0, "{md}");
    assert!(md.contains("<resource-agent name=\"dummy\""), "{md}");

    let s = Scratch::new("crm-resource");
    let state = s.path("c.state");
    let st = state.to_str().unwrap();
    let opts = [("state", st)];
    assert_eq!(crm_resource("--validate", &opts).0, 0);
    assert_eq!(crm_resource("--force-check", &opts).0, 7, "not started yet");
    let (rc, out) = crm_resource("--force-start", &opts);
    assert_eq!(rc, 0, "{out}");
    assert!(state.is_file());
    assert_eq!(crm_resource("--force-check", &opts).0, 0);
    assert_eq!(crm_resource("--force-stop", &opts).0, 0);
    assert!(!state.exists());
    assert_eq!(
        crm_resource("--force-stop", &opts).0,
        0,
        "stop is idempotent"
    );

    let (rc, out) = crm_resource("--validate", &[("state", "relative")]);
    assert_eq!(rc, 6, "{out}");
    assert!(
        out.contains("'state' must be an absolute path"),
        "crm_resource shows our reason: {out}"
    );
}
