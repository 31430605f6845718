//! Scenario 1 of docs/cookbook.md on a real two-node Corosync + Pacemaker
//! cluster (tests/harness/ns-cluster.sh): filesystem on the shared disk ->
//! floating IP -> PostgreSQL, one group. Kill the active node (its whole PID
//! namespace): the time until a client in another namespace gets `SELECT 1`
//! at the floating IP from the survivor. Standby: the planned switchover.
//! Checksummed rows written before each failover are all there after it.
//! Runs with the heartbeat agents and with ours (skipped, with a message,
//! while this binary lacks them).

use std::time::{Duration, Instant};

use support::nscluster::{NsCluster, report};
use support::scenarios::{Agents, STACK_DIR, STACK_IP, service_stack};

const NEEDS: &[&str] = &["filesystem", "ipaddr", "database"];

#[test]
fn service_stack_fails_over_with_heartbeat_agents() {
    run(&Agents::heartbeat());
}

#[test]
fn service_stack_fails_over_with_our_agents() {
    run(&Agents::rust());
}

/// libpq connection string for the floating IP.
fn conninfo() -> String {
    format!("host={STACK_IP} port=5432 user=postgres dbname=postgres connect_timeout=1")
}

fn psql(c: &NsCluster, sql: &str) -> String {
    let ci = conninfo();
    let (code, out) = c.client(&["psql", &ci, "-XAtc", sql]);
    assert_eq!(code, 0, "psql {sql}: {out}");
    out.trim().to_string()
}

/// Write 500 rows, each with the md5 of its payload; return the checksum of
/// the whole table (row count, bad rows, md5 over every row's md5 in order).
fn write_rows(c: &NsCluster, round: u32) -> String {
    psql(
        c,
        "CREATE TABLE IF NOT EXISTS e2e_rows (id serial PRIMARY KEY, payload text NOT NULL, sum text NOT NULL)",
    );
    psql(
        c,
        &format!(
            "INSERT INTO e2e_rows (payload, sum) SELECT p, md5(p) FROM \
             (SELECT 'round {round} row ' || g || ' ' || repeat('x', g % 97) AS p FROM generate_series(1, 500) g) s"
        ),
    );
    checksum(c)
}

fn checksum(c: &NsCluster) -> String {
    psql(
        c,
        "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE md5(payload) <> sum) || ' bad, ' || \
         md5(string_agg(sum, ',' ORDER BY id)) FROM e2e_rows",
    )
}

fn other(node: usize) -> usize {
    3 - node
}

fn run(a: &Agents) {
    a.prepare("service-stack", NEEDS);
    let c = NsCluster::up(2, false);
    c.harness(&["prep-pg", STACK_DIR]);
    let sc = service_stack(a);
    let disk = c.disk.clone();
    for cmd in sc.commands("create", &[("disk", &disk)]) {
        c.pcs(1, &cmd);
    }
    let active = c
        .wait_started(1, "stack-db", Duration::from_secs(120))
        .unwrap_or_else(|| panic!("the stack did not start:\n{}", c.crm_mon(1)));
    for id in ["stack-fs", "stack-ip"] {
        assert_eq!(
            c.resource(1, id).and_then(|r| r.node),
            Some(format!("node{active}")),
            "the group keeps {id} with the database:\n{}",
            c.crm_mon(1)
        );
    }
    println!("{}", c.crm_mon(1));
    let ci = conninfo();
    let select1 = ["psql", ci.as_str(), "-XAtc", "SELECT 1"];
    c.first_client_success(&select1, Instant::now(), Duration::from_secs(30))
        .expect("the client reaches the database at the floating IP");
    let before_kill = write_rows(&c, 1);
    assert!(before_kill.starts_with("500 rows, 0 bad"), "{before_kill}");

    // Kill the active node: every process of it dies at once.
    let survivor = other(active);
    let t0 = Instant::now();
    c.kill(active);
    let (took, out) = c
        .first_client_success(&select1, t0, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("no answer after the kill:\n{}", c.crm_mon(survivor)));
    assert_eq!(out.trim(), "1");
    report("service-stack", a.label, "kill-to-select1", took);
    // The client may get its answer before the agent's start returned.
    for id in ["stack-fs", "stack-ip", "stack-db"] {
        assert_eq!(
            c.wait_started(survivor, id, Duration::from_secs(60)),
            Some(survivor),
            "{id} runs on the survivor:\n{}",
            c.crm_mon(survivor)
        );
    }
    println!(
        "after killing node{active} ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(survivor)
    );
    assert_eq!(checksum(&c), before_kill, "every row survived the kill");

    // The killed node comes back; stickiness keeps the stack where it is.
    c.start(active);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        c.wait_started(survivor, "stack-db", Duration::from_secs(60)),
        Some(survivor),
        "the stack stays on node{survivor} when node{active} returns:\n{}",
        c.crm_mon(survivor)
    );

    // Planned switchover: standby the node that runs the stack.
    let before_standby = write_rows(&c, 2);
    assert!(
        before_standby.starts_with("1000 rows, 0 bad"),
        "{before_standby}"
    );
    let started_at = psql(&c, "SELECT pg_postmaster_start_time()");
    let node = format!("node{survivor}");
    let t0 = Instant::now();
    for cmd in sc.commands("standby", &[("node", &node)]) {
        c.pcs(survivor, &cmd);
    }
    // An answer from the database on the other node: a new postmaster.
    let probe = [
        "psql",
        ci.as_str(),
        "-XAtc",
        "SELECT pg_postmaster_start_time()",
    ];
    let mut took = None;
    let end = Instant::now() + Duration::from_secs(120);
    while took.is_none() && Instant::now() < end {
        if let Some((t, out)) = c.first_client_success(&probe, t0, Duration::from_secs(10))
            && out.trim() != started_at
        {
            took = Some(t);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = took.unwrap_or_else(|| panic!("no switchover:\n{}", c.crm_mon(active)));
    report("service-stack", a.label, "standby-switchover", took);
    assert_eq!(
        c.wait_started(active, "stack-db", Duration::from_secs(60)),
        Some(active),
        "{}",
        c.crm_mon(active)
    );
    println!(
        "after standby of {node} ({:.1} s):\n{}",
        took.as_secs_f64(),
        c.crm_mon(active)
    );
    assert_eq!(
        checksum(&c),
        before_standby,
        "every row survived the switchover"
    );
    for cmd in sc.commands("unstandby", &[("node", &node)]) {
        c.pcs(active, &cmd);
    }
}
