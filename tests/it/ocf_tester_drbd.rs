//! ClusterLabs' real ocf-tester against the installed drbd agent, with the
//! DRBD SIMULATOR (tests/sim/drbd-simulator) first on PATH: ocf-tester and
//! `ocf-tester/run.sh` pass the environment through to the agent, so the
//! agent finds the simulated drbdadm/drbdsetup/crm_attribute there.

use support::drbd as drbd_sim;

use std::process::{Command, Stdio};

use drbd_sim::Sim;
use support::{installed_agent, repo, require};

#[test]
fn ocf_tester_passes_for_drbd_against_the_simulator() {
    require("ocf-tester");
    let sim = Sim::new("tester", &["node1"], &[]);
    let agent = installed_agent("drbd");
    let conf = format!("drbdconf={}", sim.conf.display());
    let proc_file = sim.node("node1").join("proc-drbd");
    let out = Command::new(repo().join("ocf-tester/run.sh"))
        .args(["-t", "30", "-n", "tester-drbd"])
        .args(["-o", "drbd_resource=r0", "-o", &conf])
        .args(["-o", "ignore_missing_notifications=true"])
        .arg(&agent)
        .env("PATH", sim.path("node1"))
        .env("OCF_RS_DRBD_PROC", &proc_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert_eq!(out.status.code(), Some(0), "ocf-tester failed:\n{text}");
    assert!(text.contains("passed all tests"), "{text}");
    assert!(!text.contains("rc=4"), "meta-data must validate:\n{text}");
    assert!(
        !text.contains("does not support the demote") && !text.contains("partially"),
        "promote and demote are tested:\n{text}"
    );
    // ocf-tester really went through the simulator: promote and demote ran.
    let calls = sim.calls("node1");
    assert!(
        calls.contains("primary r0") && calls.contains("secondary r0"),
        "{calls}"
    );
    assert!(sim.show("node1").contains("\"up\": false"), "left stopped");
}
