//! ocf:rust:pgsql with ocf:heartbeat:pgsql's parameter names on a real
//! PostgreSQL 15 server (ports 56130-56139, `*-i16db-*` directories).

use support::database as db;

use db::Pg;
use support::{AgentLink, Outcome, agent_link, ocf};

fn run(a: &AgentLink, action: &str, p: &[(&str, String)], env: &[(&str, &str)]) -> Outcome {
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec![("OCF_RESOURCE_INSTANCE", "i16db-pgsql")];
    all.extend_from_slice(env);
    ocf(a, action, &pairs, &all)
}

fn heartbeat_params(pg: &Pg) -> Vec<(&'static str, String)> {
    vec![
        ("pgdata", pg.data.display().to_string()),
        ("pgport", pg.port.to_string()),
        ("socketdir", pg.sock.display().to_string()),
        ("logfile", pg.dir.path("server.log").display().to_string()),
        ("stop_escalate", "5".into()),
    ]
}

#[test]
fn lifecycle_with_heartbeat_names_and_the_default_pgctl() {
    let pg = Pg::init("i16db-pgsql-life", 56130);
    let a = agent_link("pgsql");
    let p = heartbeat_params(&pg);
    // pgctl is left at /usr/bin/pg_ctl, which Debian does not have: the
    // data directory's PG_VERSION (15) picks /usr/lib/postgresql/15/bin.
    assert!(!std::path::Path::new("/usr/bin/pg_ctl").exists());
    assert_eq!(run(&a, "monitor", &p, &[]).code, 7);
    let o = run(&a, "start", &p, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stderr.contains("/usr/lib/postgresql/15/bin/postgres"),
        "{}",
        o.stderr
    );
    let pid = pg.postmaster_pid().unwrap();
    assert_eq!(run(&a, "monitor", &p, &[]).code, 0);
    // monitor_sql is what the monitor runs.
    let mut bad = p.clone();
    bad.push(("monitor_sql", "select * from no_such_table_i16db;".into()));
    let o = run(&a, "monitor", &bad, &[]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.reason().unwrap_or("").contains("no_such_table_i16db"),
        "{o:#?}"
    );
    // A wrong monitor password: 1, and the password is nowhere.
    let mut secret = p.clone();
    secret.push(("monitor_user", "postgres".into()));
    secret.push(("monitor_password", "i16db-Secret-9".into()));
    secret.push(("pghost", "127.0.0.1".into()));
    let o = run(&a, "monitor", &secret, &[]);
    assert!(!o.stderr.contains("i16db-Secret-9") && !o.stdout.contains("i16db-Secret-9"));
    assert_eq!(
        pg.postmaster_pid(),
        Some(pid),
        "a monitor restarted the server"
    );
    // Replication asked for: validate-all refuses it, and stop still stops.
    let mut rep = p.clone();
    rep.push(("rep_mode", "sync".into()));
    let o = run(&a, "validate-all", &rep, &[]);
    assert_eq!(o.code, 6, "{o:#?}");
    assert!(o.reason().unwrap().contains("not supported yet"), "{o:#?}");
    assert_eq!(
        run(
            &a,
            "monitor",
            &rep,
            &[("OCF_RESKEY_CRM_meta_interval", "0")]
        )
        .code,
        0
    );
    assert_eq!(run(&a, "stop", &rep, &[]).code, 0);
    assert!(pg.processes().is_empty(), "stop left processes");
    assert_eq!(run(&a, "monitor", &p, &[]).code, 7);
}

#[test]
fn an_uninstalled_major_is_not_installed() {
    let pg = Pg::init("i16db-pgsql-major", 56131);
    std::fs::write(pg.data.join("PG_VERSION"), "9\n").unwrap();
    let a = agent_link("pgsql");
    let o = run(&a, "start", &heartbeat_params(&pg), &[]);
    assert_eq!(o.code, 5, "{o:#?}");
    assert!(o.reason().unwrap().contains("PostgreSQL 9"), "{o:#?}");
    std::fs::write(pg.data.join("PG_VERSION"), "15\n").unwrap();
}
