//! ClusterLabs' real ocf-tester against the installed database agent, for
//! both engines, each on a real server in its own temporary data directory
//! (PostgreSQL port 55610, MariaDB 33610).

use support::database as db;

use db::{My, Pg, kv};
use support::{ocf_tester, require};

fn tester(instance: &str, params: &[(&'static str, String)]) {
    require("ocf-tester");
    let (rc, out) = ocf_tester("database", instance, &kv(params), 60);
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!out.contains("rc=4"), "meta-data must validate:\n{out}");
}

#[test]
fn ocf_tester_passes_for_postgresql() {
    let pg = Pg::init("tester-pg", 55610);
    tester("tester-pg", &pg.params());
    assert!(
        pg.processes().is_empty(),
        "ocf-tester's last stop left processes"
    );
}

#[test]
fn ocf_tester_passes_for_mysql() {
    let my = My::init("tester-my", 33610);
    tester("tester-my", &my.params());
    assert!(
        my.processes().is_empty(),
        "ocf-tester's last stop left processes"
    );
}
