//! Scenario 7 of docs/cookbook.md, the DRBD variant, on a real two-node
//! Corosync + Pacemaker cluster (tests/harness/ns-cluster.sh) against the
//! DRBD SIMULATOR (tests/sim/drbd-simulator): the kernel here has no DRBD module, so
//! drbdadm/drbdsetup are the simulator's (one path on every node; it acts
//! for the node named like the calling host), while Pacemaker, pcs and
//! crm_attribute are the real ones: the promotion scores our agent writes
//! are what Pacemaker promotes on. The simulator has no data path, so the
//! filesystem sits on the shared disk.
//!
//! Kill the Primary's node (its kernel's DRBD state goes with it: the
//! simulator's `crash`): the survivor is promoted and the group follows;
//! the time until the floating IP answers a ping is measured. The killed
//! node returns as a resync target with the lowest promotion score, and
//! gets the full one when the resync ends. Standby then moves everything back on purpose.

use support::drbd as drbd_sim;

use std::path::Path;
use std::time::{Duration, Instant};

use drbd_sim::Sim;
use support::nscluster::{NsCluster, report};
use support::scenarios::{Agents, DRBD_DIR, DRBD_IP, drbd_stack};
use support::wait_for;

/// Visible to every node (their /tmp and /run are their own).
const SIM_DIR: &str = "/var/tmp/e2e-drbd-sim";

fn other(node: usize) -> usize {
    3 - node
}

/// The one node where `r0` is promoted, as node `i` sees it.
fn promoted(c: &NsCluster, i: usize) -> Option<usize> {
    match c.nodes_in_role(i, "r0", "Promoted")[..] {
        [n] => Some(n),
        _ => None,
    }
}

/// Node `n`'s promotion score for r0, as node `i`'s CIB has it.
fn score(c: &NsCluster, i: usize, n: usize) -> Option<i64> {
    let node = format!("node{n}");
    let (code, out) = c.exec(
        i,
        &[
            "crm_attribute",
            "--promotion=r0",
            "--lifetime=reboot",
            "--node",
            &node,
            "--query",
            "--quiet",
        ],
    );
    if code != 0 {
        return None;
    }
    out.trim().parse().ok()
}

