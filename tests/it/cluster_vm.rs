//! ocf:rust:vm in a real one-node Corosync + Pacemaker cluster, driven by
//! pcs as a user would, with a real libvirtd and QEMU (TCG) guest:
//! `pcs resource create ... config=...` starts the VM, Pacemaker's monitors
//! fill in its utilization (and remove what unset_utilization_* names),
//! `pcs resource disable` stops it; and with
//! respect_guest_shutdown a guest that powers itself off is left stopped
//! (target-role=Stopped) instead of being started again.

use std::time::Duration;

use support::cluster::Cluster;
use support::vm::{Domain, Guest, system_libvirtd};
use support::{Scratch, provider, sh, system_install, wait_for};

fn meta(rsc: &str, name: &str) -> String {
    sh(
        "crm_resource",
        &["--resource", rsc, "--meta", "--get-parameter", name],
    )
    .1
}

/// The resource's utilization attribute `name`; empty when it has none.
fn util(rsc: &str, name: &str) -> String {
    let (code, out) = sh("crm_resource", &["-r", rsc, "-z", "-g", name]);
    if code == 0 {
        out.trim().to_string()
    } else {
        String::new()
    }
}

#[test]
fn pcs_starts_disables_and_respects_a_guest_shutdown() {
    system_install();
    let uri = system_libvirtd();
    let c = Cluster::up();
    let s = Scratch::new("cluster-vm");
    let agent = format!("ocf:{}:vm", provider());
    let pid = std::process::id();

    let d = Domain::new(&s.0, &format!("vma-cl1-{pid}"), Guest::Linux, uri);
    let cfg = format!("config={}", d.xml_str());
    c.pcs(&[
        "resource",
        "create",
        "vm1",
        &agent,
        &cfg,
        "op",
        "monitor",
        "interval=3s",
        "timeout=30s",
    ]);
    assert!(
        c.wait_role("vm1", "Started", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert_eq!(d.state(), "running");
    assert!(
        wait_for(Duration::from_secs(30), || d.console().contains("GUEST-UP")),
        "the guest booted: {}",
        d.console()
    );
    // A monitor under Pacemaker wrote the utilization (96 MiB, 1 vCPU).
    assert!(
        wait_for(Duration::from_secs(20), || {
            sh("crm_resource", &["-r", "vm1", "-z", "-g", "hv_memory"])
                .1
                .contains("96")
        }),
        "{}",
        sh("crm_resource", &["-r", "vm1", "-z", "-g", "hv_memory"]).1
    );
    assert!(
        sh("crm_resource", &["-r", "vm1", "-z", "-g", "cpu"])
            .1
            .contains('1')
    );
    assert!(
        sh("crm_resource", &["-r", "vm1", "-z", "-g", "host_memory"])
            .1
            .contains("96"),
        "autoset_utilization_host_memory is on by default, as in VirtualDomain"
    );
    // Written once, not on every monitor (VirtualDomain calls crm_resource
    // each time): three more monitors later, the agent's log still shows a
    // single write.
    std::thread::sleep(Duration::from_secs(10));
    let log = std::fs::read_to_string("/var/log/pacemaker/pacemaker.log").unwrap_or_default();
    let writes = log
        .lines()
        .filter(|l| l.contains(&d.name) && l.contains("utilization of vm1 set"))
        .count();
    assert_eq!(writes, 1, "utilization writes logged for {}", d.name);
    c.pcs(&["resource", "disable", "vm1"]);
    assert!(
        c.wait_role("vm1", "Stopped", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(!d.defined(), "stopped and undefined");
    c.pcs(&["resource", "delete", "vm1"]);

    // This guest powers itself off 12 s after boot, as an administrator
    // would from inside.
    let d2 = Domain::new(
        &s.0,
        &format!("vma-cl2-{pid}"),
        Guest::PowersOffAfter(12),
        uri,
    );
    let cfg2 = format!("config={}", d2.xml_str());
    // It also drops a cpu utilization set by hand (unset_utilization_cpu)
    // and overwrites a wrong host_memory.
    c.pcs(&[
        "resource",
        "create",
        "vm2",
        &agent,
        &cfg2,
        "respect_guest_shutdown=true",
        "autoset_utilization_cpu=false",
        "unset_utilization_cpu=true",
        "op",
        "monitor",
        "interval=3s",
        "timeout=30s",
        "--disabled",
    ]);
    c.pcs(&["resource", "utilization", "vm2", "cpu=4", "host_memory=1"]);
    assert_eq!(util("vm2", "cpu"), "4");
    c.pcs(&["resource", "enable", "vm2"]);
    assert!(
        c.wait_role("vm2", "Started", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(
        wait_for(Duration::from_secs(20), || util("vm2", "host_memory")
            .contains("96")),
        "host_memory: {}",
        util("vm2", "host_memory")
    );
    assert!(
        wait_for(Duration::from_secs(10), || !util("vm2", "cpu")
            .contains('4')),
        "unset_utilization_cpu removed it: {}",
        util("vm2", "cpu")
    );
    assert!(
        wait_for(Duration::from_secs(90), || meta("vm2", "target-role")
            .contains("Stopped")),
        "target-role was not set:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("vm2", "Stopped", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(
        d2.console().contains("GUEST-SELF-POWEROFF"),
        "{}",
        d2.console()
    );
    // It stays stopped: no restart after a few more monitor intervals.
    std::thread::sleep(Duration::from_secs(8));
    let r = c.resource("vm2").unwrap();
    assert_eq!(r.role, "Stopped", "{}", c.crm_mon());
    assert_ne!(d2.state(), "running");
    println!("{}", c.crm_mon());
    c.pcs(&["resource", "delete", "vm2"]);
}
