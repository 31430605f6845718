//! ClusterLabs' real ocf-tester against the installed pgsql and mysql
//! agents with the heartbeat agents' parameter names, each on a real server
//! in its own temporary data directory (PostgreSQL 56110, MariaDB 56170).

use support::database as db;

use db::{My, Pg};
use support::{ocf_tester, require};

fn tester(agent: &str, instance: &str, params: &[String]) {
    require("ocf-tester");
    let pairs: Vec<(&str, &str)> = params.iter().filter_map(|p| p.split_once('=')).collect();
    let (rc, out) = ocf_tester(agent, instance, &pairs, 60);
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!out.contains("rc=4"), "meta-data must validate:\n{out}");
}

#[test]
fn ocf_tester_passes_for_pgsql() {
    let pg = Pg::init("i16db-tester-pg", 56110);
    tester(
        "pgsql",
        "i16db-tester-pg",
        &[
            format!("pgdata={}", pg.data.display()),
            format!("pgport={}", pg.port),
            format!("socketdir={}", pg.sock.display()),
        ],
    );
    assert!(pg.processes().is_empty(), "the last stop left processes");
}

#[test]
fn ocf_tester_passes_for_mysql() {
    let my = My::init("i16db-tester-my", 56170);
    let run = my.pid.parent().unwrap();
    tester(
        "mysql",
        "i16db-tester-my",
        &[
            format!("config={}", my.cnf.display()),
            format!("datadir={}", my.data.display()),
            format!("pid={}", my.pid.display()),
            format!("socket={}", my.sock.display()),
            format!("log={}", run.join("error.log").display()),
        ],
    );
    assert!(my.processes().is_empty(), "the last stop left processes");
}