/// sha256 of the file the test wrote, read on node `i`.
fn data_sum(c: &NsCluster, i: usize) -> String {
    let file = format!("{DRBD_DIR}/data");
    let (code, out) = c.exec(i, &["sha256sum", &file]);
    assert_eq!(code, 0, "node{i}: {out}");
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Wait until the group runs on node `n` and the floating IP answers a
/// client's ping; the time since `t0`.
fn service_on(c: &NsCluster, n: usize, t0: Instant) -> Duration {
    let on_n = Some(format!("node{n}"));
    for id in ["drbd-fs", "drbd-ip"] {
        // Until the cluster notices a killed node, it still lists the group there.
        assert!(
            wait_for(Duration::from_secs(120), || c.resource(n, id).is_some_and(
                |r| r.role == "Started" && !r.failed && r.node == on_n
            )),
            "{id} runs on node{n}:\n{}",
            c.crm_mon(n)
        );
    }
    let ping = ["ping", "-c1", "-W1", DRBD_IP];
    c.first_client_success(&ping, t0, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{DRBD_IP} does not answer:\n{}", c.crm_mon(n)))
        .0
}

#[test]
fn drbd_stack_fails_over_on_the_drbd_simulator() {
    let a = Agents::rust();
    a.prepare("drbd-stack", &["drbd", "filesystem", "ipaddr"]);
    // Dropped after the cluster (declared first): the nodes go before their tools.
    let sim = Sim::new_in(Path::new(SIM_DIR), &["node1", "node2"], &["--by-hostname"]);
    let c = NsCluster::up(2, false);
    c.harness(&["mkfs"]);
    let sc = drbd_stack(&a);
    let disk = c.disk.clone();
    let conf = sim.conf.to_str().unwrap().to_string();
    let tools = format!("{SIM_DIR}/by-hostname/bin");
    let drbdadm = format!("{tools}/drbdadm");
    let drbdsetup = format!("{tools}/drbdsetup");
    let vars = [
        ("disk", disk.as_str()),
        ("drbdconf", conf.as_str()),
        ("drbdadm", drbdadm.as_str()),
        ("drbdsetup", drbdsetup.as_str()),
    ];
    for cmd in sc.commands("create", &vars) {
        c.pcs(1, &cmd);
    }
    let t0 = Instant::now();
    let mut primary = None;
    assert!(
        wait_for(Duration::from_secs(120), || {
            primary = promoted(&c, 1);
            primary.is_some()
        }),
        "r0 was not promoted:\n{}\n{}",
        c.crm_mon(1),
        sim.calls("node1")
    );
    let primary = primary.unwrap();
    let secondary = other(primary);
    let took = service_on(&c, primary, t0);
    println!(
        "promoted on node{primary}, service up {:.1} s after the create:\n{}",
        took.as_secs_f64(),
        c.crm_mon(1)
    );
    let p = format!("node{primary}");
    let s = format!("node{secondary}");
    assert!(
        sim.show(&p).contains("\"role\": \"Primary\""),
        "{}",
        sim.show(&p)
    );
    assert!(
        sim.show(&s).contains("\"role\": \"Secondary\""),
        "{}",
        sim.show(&s)
    );
    assert_eq!(
        c.nodes_in_role(1, "r0", "Unpromoted"),
        vec![secondary],
        "the peer runs r0 unpromoted:\n{}",
        c.crm_mon(1)
    );
    // The agent on each node acted for its own node: the Primary was
    // promoted by its own `drbdadm primary`, the peer never was.
    assert!(sim.calls(&p).contains("primary r0"), "{}", sim.calls(&p));
    assert!(!sim.calls(&s).contains("primary r0"), "{}", sim.calls(&s));
    assert!(
        score(&c, 1, secondary).is_some_and(|v| v > 0),
        "the UpToDate peer may be promoted"
    );

    // Data on the filesystem the group mounted, flushed to the disk.
    let file = format!("{DRBD_DIR}/data");
    let (code, out) = c.exec(primary, &["cp", "/usr/share/common-licenses/GPL-2", &file]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = c.exec(primary, &["sync", &file]);
    assert_eq!(code, 0, "{out}");
    let written = data_sum(&c, primary);

    // Kill the Primary's node; its DRBD state dies with its kernel.
    let t0 = Instant::now();
    c.kill(primary);
    sim.ctl(&["crash", sim.node(&p).to_str().unwrap()]);
    let took = service_on(&c, secondary, t0);
    report("drbd-stack", a.label, "kill-to-ping", took);
    assert_eq!(
        promoted(&c, secondary),
        Some(secondary),
        "{}",
        c.crm_mon(secondary)
    );
    assert!(
        sim.show(&s).contains("\"role\": \"Primary\""),
        "{}",
        sim.show(&s)
    );
    println!(
        "after killing node{primary} ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(secondary)
    );
    assert_eq!(
        data_sum(&c, secondary),
        written,
        "the data survived the kill"
    );

    // The killed node returns: its data is older than the survivor's, so it
    // is a resync target and runs r0 unpromoted, with linbit's score for
    // "only remote access to UpToDate data" (10), far below the Primary's.
    c.start(primary);
    assert!(
        wait_for(Duration::from_secs(90), || c.nodes_in_role(
            secondary,
            "r0",
            "Unpromoted"
        ) == vec![primary]),
        "r0 did not start on the returning node{primary}:\n{}",
        c.crm_mon(secondary)
    );
    let back = sim.show(&p);
    assert!(
        back.contains("\"Inconsistent\"") && back.contains(&format!("\"sync_from\": \"{s}\"")),
        "node{primary} resyncs from node{secondary}: {back}"
    );
    assert!(
        wait_for(Duration::from_secs(40), || score(&c, secondary, primary)
            == Some(10)),
        "a resync target's score is 10: {:?}",
        score(&c, secondary, primary)
    );
    assert_eq!(score(&c, secondary, secondary), Some(10000));
    assert_eq!(promoted(&c, secondary), Some(secondary), "the stack stays");

    // The resync ends: the next monitor raises the node's score.
    sim.cluster("sync");
    assert!(
        wait_for(Duration::from_secs(40), || score(&c, secondary, primary)
            == Some(10000)),
        "UpToDate again: {:?}\n{}",
        score(&c, secondary, primary),
        sim.show(&p)
    );

    // Planned switchover: standby the Primary's node.
    let node = format!("node{secondary}");
    let t0 = Instant::now();
    for cmd in sc.commands("standby", &[("node", &node)]) {
        c.pcs(secondary, &cmd);
    }
    let took = service_on(&c, primary, t0);
    report("drbd-stack", a.label, "standby-switchover", took);
    assert_eq!(
        promoted(&c, primary),
        Some(primary),
        "{}",
        c.crm_mon(primary)
    );
    assert!(
        wait_for(Duration::from_secs(30), || sim
            .show(&s)
            .contains("\"up\": false")),
        "r0 is stopped on the standby node: {}",
        sim.show(&s)
    );
    assert!(
        sim.calls(&s).contains("secondary r0"),
        "demoted before the stop"
    );
    assert!(
        sim.show(&p).contains("\"role\": \"Primary\""),
        "{}",
        sim.show(&p)
    );
    println!(
        "after standby of {node} ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(primary)
    );
    assert_eq!(
        data_sum(&c, primary),
        written,
        "the data survived the switchover"
    );
    for cmd in sc.commands("unstandby", &[("node", &node)]) {
        c.pcs(primary, &cmd);
    }
}
