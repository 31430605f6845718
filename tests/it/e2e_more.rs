//! Scenarios 3 to 6 of docs/cookbook.md on a real 2- or 3-node Corosync +
//! Pacemaker cluster (tests/harness/ns-cluster.sh). They take longer than
//! CI's budget allows, so they are #[ignore]d: `scripts/test-e2e.sh` runs
//! them (with scenarios 1 and 2). Each runs with the heartbeat agents and
//! with ours (skipped, with a message, while this binary lacks them).

use std::time::{Duration, Instant};

use support::guest;
use support::nscluster::{NsCluster, report};
use support::scenarios::{
    Agents, NIC, SPLIT_DIR, SPLIT_IP, farm, guest_shutdown, ordered_migration, split_network,
};
use support::wait_for;

// ---- 6. split network ------------------------------------------------------

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_minority_stops_with_heartbeat_agents() {
    split(&Agents::heartbeat(), false);
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_minority_stops_with_our_agents() {
    split(&Agents::rust(), false);
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_fenced_never_runs_twice_with_heartbeat_agents() {
    split(&Agents::heartbeat(), true);
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn split_network_fenced_never_runs_twice_with_our_agents() {
    split(&Agents::rust(), true);
}

/// What node `i` really runs, from the kernel's view (not Pacemaker's):
/// the shared filesystem mounted in its mount namespace, the floating IP on
/// its interface.
fn holds(c: &NsCluster, i: usize) -> (bool, bool) {
    let Some(pid) = c.try_pid(i) else {
        return (false, false); // powered off
    };
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap_or_default();
    let mounted = mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(SPLIT_DIR));
    let ns = format!("e2e-n{i}");
    let (_, addrs) = support::sh("ip", &["-n", &ns, "-o", "-4", "addr", "show", "dev", NIC]);
    let vip = addrs.contains(&format!(" {SPLIT_IP}/"));
    (mounted, vip)
}

/// Without fencing: the minority stops, the majority starts, the overlap
/// is measured. With fencing: the majority powers the lost node off first,
/// and no sample ever sees two copies.
/// The group runs on exactly one node, wholly.
fn exactly_once(c: &NsCluster) -> bool {
    let states: Vec<(bool, bool)> = (1..=3).map(|i| holds(c, i)).collect();
    states.iter().filter(|s| **s == (true, true)).count() == 1
        && states.iter().filter(|s| **s == (false, false)).count() == 2
}

fn split(a: &Agents, fenced: bool) {
    a.prepare("split-network", &["filesystem", "ipaddr"]);
    let label = if fenced {
        "split-network-fenced"
    } else {
        "split-network"
    };
    let c = NsCluster::up(3, false);
    c.harness(&["mkfs"]);
    let sc = split_network(a);
    let disk = c.disk.clone();
    if fenced {
        for cmd in sc.commands("fence", &[]) {
            c.pcs(1, &cmd);
        }
    }
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
    report(label, a.label, "partition-to-minority-stopped", stopped);
    report(label, a.label, "partition-to-majority-started", started);
    report(label, a.label, "both-sides-running", overlap);
    println!(
        "{label}: node{lone} stopped after {:.1} s, the majority started after {:.1} s, \
         most copies seen at once: {worst}, both ran for {:.2} s",
        stopped.as_secs_f64(),
        started.as_secs_f64(),
        overlap.as_secs_f64()
    );
    if fenced {
        assert_eq!(
            worst, 1,
            "with fencing the group never ran on two nodes at once"
        );
        assert!(
            c.try_pid(lone).is_none(),
            "the majority powered node{lone} off"
        );
        c.heal(lone);
        c.start(lone);
        std::thread::sleep(Duration::from_secs(5));
        assert!(
            exactly_once(&c),
            "after node{lone} is back the group runs once"
        );
        println!("fenced node back:\n{}", c.crm_mon(lone));
        return;
    }
    assert!(!c.has_quorum(lone), "node{lone} alone has no quorum");
    assert!(c.has_quorum(majority[0]), "the majority has quorum");
    println!(
        "minority:\n{}\nmajority:\n{}",
        c.crm_mon(lone),
        c.crm_mon(majority[0])
    );
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

// ---- shared by the VM scenarios ---------------------------------------------

/// A cluster with a libvirtd per node and a guest domain per name; returns
/// the placeholders (`config_<name>`) for the scenario's commands.
fn vm_cluster(nodes: usize, names: &[&str]) -> (NsCluster, Vec<(String, String)>) {
    guest::build_image();
    let c = NsCluster::up(nodes, true);
    let vars = names
        .iter()
        .map(|n| {
            let path = guest::domain(n, None);
            (format!("config_{n}"), path.to_string_lossy().into_owned())
        })
        .collect();
    (c, vars)
}

fn as_refs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Wait until every guest in `names` is Started on `node` and ticking.
fn wait_guests(c: &NsCluster, view: usize, names: &[&str], node: usize, limit: Duration) {
    for n in names {
        assert_eq!(
            c.wait_started(view, n, limit),
            Some(node),
            "{n} on node{node}:\n{}",
            c.crm_mon(view)
        );
    }
    for n in names {
        let boots = guest::console(n).boots.max(1);
        assert!(
            wait_for(limit, || {
                let con = guest::console(n);
                con.boots >= boots && con.ticks >= 2
            }),
            "{n} is not running: {:?}",
            guest::console(n)
        );
    }
}

/// The host PID of guest `name`'s qemu on node `i` (libvirt's pid file).
fn qemu_pid(c: &NsCluster, i: usize, name: &str) -> String {
    let (code, out) = c.exec(i, &["cat", &format!("/run/libvirt/qemu/{name}.pid")]);
    assert_eq!(code, 0, "no qemu pid file for {name} on node{i}: {out}");
    out.trim().to_string()
}

// ---- 5. the N+1 farm ----------------------------------------------------------

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn farm_guests_move_to_the_spare_and_stay_with_heartbeat_agents() {
    farm_run(&Agents::heartbeat());
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn farm_guests_move_to_the_spare_and_stay_with_our_agents() {
    farm_run(&Agents::rust());
}

fn farm_run(a: &Agents) {
    a.prepare("farm", &["vm"]);
    let names = ["farm1", "farm2", "farm3", "farm4"];
    let (c, vars) = vm_cluster(3, &names);
    for cmd in farm(a).commands("create", &as_refs(&vars)) {
        c.pcs(1, &cmd);
    }
    let limit = Duration::from_secs(180);
    wait_guests(&c, 1, &names[..2], 1, limit);
    wait_guests(&c, 1, &names[2..], 2, limit);
    println!("{}", c.crm_mon(3));
    let untouched: Vec<String> = names[2..].iter().map(|n| qemu_pid(&c, 2, n)).collect();

    // node1 dies: its guests boot on the spare.
    let t0 = Instant::now();
    c.kill(1);
    for n in &names[..2] {
        assert!(
            wait_for(limit, || guest::console(n).boots >= 2),
            "{n} did not come back:\n{}",
            c.crm_mon(3)
        );
    }
    let took = t0.elapsed();
    report("farm", a.label, "kill-to-guests-up-on-spare", took);
    wait_guests(&c, 3, &names[..2], 3, limit);
    let still: Vec<String> = names[2..].iter().map(|n| qemu_pid(&c, 2, n)).collect();
    assert_eq!(still, untouched, "node2's guests were not touched");
    println!(
        "after killing node1 ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(3)
    );

    // node1 returns: nothing fails back (stickiness INFINITY).
    c.start(1);
    let spare_pids: Vec<String> = names[..2].iter().map(|n| qemu_pid(&c, 3, n)).collect();
    std::thread::sleep(Duration::from_secs(15));
    for n in &names[..2] {
        assert_eq!(
            c.resource(1, n).and_then(|r| r.node),
            Some("node3".to_string()),
            "{n} stays on the spare:\n{}",
            c.crm_mon(1)
        );
        assert_eq!(guest::console(n).boots, 2, "{n} was not restarted");
    }
    let now: Vec<String> = names[..2].iter().map(|n| qemu_pid(&c, 3, n)).collect();
    assert_eq!(now, spare_pids, "the spare's guests kept running");
    println!("node1 back:\n{}", c.crm_mon(1));
}

// ---- 3. live migration with an ordered dependent ------------------------------

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn migrating_vm1_leaves_ordered_vm2_running_with_heartbeat_agents() {
    ordered(&Agents::heartbeat());
}

#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn migrating_vm1_leaves_ordered_vm2_running_with_our_agents() {
    ordered(&Agents::rust());
}

fn ordered(a: &Agents) {
    a.prepare("ordered-migration", &["vm"]);
    let (c, vars) = vm_cluster(2, &["vm1", "vm2"]);
    let sc = ordered_migration(a);
    for cmd in sc.commands("create", &as_refs(&vars)) {
        c.pcs(1, &cmd);
    }
    let limit = Duration::from_secs(180);
    wait_guests(&c, 1, &["vm1"], 1, limit);
    wait_guests(&c, 1, &["vm2"], 2, limit);
    let vm2_pid = qemu_pid(&c, 2, "vm2");

    // What Pacemaker will do: the move applied to a copy of the live CIB.
    let cib = "/tmp/e2e-move.xml"; // the node's private /tmp
    let (code, xml) = c.exec(1, &["cibadmin", "-Q"]);
    assert_eq!(code, 0, "{xml}");
    std::fs::write(format!("/proc/{}/root{cib}", c.pid(1)), xml).unwrap();
    let cib_env = format!("CIB_file={cib}");
    let (code, out) = c.exec(
        1,
        &[
            "env",
            &cib_env,
            "crm_resource",
            "--move",
            "-r",
            "vm1",
            "-N",
            "node2",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, sim) = c.exec(1, &["crm_simulate", "-x", cib, "-S"]);
    assert_eq!(code, 0, "{sim}");
    // "Transition Summary" and "Executing Cluster Transition", not the
    // cluster status around them.
    let from = sim.find("Transition Summary").unwrap_or(0);
    let to = sim.find("Revised Cluster Status").unwrap_or(sim.len());
    let summary = &sim[from..to];
    println!("crm_simulate on the live CIB with the move applied:\n{sim}");
    assert!(
        summary
            .lines()
            .any(|l| l.contains("Migrate") && l.contains("vm1")),
        "vm1 is migrated:\n{summary}"
    );
    assert!(
        !summary.lines().any(|l| l.contains("vm2")),
        "no action on vm2:\n{summary}"
    );

    // What really happens.
    let t0 = Instant::now();
    for cmd in sc.commands("move", &[]) {
        c.pcs(1, &cmd);
    }
    assert_eq!(c.wait_started(1, "vm1", limit), Some(2), "{}", c.crm_mon(1));
    report("ordered-migration", a.label, "live-migration", t0.elapsed());
    assert_eq!(guest::console("vm1").boots, 1, "vm1 migrated live");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        qemu_pid(&c, 2, "vm2"),
        vm2_pid,
        "vm2's qemu is the same process"
    );
    assert_eq!(guest::console("vm2").boots, 1, "vm2 never restarted");
    assert_eq!(
        c.resource(1, "vm2").and_then(|r| r.node),
        Some("node2".into())
    );
    println!("after the move:\n{}", c.crm_mon(1));
}

// ---- 4. the guest shut down from inside (ours only) ---------------------------

/// VirtualDomain has no respect_guest_shutdown: this scenario exists only
/// with our vm agent.
#[test]
#[ignore = "multi-node scenario: scripts/test-e2e.sh"]
fn guest_shutdown_is_respected_only_when_asked_with_our_agents() {
    let a = Agents::rust();
    a.prepare("guest-shutdown", &["vm"]);
    let names = ["vm-respect", "vm-restart"];
    let (c, vars) = vm_cluster(2, &names);
    for cmd in guest_shutdown(&a).commands("create", &as_refs(&vars)) {
        c.pcs(1, &cmd);
    }
    let limit = Duration::from_secs(180);
    let mut at = Vec::new();
    for n in names {
        let node = c
            .wait_started(1, n, limit)
            .unwrap_or_else(|| panic!("{n} did not start:\n{}", c.crm_mon(1)));
        wait_guests(&c, 1, &[n], node, limit);
        at.push(node);
    }
    // The guests power themselves off (their init answers the ACPI power
    // button): nothing in the cluster asked for it.
    for (n, node) in names.iter().zip(&at) {
        let (code, out) = c.exec(*node, &["virsh", "-c", "qemu:///system", "shutdown", n]);
        assert_eq!(code, 0, "{out}");
    }
    assert!(
        wait_for(limit, || guest::console("vm-restart").boots >= 2),
        "without respect_guest_shutdown the cluster starts the guest again:\n{}",
        c.crm_mon(1)
    );
    assert!(
        wait_for(limit, || c
            .resource(1, "vm-respect")
            .is_some_and(|r| r.role == "Stopped")),
        "with respect_guest_shutdown the guest stays stopped:\n{}",
        c.crm_mon(1)
    );
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(
        guest::console("vm-respect").boots,
        1,
        "vm-respect was not started again"
    );
    let (_, cfg) = c.exec(1, &["pcs", "resource", "config", "vm-respect"]);
    assert!(cfg.contains("target-role=Stopped"), "{cfg}");
    println!("{}", c.crm_mon(1));
}
