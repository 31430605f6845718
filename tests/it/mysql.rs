//! ocf:rust:mysql with ocf:heartbeat:mysql's parameter names on a real
//! MariaDB 10.11 server (ports 56180-56189, `*-i16db-*` directories).

use support::database as db;

use db::My;
use support::{AgentLink, Outcome, agent_link, ocf};

fn run(a: &AgentLink, action: &str, p: &[(&str, String)]) -> Outcome {
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ocf(
        a,
        action,
        &pairs,
        &[("OCF_RESOURCE_INSTANCE", "i16db-mysql")],
    )
}

#[test]
fn lifecycle_through_mysqld_safe_and_its_section() {
    let my = My::init("i16db-mysql-life", 56180);
    // The [mysqld_safe] section of the configuration file is honoured.
    let mut cnf = std::fs::read_to_string(&my.cnf).unwrap();
    cnf.push_str("\n[mysqld_safe]\nnice = 0\nopen_files_limit = 2345\n");
    std::fs::write(&my.cnf, cnf).unwrap();
    let a = agent_link("mysql");
    let p = vec![
        ("config", my.cnf.display().to_string()),
        ("datadir", my.data.display().to_string()),
        ("pid", my.pid.display().to_string()),
        ("socket", my.sock.display().to_string()),
        ("log", my.dir.path("error.log").display().to_string()),
        ("binary", "/usr/bin/mysqld_safe".into()),
        ("test_passwd", "i16db-Secret-7".into()),
        ("test_user", "i16db_nobody".into()),
    ];
    assert_eq!(run(&a, "monitor", &p).code, 7);
    // A test_user that cannot log in: start fails, naming the credentials,
    // never the password.
    let o = run(&a, "start", &p);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(!o.stderr.contains("i16db-Secret-7"), "{o:#?}");
    assert_eq!(run(&a, "stop", &p).code, 0);
    let p: Vec<_> = p
        .into_iter()
        .filter(|(k, _)| !k.starts_with("test_"))
        .collect();
    let o = run(&a, "start", &p);
    assert_eq!(o.code, 0, "{o:#?}");
    // The server itself runs, not the wrapper, with the section's limit.
    assert!(o.stderr.contains("--open-files-limit=2345"), "{}", o.stderr);
    assert!(db::wrappers_naming(&my.dir.base).is_empty());
    assert_eq!(run(&a, "monitor", &p).code, 0);
    // test_table is what the monitor counts.
    let mut bad = p.clone();
    bad.push(("test_table", "mysql.no_such_i16db".into()));
    let o = run(&a, "monitor", &bad);
    assert_eq!(o.code, 1, "{o:#?}");
    // Replication asked for: refused; stop with it still set stops.
    let mut rep = p.clone();
    rep.push(("replication_passwd", "i16db-Repl-3".into()));
    let o = run(&a, "validate-all", &rep);
    assert_eq!(o.code, 6, "{o:#?}");
    assert!(o.reason().unwrap().contains("not supported yet"), "{o:#?}");
    assert!(!o.stderr.contains("i16db-Repl-3"));
    assert_eq!(run(&a, "stop", &rep).code, 0);
    assert!(my.processes().is_empty(), "stop left processes");
}
