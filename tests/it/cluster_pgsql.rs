//! The switch "change the provider, keep the parameters" in a real one-node
//! Corosync + Pacemaker cluster: an `ocf:heartbeat:pgsql` (or `mysql`)
//! resource created with pcs runs; only the primitive's provider and type
//! are changed in the CIB (cibadmin --modify); the server keeps running
//! (same main PID, never restarted) and monitors 0 under ocf:<ours>:pgsql.
//!
//! Pacemaker restarts a resource whose agent changes (the old agent's
//! history no longer describes it), so the change is made the way an admin
//! avoids that (docs/agents/pgsql.md): the resource is unmanaged around the
//! change, refreshed (a probe by the new agent, which finds the server
//! running), then managed again.

use support::database as db;

use std::time::Duration;

use support::cluster::Cluster;
use support::{provider, sh, system_install, wait_for};

/// Switch `id` to ocf:<ours>:<agent> without a restart.
fn switch(c: &Cluster, id: &str, agent: &str) {
    c.pcs(&["resource", "unmanage", id]);
    let xml = format!(
        "<primitive id=\"{id}\" class=\"ocf\" provider=\"{}\" type=\"{agent}\"/>",
        provider()
    );
    let (code, out) = sh(
        "cibadmin",
        &["--modify", "--scope", "resources", "--xml-text", &xml],
    );
    assert_eq!(code, 0, "cibadmin: {out}");
    let (code, out) = sh("crm_resource", &["--refresh", "--resource", id]);
    assert_eq!(code, 0, "crm_resource --refresh: {out}");
    // The probe by the new agent has been recorded when the resource shows
    // as running again.
    assert!(
        wait_for(Duration::from_secs(30), || c
            .resource(id)
            .is_some_and(|r| r.active)),
        "{}",
        c.crm_mon()
    );
    c.pcs(&["resource", "manage", id]);
}

/// The agent in the primitive, as the CIB says now.
fn agent_of(id: &str) -> String {
    sh("crm_resource", &["--resource", id, "--query-xml"]).1
}

/// Monitors of the new agent answered 0: Started, no failure, for a while.
fn keeps_running(c: &Cluster, id: &str, pid: impl Fn() -> Option<i32>, first: i32) {
    for _ in 0..8 {
        std::thread::sleep(Duration::from_secs(2));
        let r = c.resource(id).unwrap();
        assert!(
            r.role == "Started" && !r.failed && c.fail_count(id) == 0,
            "{}",
            c.crm_mon()
        );
        assert_eq!(
            pid(),
            Some(first),
            "the server was restarted:\n{}",
            c.crm_mon()
        );
    }
}

#[test]
fn heartbeat_pgsql_switches_to_ours_without_a_restart() {
    system_install();
    let pg = db::Pg::init("i16db-cl-pg", 56120);
    let c = Cluster::up();
    let bin = db::pg_bin();
    let params = [
        format!("pgctl={}", bin.join("pg_ctl").display()),
        format!("psql={}", bin.join("psql").display()),
        format!("pgdata={}", pg.data.display()),
        format!("pgport={}", pg.port),
        format!("socketdir={}", pg.sock.display()),
        format!("logfile={}", pg.dir.path("server.log").display()),
    ];
    let mut args = vec!["resource", "create", "hbpg", "ocf:heartbeat:pgsql"];
    args.extend(params.iter().map(String::as_str));
    args.extend(["op", "monitor", "interval=3s", "timeout=20s"]);
    c.pcs(&args);
    assert!(
        c.wait_role("hbpg", "Started", Duration::from_secs(90)),
        "{}",
        c.crm_mon()
    );
    let first = pg.postmaster_pid().unwrap();
    switch(&c, "hbpg", "pgsql");
    let xml = agent_of("hbpg");
    assert!(
        xml.contains(&format!("provider=\"{}\"", provider())) && xml.contains("type=\"pgsql\""),
        "{xml}"
    );
    keeps_running(&c, "hbpg", || pg.postmaster_pid(), first);
    pg.psql("SELECT 1").unwrap();
    // Ours stops it for real.
    c.pcs(&["resource", "disable", "hbpg"]);
    assert!(
        c.wait_role("hbpg", "Stopped", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(pg.processes().is_empty(), "stop left server processes");
    c.pcs(&["resource", "delete", "hbpg"]);
}

#[test]
fn heartbeat_mysql_switches_to_ours_without_a_restart() {
    system_install();
    let my = db::My::init("i16db-cl-my", 56160);
    let run = my.pid.parent().unwrap();
    std::fs::create_dir_all(run).unwrap();
    let (uid, gid) = db::ids(db::MY_UID_NAME);
    std::os::unix::fs::chown(run, Some(uid), Some(gid)).unwrap();
    let c = Cluster::up();
    let params = [
        format!("config={}", my.cnf.display()),
        format!("datadir={}", my.data.display()),
        format!("pid={}", my.pid.display()),
        format!("socket={}", my.sock.display()),
        format!("log={}", run.join("error.log").display()),
        "binary=/usr/bin/mysqld_safe".to_string(),
        "client_binary=/usr/bin/mariadb".to_string(),
    ];
    let mut args = vec!["resource", "create", "hbmy", "ocf:heartbeat:mysql"];
    args.extend(params.iter().map(String::as_str));
    args.extend(["op", "monitor", "interval=3s", "timeout=20s"]);
    c.pcs(&args);
    assert!(
        c.wait_role("hbmy", "Started", Duration::from_secs(90)),
        "{}",
        c.crm_mon()
    );
    let first = my.server_pid().unwrap();
    switch(&c, "hbmy", "mysql");
    keeps_running(&c, "hbmy", || my.server_pid(), first);
    my.sql("SELECT 1").unwrap();
    c.pcs(&["resource", "disable", "hbmy"]);
    assert!(
        c.wait_role("hbmy", "Stopped", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(my.processes().is_empty(), "stop left server processes");
    assert!(
        db::wrappers_naming(&my.dir.base).is_empty(),
        "stop left the heartbeat agent's mysqld_safe"
    );
    c.pcs(&["resource", "delete", "hbmy"]);
}
