//! ClusterLabs' ocf-tester against the installed xen agent, driving a host
//! of the xl SIMULATOR (no Xen hypervisor on the test machines).

use support::xen::{SimHost, domain_config};
use support::{Scratch, ocf_tester, require};

#[test]
fn ocf_tester_passes_for_xen_on_the_xl_simulator() {
    require("ocf-tester");
    let dir = Scratch::new("tester-xen");
    let host = SimHost::new(&dir.0, "node1");
    let cfg = domain_config(&dir, "tester");
    let (rc, out) = ocf_tester(
        "xen",
        "tester",
        &[
            ("xmfile", cfg.to_str().unwrap()),
            ("binary", host.xl.to_str().unwrap()),
            ("shutdown_timeout", "3"),
        ],
        60,
    );
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(
        host.calls().contains(" create "),
        "the tester really started the domain"
    );
    assert!(!host.has("tester"), "and stopped it");
}
