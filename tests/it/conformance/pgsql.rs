//! ocf:rust:pgsql against ocf:heartbeat:pgsql: both get the heartbeat
//! agent's parameters, unchanged (`pgctl`, `pgdata`, `pgport`, `pgdba`,
//! `socketdir`, `logfile`, `psql`), each side on its own real PostgreSQL 15
//! data directory (the fixture of [`super::database`]). Ports 56100-56119.

use super::database::{Db, kill_server, remove_pid_file};
use super::runner::{Case, Step, probe, run, run_with};
use crate::cases;

const PGSQL: (&str, &str) = ("heartbeat/pgsql", "rust/pgsql");

fn lifecycle() -> Case<Db> {
    Case::new(
        "pgsql/lifecycle",
        "probe, start, start, monitor, stop, stop, probe with heartbeat's parameters",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-life", 56100).compat(),
        vec![
            probe(),
            run("start"),
            run("start"),
            run("monitor"),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

fn killed() -> Case<Db> {
    Case::new(
        "pgsql/killed",
        "the postmaster is SIGKILLed (a stale postmaster.pid is left), then started again",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-killed", 56101).compat(),
        vec![
            run("start"),
            Step::Do("kill -9 the postmaster", kill_server),
            probe(),
            run("stop"),
            probe(),
            run("start"),
            run("monitor"),
            run("stop"),
        ],
    )
}

fn pid_file_removed() -> Case<Db> {
    Case::new(
        "pgsql/pid-file-removed",
        "postmaster.pid is removed while the server runs",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-nopid", 56102).compat(),
        vec![
            run("start"),
            Step::Do("remove postmaster.pid", remove_pid_file),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "heartbeat pgsql knows the server only by postmaster.pid: probe 7 and stop 0 with the \
         server left running; ocf:rust:pgsql finds it by its record and data directory and \
         stops it",
        &[0, 0, 0, 0, 7],
    )
}

fn monitor_sql_fails() -> Case<Db> {
    Case::new(
        "pgsql/monitor-sql",
        "monitor_sql is honoured: a query that fails makes the monitor fail",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-sql", 56103).compat(),
        vec![
            run("start"),
            run_with(
                "monitor",
                &[("monitor_sql", "select * from no_such_table;")],
            ),
            run_with("monitor", &[("monitor_sql", "select 1;")]),
            run("stop"),
        ],
    )
}

fn pgctl_missing() -> Case<Db> {
    Case::new(
        "pgsql/pgctl-missing",
        "pgctl names no program (ocft's \"invalid OCF_RESKEY_pgctl\"), then a pgdba that cannot \
         write pgdata (ocft's \"invalid user\")",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-nopgctl", 56104).compat(),
        vec![
            run_with("start", &[("pgctl", "no_such")]),
            run_with("start", &[("pgdba", "nobody")]),
            run_with("start", &[("pgdba", "dba-nobody")]),
            probe(),
        ],
    )
}

fn replication_refused() -> Case<Db> {
    Case::new(
        "pgsql/replication-refused",
        "rep_mode=async on a primitive: start refused; a running server is still probed and \
         stopped",
        PGSQL,
        |s| Db::pg(s, "i16db-pg-rep", 56105).compat(),
        vec![
            run_with("start", &[("rep_mode", "async")]),
            run("start"),
            run_with("probe", &[("rep_mode", "async")]),
            run_with("stop", &[("rep_mode", "async")]),
            probe(),
        ],
    )
    .deviation(
        "heartbeat pgsql's validate-all appends include '/var/lib/pgsql/tmp/recovery.conf' to \
         postgresql.conf for rep_mode=async before refusing it (6), so every later start of \
         the same server hangs until its timeout (-9 here); ocf:rust:pgsql refuses rep_mode \
         without touching any file, the next start answers 0, and a probe and stop with \
         rep_mode still set see and stop the running server",
        &[6, 0, 0, 0, 7],
    )
}

cases!(
    lifecycle,
    killed,
    pid_file_removed,
    monitor_sql_fails,
    pgctl_missing,
    replication_refused,
);
