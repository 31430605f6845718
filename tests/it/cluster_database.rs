//! ocf:rust:database in a real one-node Corosync + Pacemaker cluster, driven
//! by pcs as a user would: a PostgreSQL server (port 55620, its own
//! temporary data directory) is created and Started, answers queries, is
//! killed with SIGKILL behind the cluster's back, and Pacemaker notices
//! (monitor 7), records the failure and starts it again with its data.

use support::database as db;

use std::time::Duration;

use db::Pg;
use support::cluster::Cluster;
use support::{provider, system_install, wait_for};

#[test]
fn pacemaker_restarts_postgresql_after_kill_9() {
    system_install();
    let pg = Pg::init("cluster-pg", 55620);
    let c = Cluster::up();
    let mut args: Vec<String> = vec![
        "resource".into(),
        "create".into(),
        "db".into(),
        format!("ocf:{}:database", provider()),
    ];
    args.extend(pg.params().into_iter().map(|(k, v)| format!("{k}={v}")));
    args.extend(
        ["op", "monitor", "interval=2s", "timeout=10s"]
            .iter()
            .map(|s| s.to_string()),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    c.pcs(&argv);
    assert!(
        c.wait_role("db", "Started", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    pg.psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')")
        .unwrap();
    let first = pg.postmaster_pid().unwrap();
    println!("{}", c.crm_mon());

    db::kill(first, libc::SIGKILL);
    assert!(
        wait_for(Duration::from_secs(60), || c.fail_count("db") == 1
            && pg.postmaster_pid().is_some_and(|p| p != first)
            && pg.psql("SELECT v FROM kept").as_deref() == Ok("survives")),
        "no recovery:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("db", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    let mon = c.crm_mon();
    println!("{mon}");
    assert!(
        mon.contains("not running"),
        "the failed monitor is shown:\n{mon}"
    );

    c.pcs(&["resource", "disable", "db"]);
    assert!(
        c.wait_role("db", "Stopped", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(pg.processes().is_empty(), "stop left server processes");
    c.pcs(&["resource", "delete", "db"]);
}
