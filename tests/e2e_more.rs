//! Scenarios 3 to 6 of docs/cookbook.md on a real 2- or 3-node Corosync +
//! Pacemaker cluster (tests/harness/ns-cluster.sh). They take longer than
//! CI's budget allows, so they are #[ignore]d: `scripts/test-e2e.sh` runs
//! them (with scenarios 1 and 2). Each runs with the heartbeat agents and
//! with ours (skipped, with a message, while this binary lacks them).

mod common;

use std::time::{Duration, Instant};

use common::nscluster::{NsCluster, report};
use common::scenarios::{Agents, NIC, SPLIT_DIR, SPLIT_IP, split_network};
use common::wait_for;

// ---- 6. split network ------------------------------------------------------

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_minority_stops_with_heartbeat_agents() {
    split(&Agents::heartbeat());
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_minority_stops_with_our_agents() {
    split(&Agents::rust());
}

/// What node `i` really runs, from the kernel's view (not Pacemaker's):
/// the shared filesystem mounted in its mount namespace, the floating IP on
/// its interface.
fn holds(c: &NsCluster, i: usize) -> (bool, bool) {
    let mounts = std::fs::read_to_string(format!("/proc/{}/mounts", c.pid(i))).unwrap_or_default();
    let mounted = mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(SPLIT_DIR));
    let ns = format!("e2e-n{i}");
    let (_, addrs) = common::sh("ip", &["-n", &ns, "-o", "-4", "addr", "show", "dev", NIC]);
    let vip = addrs.contains(&format!(" {SPLIT_IP}/"));
    (mounted, vip)
}

fn split(a: &Agents) {
    if a.skip("split-network", &["filesystem", "ipaddr"]) {
        return;
    }
    let c = NsCluster::up(3, false);
    c.harness(&["mkfs"]);
    let sc = split_network(a);
    let disk = c.disk.clone();
    for cmd in sc.commands("create", &[("disk", &disk)]) {
        c.pcs(1, &cmd);
    }
    let lone = c
        .wait_started(1, "split-ip", Duration::from_secs(90))
        .unwrap_or_else(|| panic!("the group did not start:\n{}", c.crm_mon(1)));
    assert_eq!(holds(&c, lone), (true, true), "node{lone} runs the group");
    let majority: Vec<usize> = (1..=3).filter(|&i| i != lone).collect();
    println!("{}", c.crm_mon(lone));

    // Cut the node that runs the group off the network.
    let t0 = Instant::now();
    c.partition(lone);
    let mut minority_stopped = None;
    let mut majority_started = None;
    let mut overlap = Duration::ZERO;
    let mut worst = 0;
    let mut last = Instant::now();
    let end = t0 + Duration::from_secs(120);
    while Instant::now() < end && (minority_stopped.is_none() || majority_started.is_none()) {
        let states: Vec<(bool, bool)> = (1..=3).map(|i| holds(&c, i)).collect();
        let copies = states.iter().filter(|(m, v)| *m || *v).count();
        worst = worst.max(copies);
        if copies > 1 {
            overlap += last.elapsed();
        }
        last = Instant::now();
        if minority_stopped.is_none() && states[lone - 1] == (false, false) {
            minority_stopped = Some(t0.elapsed());
        }
        if majority_started.is_none() && majority.iter().any(|&i| states[i - 1] == (true, true)) {
            majority_started = Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped = minority_stopped.unwrap_or_else(|| {
        panic!(
            "node{lone} kept the group without quorum:\n{}",
            c.crm_mon(lone)
        )
    });
    let started = majority_started.unwrap_or_else(|| {
        panic!(
            "the majority did not take over:\n{}",
            c.crm_mon(majority[0])
        )
    });
    report(
        "split-network",
        a.label,
        "partition-to-minority-stopped",
        stopped,
    );
    report(
        "split-network",
        a.label,
        "partition-to-majority-started",
        started,
    );
    report("split-network", a.label, "both-sides-running", overlap);
    println!(
        "split: node{lone} stopped after {:.1} s, the majority started after {:.1} s, \
         most copies seen at once: {worst}, both ran for {:.2} s (no fencing here)",
        stopped.as_secs_f64(),
        started.as_secs_f64(),
        overlap.as_secs_f64()
    );
    assert!(!c.has_quorum(lone), "node{lone} alone has no quorum");
    assert!(c.has_quorum(majority[0]), "the majority has quorum");
    println!(
        "minority:\n{}\nmajority:\n{}",
        c.crm_mon(lone),
        c.crm_mon(majority[0])
    );
    let exactly_once = |c: &NsCluster| {
        let states: Vec<(bool, bool)> = (1..=3).map(|i| holds(c, i)).collect();
        states.iter().filter(|s| **s == (true, true)).count() == 1
            && states.iter().filter(|s| **s == (false, false)).count() == 2
    };
    assert!(
        exactly_once(&c),
        "after the split the group runs exactly once"
    );
    let runs_on = c.wait_started(majority[0], "split-fs", Duration::from_secs(30));
    assert!(
        runs_on.is_some_and(|n| majority.contains(&n)),
        "{}",
        c.crm_mon(majority[0])
    );

    // Heal: the node rejoins; the group stays where it is and runs once.
    c.heal(lone);
    let name = format!("node{lone}");
    assert!(
        wait_for(Duration::from_secs(90), || c
            .online(majority[0])
            .contains(&name)),
        "node{lone} did not rejoin:\n{}",
        c.crm_mon(majority[0])
    );
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(10) {
        assert!(
            exactly_once(&c),
            "after the heal the group runs exactly once:\n{}",
            c.crm_mon(lone)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        c.wait_started(lone, "split-ip", Duration::from_secs(30)),
        runs_on
    );
    println!("healed:\n{}", c.crm_mon(lone));
}
