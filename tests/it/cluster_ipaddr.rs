//! ocf:rust:ipaddr in a real one-node Corosync + Pacemaker cluster, driven
//! by pcs as a user would. The cluster runs in the root namespace, so the
//! test makes a veth `ipa-c0` there whose peer `ipa-c0p` sits in a namespace
//! of its own; both are removed on drop. The peer pings the floating
//! address while Pacemaker runs it, Pacemaker recovers it after it is
//! deleted behind its back, and `pcs resource disable` removes it.

use std::time::Duration;

use support::cluster::Cluster;
use support::ipaddr::{ip, shown};
use support::{provider, sh, system_install, wait_for};

const ROOT_NIC: &str = "ipa-c0";
const PEER_NIC: &str = "ipa-c0p";
const VIP: &str = "203.0.113.10";

/// The root-namespace veth and the peer namespace, removed on drop.
struct RootVeth {
    peer_ns: String,
}

impl RootVeth {
    fn new() -> RootVeth {
        let peer_ns = format!("ipa-c-{}", std::process::id());
        let _ = sh("ip", &["link", "del", ROOT_NIC]);
        let _ = sh("ip", &["netns", "del", &peer_ns]);
        let v = RootVeth { peer_ns };
        ip(&["netns", "add", &v.peer_ns]);
        ip(&[
            "link", "add", ROOT_NIC, "type", "veth", "peer", "name", PEER_NIC, "netns", &v.peer_ns,
        ]);
        ip(&["link", "set", ROOT_NIC, "up"]);
        ip(&["-n", &v.peer_ns, "link", "set", PEER_NIC, "up"]);
        ip(&[
            "-n",
            &v.peer_ns,
            "addr",
            "add",
            "203.0.113.2/24",
            "dev",
            PEER_NIC,
        ]);
        v
    }

    fn peer_pings(&self) -> bool {
        sh(
            "ip",
            &[
                "netns",
                "exec",
                &self.peer_ns,
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                VIP,
            ],
        )
        .0 == 0
    }
}

impl Drop for RootVeth {
    fn drop(&mut self) {
        let _ = sh("ip", &["link", "del", ROOT_NIC]);
        let _ = sh("ip", &["netns", "del", &self.peer_ns]);
    }
}

#[test]
fn pcs_creates_recovers_and_disables_a_floating_ip() {
    system_install();
    let veth = RootVeth::new();
    let c = Cluster::up();
    c.pcs(&[
        "resource",
        "create",
        "vip",
        &format!("ocf:{}:ipaddr", provider()),
        &format!("ip={VIP}"),
        "cidr_netmask=24",
        &format!("nic={ROOT_NIC}"),
        "op",
        "monitor",
        "interval=3s",
        "timeout=20s",
    ]);
    assert!(
        c.wait_role("vip", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    let s = shown(None, ROOT_NIC, VIP);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].prefix, 24);
    assert!(veth.peer_pings(), "the peer namespace reaches the VIP");

    // Deleted behind the cluster's back: monitor says 7, Pacemaker restarts it.
    ip(&["addr", "del", &format!("{VIP}/24"), "dev", ROOT_NIC]);
    assert!(
        wait_for(Duration::from_secs(30), || c.fail_count("vip") == 1
            && shown(None, ROOT_NIC, VIP).len() == 1),
        "no recovery:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("vip", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    assert!(veth.peer_pings(), "reachable again after recovery");

    c.pcs(&["resource", "disable", "vip"]);
    assert!(
        c.wait_role("vip", "Stopped", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    assert!(
        shown(None, ROOT_NIC, VIP).is_empty(),
        "stop removed the VIP"
    );
    assert!(!veth.peer_pings(), "the peer can no longer reach it");
    c.pcs(&["resource", "delete", "vip"]);
}
