//! ocf:rust:database against real PostgreSQL 15 and MariaDB 10.11 servers,
//! each initialised by the test in its own /var/tmp/dba-* directory
//! (PostgreSQL ports 55600-55699, MariaDB 33600-33699) and killed by PID in
//! a Drop guard. The agent runs through its argv[0] symlink as Pacemaker
//! runs it.

use support::database as db;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use db::{My, Pg, kill, kv, with};
use support::{AgentLink, Outcome, agent_link, ocf};

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

/// Run an action as Pacemaker would: the resource instance is named after
/// the data directory and its record lives beside the agent's link, so
/// tests running side by side never read each other's records.
fn run(a: &AgentLink, action: &str, p: &[(&'static str, String)], env: &[(&str, &str)]) -> Outcome {
    let rsctmp = rsc_tmp(a);
    let instance = instance_of(p);
    let mut all: Vec<(&str, &str)> = vec![
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", &instance),
    ];
    all.extend_from_slice(env);
    ocf(a, action, &kv(p), &all)
}

/// HA_RSCTMP of the tests that use this link (removed with it).
fn rsc_tmp(a: &AgentLink) -> std::path::PathBuf {
    a.path.parent().unwrap().join("rsctmp")
}

/// `db-<datadir with every other character a dash>`.
fn instance_of(p: &[(&'static str, String)]) -> String {
    let d = p
        .iter()
        .find(|(k, _)| *k == "datadir")
        .map(|(_, v)| v.as_str())
        .unwrap_or("default");
    let tail: String = d
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("db{tail}")
}

fn monitor(a: &AgentLink, p: &[(&'static str, String)]) -> Outcome {
    run(a, "monitor", p, &[RECURRING])
}

#[track_caller]
fn assert_code(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o:#?}");
}

/// A monitor with `timeout_ms` as the operation timeout: 1, inside the
/// budget, and a reason that contains every word of `says`.
#[track_caller]
fn assert_fails_in_budget(o: &Outcome, timeout_ms: u64, says: &[&str]) {
    assert_code(o, 1, "monitor of a hung server");
    assert!(
        o.elapsed < Duration::from_millis(timeout_ms),
        "took {:?}, budget {timeout_ms} ms",
        o.elapsed
    );
    let r = o.reason().unwrap_or_default();
    for w in says {
        assert!(r.contains(w), "reason {r:?} lacks {w:?}");
    }
    assert!(
        !r.contains("did not finish within"),
        "the agent's own deadline must answer before the watchdog: {r}"
    );
}

#[test]
fn postgresql_lifecycle_is_idempotent_and_keeps_data() {
    let a = agent_link("database");
    let pg = Pg::init("pg-life", 55601);
    let p = pg.params();

    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe before start");
    assert_code(&run(&a, "validate-all", &p, &[]), 0, "validate-all");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop before start");
    let s = run(&a, "start", &p, &[]);
    assert_code(&s, 0, "start");
    assert!(s.stderr.contains("started"), "{s:?}");
    assert_code(&run(&a, "start", &p, &[]), 0, "start on started");
    assert_code(&monitor(&a, &p), 0, "monitor");
    assert_code(&run(&a, "monitor", &p, &[]), 0, "probe of a running server");

    pg.psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before stop')")
        .unwrap();
    // The monitor query is the user's: it must return a row, and errors show.
    let q = with(&p, &[("monitor_query", "SELECT v FROM kept")]);
    assert_code(&monitor(&a, &q), 0, "custom query");
    let none = with(&p, &[("monitor_query", "SELECT v FROM kept WHERE false")]);
    let o = monitor(&a, &none);
    assert_code(&o, 1, "query without rows");
    assert!(o.reason().unwrap().contains("no row"), "{o:?}");
    let bad = with(&p, &[("monitor_query", "SELECT * FROM missing_table")]);
    let o = monitor(&a, &bad);
    assert_code(&o, 1, "failing query");
    assert!(o.reason().unwrap().contains("42P01"), "{o:?}");

    let pid = pg.postmaster_pid().unwrap();
    let st = run(&a, "stop", &p, &[]);
    assert_code(&st, 0, "stop");
    assert!(st.stderr.contains("fast shutdown"), "{st:?}");
    assert!(pg.processes().is_empty(), "server processes left");
    assert!(!db::processes_under(&pg.data).contains(&pid));
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop on stopped");
    let m = monitor(&a, &p);
    assert_code(&m, 7, "monitor after stop");
    assert!(m.reason().unwrap().contains("not running"), "{m:?}");

    assert_code(&run(&a, "start", &p, &[]), 0, "start again");
    assert_eq!(pg.psql("SELECT v FROM kept").unwrap(), "before stop");
    assert_code(&run(&a, "stop", &p, &[]), 0, "final stop");
}

#[test]
fn postgresql_scram_md5_trust_and_wrong_password() {
    let a = agent_link("database");
    let pg = Pg::init("pg-auth", 55602);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    pg.psql(
        "SET password_encryption = 'scram-sha-256'; \
         CREATE ROLE mon_scram LOGIN PASSWORD 'scram-pw'; \
         SET password_encryption = 'md5'; \
         CREATE ROLE mon_md5 LOGIN PASSWORD 'md5-pw'; \
         CREATE ROLE mon_trust LOGIN;",
    )
    .unwrap();
    let tcp = with(&p, &[("host", "127.0.0.1")]);
    for (user, pw, what) in [
        ("mon_scram", Some("scram-pw"), "scram-sha-256"),
        ("mon_md5", Some("md5-pw"), "md5"),
        ("mon_trust", None, "trust"),
        (
            "postgres",
            Some(db::PG_SUPER_PASSWORD),
            "scram-sha-256 superuser",
        ),
    ] {
        // md5 over TCP only with the opt-in (tests/it/database_hostile.rs
        // shows the refusal).
        let mut extra = vec![("monitor_user", user), ("monitor_allow_md5", "true")];
        if let Some(pw) = pw {
            extra.push(("monitor_password", pw));
        }
        let o = monitor(&a, &with(&tcp, &extra));
        assert_code(&o, 0, what);
        assert!(!o.stderr.contains(pw.unwrap_or("\u{0}")), "password leaked");
    }
    // Peer authentication over the socket as the service user (the default).
    assert_code(&monitor(&a, &p), 0, "peer over the socket");

    for (user, pw) in [("mon_scram", "wrong"), ("mon_md5", "wrong")] {
        let o = monitor(
            &a,
            &with(
                &tcp,
                &[
                    ("monitor_user", user),
                    ("monitor_password", pw),
                    ("monitor_allow_md5", "true"),
                ],
            ),
        );
        assert_code(&o, 1, "wrong password");
        let r = o.reason().unwrap();
        assert!(
            r.contains("rejected") && r.contains("28P01") && r.contains("is up"),
            "{r}"
        );
        assert!(!r.contains("hung") && !r.contains("not running"), "{r}");
        assert!(!o.stderr.contains("wrong\n") && !r.contains("wrong\""));
    }
    let o = monitor(&a, &with(&tcp, &[("monitor_user", "mon_scram")]));
    assert_code(&o, 1, "password missing");
    assert!(
        o.reason().unwrap().contains("monitor_password is not set"),
        "{o:?}"
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

#[test]
fn postgresql_sigstop_gives_1_in_budget_naming_the_phase() {
    let a = agent_link("database");
    let pg = Pg::init("pg-stop", 55603);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let pid = pg.postmaster_pid().unwrap();
    kill(pid, libc::SIGSTOP);
    let o = run(
        &a,
        "monitor",
        &p,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "4000")],
    );
    kill(pid, libc::SIGCONT);
    assert_fails_in_budget(&o, 4000, &["did not answer", "phase 'authentication'"]);
    // monitor_timeout bounds the query tighter than the operation.
    kill(pid, libc::SIGSTOP);
    let t = with(&p, &[("monitor_timeout", "1.5")]);
    let o = run(
        &a,
        "monitor",
        &t,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "20000")],
    );
    kill(pid, libc::SIGCONT);
    assert_fails_in_budget(&o, 3000, &["within 1.5s"]);
    assert!(o.elapsed >= Duration::from_millis(1400), "{:?}", o.elapsed);
    assert!(
        support::wait_for(Duration::from_secs(10), || monitor(&a, &p).code == 0),
        "monitor recovers after SIGCONT"
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

#[test]
fn postgresql_kill_9_is_7_and_stop_cleans_up() {
    let a = agent_link("database");
    let pg = Pg::init("pg-kill", 55604);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let pid = pg.postmaster_pid().unwrap();
    kill(pid, libc::SIGKILL);
    assert!(support::wait_for(Duration::from_secs(5), || {
        !db::processes_under(&pg.data).contains(&pid)
    }));
    let m = monitor(&a, &p);
    assert_code(&m, 7, "monitor after kill -9");
    // The reason names the dead postmaster, or (when one of its backends
    // was still on its way out as the monitor looked) that backend.
    let reason = m.reason().unwrap();
    assert!(
        reason.contains(&format!("pid {pid}")) || reason.contains("exited during the monitor"),
        "{m:?}"
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop after kill -9");
    assert!(
        pg.processes().is_empty(),
        "orphaned backends left: {:?}",
        pg.processes()
    );
    assert_code(&run(&a, "start", &p, &[]), 0, "start after a crash");
    assert_code(&monitor(&a, &p), 0, "monitor after restart");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

#[test]
fn postgresql_silent_listener_stands_in_for_a_hung_server() {
    let a = agent_link("database");
    let pg = Pg::init("pg-silent", 55605);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    // The real postmaster is alive; the monitor's TCP target accepts and
    // never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let hung = with(&p, &[("host", "127.0.0.1"), ("port", &port)]);
    let o = run(
        &a,
        "monitor",
        &hung,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "3000")],
    );
    assert_fails_in_budget(
        &o,
        3000,
        &["did not answer", "phase 'authentication'", &port],
    );
    drop(silent);
    // Nothing listening there at all is a different story: refused.
    let o = monitor(&a, &hung);
    assert_code(&o, 1, "refused");
    assert!(
        o.reason().unwrap().contains("phase 'connect'"),
        "{:?}",
        o.reason()
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

#[test]
fn uninitialised_datadir_and_missing_binary_follow_the_rules() {
    let a = agent_link("database");
    let d = db::Dir::new("noinit");
    let empty = d.owned("empty", "postgres");
    for engine in ["postgresql", "mysql"] {
        let p: Vec<(&'static str, String)> = vec![
            ("engine", engine.into()),
            ("datadir", empty.display().to_string()),
        ];
        assert_code(&run(&a, "monitor", &p, &[]), 7, "probe, not initialised");
        assert_code(&monitor(&a, &p), 1, "recurring monitor, not initialised");
        let s = run(&a, "start", &p, &[]);
        assert_code(&s, 5, "start, not initialised");
        assert!(s.reason().unwrap().contains("not an initialised"), "{s:?}");
        assert_code(&run(&a, "stop", &p, &[]), 0, "stop, not initialised");
        assert_code(&run(&a, "validate-all", &p, &[]), 0, "level 0: syntax only");
        assert_code(
            &run(&a, "validate-all", &p, &[("OCF_CHECK_LEVEL", "10")]),
            5,
            "level 10 looks at the node",
        );
        let nobin = with(&p, &[("binary", "/nonexistent/dba/server")]);
        let o = run(&a, "monitor", &nobin, &[]);
        assert_code(&o, 7, "probe without the binary");
        let o = run(&a, "start", &nobin, &[]);
        assert_code(&o, 5, "start without the binary");
        assert!(
            o.reason().unwrap().contains("/nonexistent/dba/server"),
            "{o:?}"
        );
    }
    let o = run(&a, "start", &[("engine", "postgresql".into())], &[]);
    assert_code(&o, 6, "datadir missing for postgresql");
    let o = run(
        &a,
        "monitor",
        &[("engine", "mysql".into()), ("user", "dba-nobody".into())],
        &[],
    );
    assert_code(&o, 7, "probe with a user missing on this node");
}

#[test]
fn mysql_lifecycle_is_idempotent_and_keeps_data() {
    let a = agent_link("database");
    let my = My::init("my-life", 33601);
    let p = my.params();
    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe before start");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop before start");
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    assert_eq!(db::owner(my.sock.parent().unwrap()), db::ids("mysql").0);
    assert_code(&run(&a, "start", &p, &[]), 0, "start on started");
    assert_code(&monitor(&a, &p), 0, "monitor (root over unix_socket)");
    my.sql("CREATE DATABASE keep; CREATE TABLE keep.t (v VARCHAR(20)); INSERT INTO keep.t VALUES ('before stop')")
        .unwrap();
    let st = run(&a, "stop", &p, &[]);
    assert_code(&st, 0, "stop");
    assert!(
        st.stderr.contains("SHUTDOWN"),
        "clean shutdown first: {st:?}"
    );
    assert!(my.processes().is_empty());
    assert!(!my.pid.exists(), "pid file removed");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop on stopped");
    assert_code(&monitor(&a, &p), 7, "monitor after stop");
    assert_code(&run(&a, "start", &p, &[]), 0, "start again");
    assert_eq!(my.sql("SELECT v FROM keep.t").unwrap(), "before stop");
    assert_code(&run(&a, "stop", &p, &[]), 0, "final stop");
}

#[test]
fn mysql_native_unix_socket_and_wrong_password() {
    let a = agent_link("database");
    let my = My::init("my-auth", 33602);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    // What this server offers: MariaDB has no caching_sha2_password (that
    // path is unit-tested against constructed protocol bytes in mysql.rs).
    let plugins = my
        .sql(
            "SELECT PLUGIN_NAME FROM information_schema.PLUGINS WHERE PLUGIN_TYPE='AUTHENTICATION'",
        )
        .unwrap();
    assert!(plugins.contains("mysql_native_password"), "{plugins}");
    assert!(plugins.contains("unix_socket"), "{plugins}");
    my.sql(
        "CREATE USER mon@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('mon-pw'); \
         CREATE USER mon@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('mon-pw'); \
         CREATE USER nopw@'127.0.0.1';",
    )
    .unwrap();
    let port = my.port.to_string();
    let tcp = with(&p, &[("host", "127.0.0.1"), ("port", &port)]);
    let mon = [("monitor_user", "mon"), ("monitor_password", "mon-pw")];
    assert_code(&monitor(&a, &with(&tcp, &mon)), 0, "native over TCP");
    assert_code(&monitor(&a, &with(&p, &mon)), 0, "native over the socket");
    assert_code(
        &monitor(&a, &with(&tcp, &[("monitor_user", "nopw")])),
        0,
        "empty password",
    );
    assert_code(&monitor(&a, &p), 0, "unix_socket as root");
    let q = with(&p, &[("monitor_query", "SELECT COUNT(*) FROM mysql.user")]);
    assert_code(&monitor(&a, &q), 0, "the heartbeat agent's test query");

    let o = monitor(
        &a,
        &with(
            &tcp,
            &[("monitor_user", "mon"), ("monitor_password", "bad-pw")],
        ),
    );
    assert_code(&o, 1, "wrong password");
    let r = o.reason().unwrap();
    assert!(
        r.contains("rejected") && r.contains("1045") && r.contains("is up"),
        "{r}"
    );
    assert!(!o.stderr.contains("bad-pw"), "password leaked: {o:?}");
    // unix_socket auth maps the OS user: root over TCP has no such luck.
    let o = monitor(&a, &tcp);
    assert_code(&o, 1, "root over TCP");
    assert!(o.reason().unwrap().contains("rejected"), "{o:?}");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

/// reload: the running server re-reads its configuration without a
/// restart. PostgreSQL applies an ALTER SYSTEM setting; MariaDB reloads its
/// grant tables, so an account written straight into them can log in. The
/// server keeps its PID; on a stopped resource reload says 7.
#[test]
fn reload_rereads_configuration_without_a_restart() {
    let a = agent_link("database");
    let pg = Pg::init("pg-reload", 55608);
    let p = pg.params();
    assert_code(&run(&a, "reload", &p, &[]), 7, "reload of a stopped server");
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let pid = pg.postmaster_pid().unwrap();
    pg.psql("ALTER SYSTEM SET work_mem = '7MB'").unwrap();
    assert_eq!(pg.psql("SHOW work_mem").unwrap(), "4MB", "not applied yet");
    let r = run(&a, "reload", &p, &[]);
    assert_code(&r, 0, "reload");
    assert!(r.stderr.contains("SIGHUP"), "{r:?}");
    assert!(
        support::wait_for(Duration::from_secs(5), || pg.psql("SHOW work_mem").unwrap()
            == "7MB"),
        "work_mem after reload: {:?}",
        pg.psql("SHOW work_mem")
    );
    assert_eq!(pg.postmaster_pid(), Some(pid), "no restart");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");

    let my = My::init("my-reload", 33608);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let pid = my.server_pid().unwrap();
    let hash = my.sql("SELECT PASSWORD('rl-pw')").unwrap();
    my.sql(&format!(
        "INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('localhost', 'rl', \
         '{{\"access\": 0, \"plugin\": \"mysql_native_password\", \"authentication_string\": \"{}\"}}')",
        hash.trim()
    ))
    .unwrap();
    let rl = with(&p, &[("monitor_user", "rl"), ("monitor_password", "rl-pw")]);
    let o = monitor(&a, &rl);
    assert_code(&o, 1, "the grant tables are not read yet");
    assert!(o.reason().unwrap().contains("rejected"), "{o:?}");
    assert_code(&run(&a, "reload", &p, &[]), 0, "reload");
    assert!(
        support::wait_for(Duration::from_secs(5), || monitor(&a, &rl).code == 0),
        "the new account logs in after reload: {:?}",
        monitor(&a, &rl)
    );
    assert_eq!(my.server_pid(), Some(pid), "no restart");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

#[test]
fn mysql_sigstop_silence_and_kill_9() {
    let a = agent_link("database");
    let my = My::init("my-hang", 33603);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let pid = my.server_pid().unwrap();
    kill(pid, libc::SIGSTOP);
    let o = run(
        &a,
        "monitor",
        &p,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "3000")],
    );
    kill(pid, libc::SIGCONT);
    assert_fails_in_budget(&o, 3000, &["did not answer", "phase 'authentication'"]);
    assert!(support::wait_for(Duration::from_secs(10), || monitor(
        &a, &p
    )
    .code
        == 0));

    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let hung = with(&p, &[("host", "127.0.0.1"), ("port", &port)]);
    let o = run(
        &a,
        "monitor",
        &hung,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "3000")],
    );
    assert_fails_in_budget(&o, 3000, &["did not answer", "phase 'authentication'"]);
    drop(silent);

    kill(pid, libc::SIGKILL);
    assert!(support::wait_for(Duration::from_secs(5), || my
        .processes()
        .is_empty()));
    let m = monitor(&a, &p);
    assert_code(&m, 7, "monitor after kill -9");
    assert!(m.reason().unwrap().contains("is gone"), "{m:?}");
    let t = Instant::now();
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop after kill -9");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!my.pid.exists(), "stale pid file removed");
    assert_code(&run(&a, "start", &p, &[]), 0, "start after a crash");
    assert_code(&monitor(&a, &p), 0, "monitor after restart");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

/// A server that ignores every polite request (SIGSTOPped: signals stay
/// pending, connections are never answered) is still stopped inside the
/// stop timeout, by the SIGKILL phase, with nothing left behind.
#[test]
fn stop_escalates_to_sigkill_within_its_timeout() {
    let a = agent_link("database");
    let pg = Pg::init("pg-escalate", 55606);
    let my = My::init("my-escalate", 33606);
    type Server<'a> = (
        Vec<(&'static str, String)>,
        &'a dyn Fn() -> Option<i32>,
        &'a str,
    );
    let servers: [Server; 2] = [
        (pg.params(), &|| pg.postmaster_pid(), "immediate shutdown"),
        (my.params(), &|| my.server_pid(), "SIGTERM"),
    ];
    for (p, pid, graceful) in servers {
        assert_code(&run(&a, "start", &p, &[]), 0, "start");
        let pid = pid().unwrap();
        kill(pid, libc::SIGSTOP);
        let o = run(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        assert_code(&o, 0, "stop of a stopped server");
        assert!(o.elapsed < Duration::from_secs(5), "took {:?}", o.elapsed);
        assert!(
            o.stderr.contains(graceful) && o.stderr.contains("killing the remaining"),
            "every phase ran: {o:?}"
        );
        assert!(!db::processes_under(&pg.dir.base).contains(&pid));
        assert!(pg.processes().is_empty() && my.processes().is_empty());
        assert_code(&monitor(&a, &p), 7, "monitor after the forced stop");
    }
}

/// On a Debian-made cluster, engine, datadir (and here the port, as the
/// cluster is not on 5432) are enough: the agent finds the cluster's
/// /etc/postgresql/<v>/<name>/postgresql.conf by its data_directory, the
/// server reads its ssl key through the service user's ssl-cert group, and
/// the monitor logs in over /var/run/postgresql by peer authentication.
#[test]
fn postgresql_debian_cluster_needs_only_engine_datadir_and_port() {
    let a = agent_link("database");
    let deb = db::DebianPg::create("pg-debian", 55607);
    let p: Vec<(&'static str, String)> = vec![
        ("engine", "postgresql".into()),
        ("datadir", deb.data.display().to_string()),
        ("port", deb.port.to_string()),
    ];
    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe");
    let s = run(&a, "start", &p, &[]);
    assert_code(&s, 0, "start");
    assert!(
        s.stderr
            .contains(&format!("config_file={}", deb.config().display())),
        "the Debian config is used: {s:?}"
    );
    let q = with(
        &p,
        &[(
            "monitor_query",
            "SELECT 1 WHERE current_setting('ssl') = 'on'",
        )],
    );
    assert_code(
        &monitor(&a, &q),
        0,
        "ssl is on (key read via ssl-cert), peer over /var/run/postgresql",
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    assert!(db::processes_under(&deb.data).is_empty());
}

/// A server that dies during start (its port is taken) ends the start at
/// once, not at the timeout, and the reason quotes the server's own FATAL
/// line; extra server arguments reach the server as separate words.
#[test]
fn start_fails_fast_with_the_servers_reason_and_passes_extra_arguments() {
    let a = agent_link("database");
    let pg = Pg::init("pg-fail", 55608);
    let p = pg.params();
    let taken = TcpListener::bind("127.0.0.1:55608").unwrap();
    let o = run(&a, "start", &p, &[("OCF_RESKEY_CRM_meta_timeout", "60000")]);
    assert_code(&o, 1, "start with the port taken");
    assert!(
        o.elapsed < Duration::from_secs(20),
        "failed fast: {:?}",
        o.elapsed
    );
    let r = o.reason().unwrap();
    assert!(
        r.contains("exited during start") && r.contains("FATAL"),
        "{r}"
    );
    drop(taken);

    let extra = with(
        &p,
        &[(
            "additional_parameters",
            "-c work_mem=7MB  -c application_name=dba",
        )],
    );
    assert_code(
        &run(&a, "start", &extra, &[]),
        0,
        "start with extra arguments",
    );
    let q = with(
        &extra,
        &[(
            "monitor_query",
            "SELECT 1 WHERE current_setting('work_mem') = '7MB'",
        )],
    );
    assert_code(&monitor(&a, &q), 0, "work_mem reached the server");
    assert_code(&run(&a, "stop", &extra, &[]), 0, "stop");

    let my = My::init("my-extra", 33608);
    let mp = with(
        &my.params(),
        &[("additional_parameters", "--max-connections=77")],
    );
    assert_code(
        &run(&a, "start", &mp, &[]),
        0,
        "mysql start with extra arguments",
    );
    let q = with(
        &mp,
        &[(
            "monitor_query",
            "SELECT 1 FROM DUAL WHERE @@max_connections = 77",
        )],
    );
    assert_code(&monitor(&a, &q), 0, "max_connections reached the server");
    assert_code(&run(&a, "stop", &mp, &[]), 0, "stop");
}

/// A link to the server program in the test's directory, passed as
/// `binary`: removing it is the package upgrade that removed the binary
/// under a running server.
fn binary_link(dir: &db::Dir, target: &std::path::Path) -> String {
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join(target.file_name().unwrap());
    std::os::unix::fs::symlink(target, &link).unwrap();
    link.display().to_string()
}

/// Issue 13: the environment check fails (binary removed by an upgrade,
/// the service user unknown to NSS, parameters that no longer parse) while
/// the server runs. A probe must say 0, not 7; stop must really stop it,
/// gracefully first, and answer 0 only when nothing is left.
#[test]
fn a_broken_environment_does_not_hide_a_running_server() {
    let a = agent_link("database");
    let pg = Pg::init("pg-envfail", 55611);
    let my = My::init("my-envfail", 33611);
    let pg_link = binary_link(&pg.dir, &db::pg_bin().join("postgres"));
    let my_link = binary_link(&my.dir, std::path::Path::new("/usr/sbin/mariadbd"));
    type Case<'a> = (
        Vec<(&'static str, String)>,
        &'a std::path::Path,
        &'a str,
        String,
    );
    let cases: [Case; 2] = [
        (
            with(&pg.params(), &[("binary", &pg_link)]),
            &pg.data,
            "fast shutdown",
            pg_link.clone(),
        ),
        (
            with(&my.params(), &[("binary", &my_link)]),
            &my.data,
            "SHUTDOWN",
            my_link.clone(),
        ),
    ];
    for (p, data, graceful, link) in cases {
        let server = || db::processes_under(data);
        // 1. the binary is gone
        assert_code(&run(&a, "start", &p, &[]), 0, "start");
        let target = std::fs::read_link(&link).unwrap();
        std::fs::remove_file(&link).unwrap();
        let o = run(&a, "monitor", &p, &[]);
        assert_code(&o, 0, "probe with the binary gone, server running");
        assert!(o.stderr.contains("runs"), "{o:?}");
        assert_code(
            &monitor(&a, &p),
            1,
            "recurring monitor with the binary gone",
        );
        assert!(!server().is_empty(), "nothing stopped it yet");
        let o = run(&a, "stop", &p, &[]);
        assert_code(&o, 0, "stop with the binary gone");
        // MySQL: SHUTDOWN with the configuration, SIGTERM without.
        assert!(o.stderr.contains(graceful), "a graceful stop first: {o:?}");
        assert!(!o.stderr.contains("killing"), "no SIGKILL needed: {o:?}");
        assert!(
            server().is_empty(),
            "stop answered 0 while {:?} run",
            server()
        );
        assert_code(&run(&a, "monitor", &p, &[]), 7, "probe after the stop");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        // 2. the service user is unknown to NSS, and 3. the parameters no
        // longer parse (another agent version, a typo in `pcs update`)
        for broken in [("user", "dba-nobody"), ("port", "70000")] {
            assert_code(&run(&a, "start", &p, &[]), 0, "start");
            let b = with(&p, &[broken]);
            assert_code(
                &run(&a, "monitor", &b, &[]),
                0,
                &format!("probe with {broken:?}"),
            );
            let o = run(&a, "stop", &b, &[]);
            assert_code(&o, 0, &format!("stop with {broken:?}"));
            assert!(o.stderr.contains(graceful), "{o:?}");
            assert!(server().is_empty(), "{broken:?}: stop left {:?}", server());
            assert_code(&run(&a, "monitor", &b, &[]), 7, "probe after the stop");
        }
    }
}

/// A parameter changed to another valid value while the server runs (the
/// data directory, the pid file): stop stops the server start started, and
/// monitor and probe see it; start refuses to run a second server and lose
/// track of the first.
#[test]
fn a_changed_datadir_or_pid_file_does_not_hide_the_recorded_server() {
    let a = agent_link("database");
    let pg = Pg::init("pg-moved", 55612);
    let other = Pg::init("pg-moved2", 55613);
    let p = pg.params();
    // The same resource (instance), now configured with another data
    // directory, initialised and valid.
    let moved = with(&p, &[("datadir", other.data.to_str().unwrap())]);
    let env = [("OCF_RESOURCE_INSTANCE", "db-moved")];
    let as_moved = |action: &str, params: &[(&'static str, String)], extra: &[(&str, &str)]| {
        let mut e = env.to_vec();
        e.extend_from_slice(extra);
        let rsctmp = rsc_tmp(&a);
        let mut all: Vec<(&str, &str)> = vec![("HA_RSCTMP", rsctmp.to_str().unwrap())];
        all.extend(e);
        ocf(&a, action, &kv(params), &all)
    };
    assert_code(&as_moved("start", &p, &[]), 0, "start (records the server)");
    let pid = pg.postmaster_pid().unwrap();
    let o = as_moved("monitor", &moved, &[]);
    assert_code(&o, 0, "probe after datadir changed");
    let o = as_moved("monitor", &moved, &[RECURRING]);
    assert_code(&o, 1, "recurring monitor after datadir changed");
    assert!(o.reason().unwrap().contains("still runs"), "{o:?}");
    let o = as_moved("start", &moved, &[]);
    assert_code(&o, 1, "start of a second server");
    assert!(other.processes().is_empty(), "no second server");
    let o = as_moved("stop", &moved, &[]);
    assert_code(&o, 0, "stop after datadir changed");
    assert!(o.stderr.contains(&format!("SIGINT to {pid}")), "{o:?}");
    assert!(pg.processes().is_empty(), "the recorded server is gone");
    assert_code(&as_moved("monitor", &moved, &[]), 7, "probe after stop");

    // MySQL: the pid file parameter changed while running.
    let my = My::init("my-moved", 33612);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let elsewhere = my.dir.path("elsewhere.pid").display().to_string();
    let q = with(&p, &[("pid", &elsewhere)]);
    assert_code(&run(&a, "monitor", &q, &[]), 0, "probe, pid changed");
    assert_code(&monitor(&a, &q), 0, "recurring monitor, pid changed");
    let o = run(&a, "stop", &q, &[]);
    assert_code(&o, 0, "stop, pid changed");
    assert!(o.stderr.contains("SHUTDOWN"), "{o:?}");
    assert!(my.processes().is_empty(), "left: {:?}", my.processes());
}

/// The pid file is gone while the server runs (removed by hand or by a
/// tmpfiles cleaner), or never named it (a server started by hand, a
/// PostgreSQL `pid` parameter that only the agent reads): monitor and
/// probe find the server by its data directory, and stop shuts it down
/// gracefully instead of only SIGKILLing it.
#[test]
fn a_server_without_its_pid_file_is_seen_and_stopped_cleanly() {
    let a = agent_link("database");
    let pg = Pg::init("pg-nopid", 55614);
    let p = pg.params();
    // Started by hand, outside Pacemaker: no record.
    pg.start_by_hand();
    let pid = pg.postmaster_pid().unwrap();
    assert_code(
        &run(&a, "monitor", &p, &[]),
        0,
        "probe of a server started by hand",
    );
    std::fs::remove_file(pg.data.join("postmaster.pid")).unwrap();
    let o = run(&a, "monitor", &p, &[]);
    assert_code(&o, 0, "probe without postmaster.pid");
    assert!(o.stderr.contains("no pid file names it"), "{o:?}");
    let o = run(&a, "stop", &p, &[]);
    assert_code(&o, 0, "stop without postmaster.pid");
    assert!(o.stderr.contains(&format!("SIGINT to {pid}")), "{o:?}");
    assert!(pg.processes().is_empty());

    // `pid` names a file PostgreSQL never writes.
    let elsewhere = with(&p, &[("pid", "/nonexistent/dba/pg.pid")]);
    assert_code(&run(&a, "start", &elsewhere, &[]), 0, "start");
    assert_code(
        &monitor(&a, &elsewhere),
        0,
        "monitor reads postmaster.pid too",
    );
    assert_code(&run(&a, "start", &elsewhere, &[]), 0, "start on started");
    let o = run(&a, "stop", &elsewhere, &[]);
    assert_code(&o, 0, "stop");
    assert!(o.stderr.contains("fast shutdown"), "{o:?}");
    assert!(pg.processes().is_empty());

    let my = My::init("my-nopid", 33614);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    std::fs::remove_file(&my.pid).unwrap();
    assert_code(
        &run(&a, "monitor", &p, &[]),
        0,
        "probe without the pid file",
    );
    assert_code(&monitor(&a, &p), 0, "monitor without the pid file");
    let o = run(&a, "stop", &p, &[]);
    assert_code(&o, 0, "stop without the pid file");
    assert!(o.stderr.contains("SHUTDOWN"), "{o:?}");
    assert!(!o.stderr.contains("killing"), "{o:?}");
    assert!(my.processes().is_empty());
}

/// A server run under mysqld_safe (as heartbeat mysql and init scripts
/// run it) is restarted by the wrapper when it dies. Stop of a hung
/// server (SIGSTOPped: only SIGKILL ends it) kills the wrapper first, so
/// the server stays down after stop answered 0.
#[test]
fn mysqld_safe_is_stopped_first_so_the_server_stays_down() {
    let a = agent_link("database");
    let my = My::init("my-safe", 33615);
    let p = my.params();
    my.start_under_mysqld_safe();
    assert_eq!(db::wrappers_naming(&my.dir.base).len(), 1, "one wrapper");
    assert_code(&run(&a, "monitor", &p, &[]), 0, "probe");
    let pid = my.server_pid().unwrap();
    kill(pid, libc::SIGSTOP);
    let o = run(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "6000")]);
    assert_code(&o, 0, "stop");
    // mysqld_safe restarts a killed server within a second or two.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        my.processes().is_empty() && db::wrappers_naming(&my.dir.base).is_empty(),
        "after stop: servers {:?}, wrappers {:?}; {o:?}",
        my.processes(),
        db::wrappers_naming(&my.dir.base)
    );
    assert!(o.stderr.contains("mysqld_safe"), "{o:?}");
    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe after stop");
}

/// A pid file naming a live process that is not the server (the PID was
/// recycled after a crash): not running, and stop does not touch it.
#[test]
fn a_recycled_pid_is_not_the_server() {
    let a = agent_link("database");
    let my = My::init("my-recycled", 33616);
    let p = my.params();
    std::fs::create_dir_all(my.pid.parent().unwrap()).unwrap();
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(&my.pid, format!("{}\n", other.id())).unwrap();
    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    assert!(
        other.try_wait().unwrap().is_none(),
        "the other process lives"
    );
    let _ = other.kill();
    let _ = other.wait();
}

/// A killed postmaster whose backends live on (one is stopped here, so it
/// cannot notice) is not "stopped": probe and monitor answer 1, and stop
/// kills what is left.
#[test]
fn orphaned_backends_of_a_killed_postmaster_are_not_stopped() {
    let a = agent_link("database");
    let pg = Pg::init("pg-orphans", 55615);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let postmaster = pg.postmaster_pid().unwrap();
    let backend = *pg
        .processes()
        .iter()
        .find(|&&b| b != postmaster)
        .expect("a backend");
    kill(backend, libc::SIGSTOP);
    kill(postmaster, libc::SIGKILL);
    assert!(support::wait_for(Duration::from_secs(5), || {
        pg.processes() == vec![backend]
    }));
    let o = monitor(&a, &p);
    assert_code(&o, 1, "monitor with an orphan left");
    assert!(o.reason().unwrap().contains("remain"), "{o:?}");
    assert_code(&run(&a, "monitor", &p, &[]), 1, "probe with an orphan left");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    assert!(pg.processes().is_empty());
    assert_code(&run(&a, "monitor", &p, &[]), 7, "probe after stop");
}
