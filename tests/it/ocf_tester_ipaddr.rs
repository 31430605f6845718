//! ClusterLabs' real ocf-tester against the installed ipaddr agent, for an
//! IPv4 and an IPv6 address on a veth inside a network namespace of the
//! test's own. ocf-tester runs in the root namespace; the agent enters the
//! namespace itself through its `network_namespace` parameter.

use support::ipaddr::{NIC, NetPair, shown};
use support::{ocf_tester, require};

fn passes(pair: &NetPair, instance: &str, ip: &str, mask: &str) {
    let (rc, out) = ocf_tester(
        "ipaddr",
        instance,
        &[
            ("ip", ip),
            ("cidr_netmask", mask),
            ("nic", NIC),
            ("network_namespace", &pair.ns),
            ("arp_count", "2"),
        ],
        30,
    );
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!out.contains("rc=4"), "meta-data must validate:\n{out}");
    assert!(
        shown(Some(&pair.ns), NIC, ip).is_empty(),
        "ocf-tester ends stopped"
    );
}

#[test]
fn ocf_tester_passes_for_ipaddr_v4_and_v6() {
    require("ocf-tester");
    let pair = NetPair::new("tester");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:4::1/64", "dev", NIC, "nodad"]);
    passes(&pair, "tester-ipaddr4", "198.51.100.40", "24");
    passes(&pair, "tester-ipaddr6", "2001:db8:4::40", "64");
}
