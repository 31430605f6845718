//! Scenario 2 of docs/cookbook.md on a real two-node Corosync + Pacemaker
//! cluster with a libvirtd per node (tests/harness/ns-cluster.sh): a QEMU
//! (TCG) guest whose disk is the shared disk. `pcs resource move` with
//! allow-migrate=true live-migrates it: its console shows one boot and an
//! uptime that goes on. Killing its node starts it again on the survivor.
//! Both are timed. Runs with the heartbeat agent (VirtualDomain) and with
//! ours (skipped, with a message, while this binary lacks it).

use std::time::{Duration, Instant};

use support::guest;
use support::nscluster::{NsCluster, report};
use support::scenarios::{Agents, ha_vm};
use support::wait_for;

#[test]
fn vm_migrates_live_and_fails_over_with_heartbeat_agents() {
    run(&Agents::heartbeat());
}

#[test]
fn vm_migrates_live_and_fails_over_with_our_agents() {
    run(&Agents::rust());
}

/// libvirt's view of the guest on node `i` ("running", or the error).
fn domstate(c: &NsCluster, i: usize, name: &str) -> String {
    let (_, out) = c.exec(i, &["virsh", "-c", "qemu:///system", "domstate", name]);
    out.trim().to_string()
}

fn run(a: &Agents) {
    a.prepare("ha-vm", &["vm"]);
    guest::build_image();
    let c = NsCluster::up(2, true);
    let config = guest::domain("vm1", Some(&c.disk));
    let config = config.to_str().unwrap();
    let sc = ha_vm(a);
    for cmd in sc.commands("create", &[("config", config)]) {
        c.pcs(1, &cmd);
    }
    let home = c
        .wait_started(1, "vm1", Duration::from_secs(120))
        .unwrap_or_else(|| panic!("vm1 did not start:\n{}", c.crm_mon(1)));
    assert!(
        wait_for(Duration::from_secs(60), || guest::console("vm1").ticks >= 3),
        "the guest did not boot: {:?}",
        guest::console("vm1")
    );
    assert_eq!(domstate(&c, home, "vm1"), "running");
    let (_, disks) = c.exec(
        home,
        &["virsh", "-c", "qemu:///system", "domblklist", "vm1"],
    );
    assert!(
        disks.contains(&c.disk),
        "the guest's disk is the shared disk:\n{disks}"
    );

    // Live migration: the same guest goes on running on the other node.
    let target = 3 - home;
    let before = guest::console("vm1");
    let t0 = Instant::now();
    for cmd in sc.commands("move", &[("target", &format!("node{target}"))]) {
        c.pcs(home, &cmd);
    }
    assert_eq!(
        c.wait_started(target, "vm1", Duration::from_secs(120)),
        Some(target),
        "{}",
        c.crm_mon(target)
    );
    let took = t0.elapsed();
    report("ha-vm", a.label, "live-migration", took);
    assert_eq!(domstate(&c, target, "vm1"), "running");
    assert!(
        !domstate(&c, home, "vm1").contains("running"),
        "the guest left node{home}"
    );
    assert!(
        wait_for(Duration::from_secs(30), || guest::console("vm1").ticks
            >= before.ticks + 3),
        "the guest stopped ticking after the migration: {:?}",
        guest::console("vm1")
    );
    let after = guest::console("vm1");
    assert_eq!(after.boots, 1, "a live migration does not reboot the guest");
    assert!(
        after.uptime > before.uptime,
        "uptime went on: {before:?} -> {after:?}"
    );
    let mon = c.crm_mon(target);
    println!(
        "after the move ({:.1} s, guest uptime {} -> {} s):\n{mon}",
        took.as_secs_f64(),
        before.uptime,
        after.uptime
    );
    assert!(
        mon.contains("migrate_from"),
        "Pacemaker migrated (not stop/start):\n{mon}"
    );

    // Kill the guest's node: the guest boots again on the survivor.
    let t0 = Instant::now();
    c.kill(target);
    assert!(
        wait_for(Duration::from_secs(180), || guest::console("vm1").boots
            >= 2),
        "the guest did not come back:\n{}",
        c.crm_mon(home)
    );
    let took = t0.elapsed();
    report("ha-vm", a.label, "kill-to-guest-up", took);
    assert_eq!(
        c.wait_started(home, "vm1", Duration::from_secs(60)),
        Some(home),
        "{}",
        c.crm_mon(home)
    );
    assert_eq!(domstate(&c, home, "vm1"), "running");
    println!(
        "after killing node{target} ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(home)
    );
}
