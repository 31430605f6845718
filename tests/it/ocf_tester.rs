//! ClusterLabs' real ocf-tester against the installed dummy agent (through
//! `ocf-tester/run.sh`, which bounds every action).

use support::{Scratch, ocf_tester, require};

#[test]
fn ocf_tester_passes_for_dummy() {
    require("ocf-tester");
    let s = Scratch::new("tester-dummy");
    let state = s.path("t.state");
    let (rc, out) = ocf_tester(
        "dummy",
        "tester-dummy",
        &[("state", state.to_str().unwrap())],
        30,
    );
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!out.contains("rc=4"), "meta-data must validate:\n{out}");
}
