//! ocf:rust:mysql against ocf:heartbeat:mysql: both get the heartbeat
//! agent's parameters, unchanged (`binary` is mysqld_safe for both), each
//! side on its own real MariaDB 10.11 data directory (the fixture of
//! [`super::database`]). Ports 56150-56169.

use super::database::{Db, kill_server};
use super::runner::{Case, Step, probe, run, run_with};
use crate::cases;

const MYSQL: (&str, &str) = ("heartbeat/mysql", "rust/mysql");

fn lifecycle() -> Case<Db> {
    Case::new(
        "mysql/lifecycle",
        "probe, start, start, monitor, stop, stop, probe with heartbeat's parameters",
        MYSQL,
        |s| Db::my(s, "i16db-my-life", 56150).compat(),
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
        "mysql/killed",
        "the server is SIGKILLed",
        MYSQL,
        |s| Db::my(s, "i16db-my-killed", 56151).compat(),
        vec![
            run("start"),
            Step::Do("kill -9 the server", kill_server),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql runs the server under mysqld_safe, which starts it again behind \
         Pacemaker's back (probe 0); ocf:rust:mysql starts the server mysqld_safe would run \
         without the wrapper: probe 7, and Pacemaker recovers it",
        &[0, 0, 7, 0, 7],
    )
}

fn test_table() -> Case<Db> {
    Case::new(
        "mysql/test-table",
        "test_table names a table that does not exist",
        MYSQL,
        |s| Db::my(s, "i16db-my-table", 56152).compat(),
        vec![
            run("start"),
            run_with("monitor", &[("test_table", "no_such.tbl")]),
            run("monitor"),
            run("stop"),
        ],
    )
    .deviation(
        "heartbeat mysql runs the test_table query only at OCF_CHECK_LEVEL 10 (a plain monitor \
         checks the pid: 0); ocf:rust:mysql runs it on every monitor: 1",
        &[0, 1, 0, 0],
    )
}

fn binary_missing() -> Case<Db> {
    Case::new(
        "mysql/binary-missing",
        "binary names no program (ocft's \"invalid OCF_RESKEY_binary\"), then a user that \
         cannot write datadir (ocft's \"invalid user\") and one that does not exist",
        MYSQL,
        |s| Db::my(s, "i16db-my-nobin", 56153).compat(),
        vec![
            run_with("start", &[("binary", "no_such")]),
            run_with("start", &[("user", "nobody")]),
            run_with("start", &[("user", "dba-nobody")]),
            probe(),
        ],
    )
}

fn replication_refused() -> Case<Db> {
    Case::new(
        "mysql/replication-refused",
        "replication_user on a primitive: start refused; a running server is still probed and \
         stopped",
        MYSQL,
        |s| Db::my(s, "i16db-my-rep", 56154).compat(),
        vec![
            run_with("start", &[("replication_user", "repl")]),
            run("start"),
            run_with("probe", &[("replication_user", "repl")]),
            run_with("stop", &[("replication_user", "repl")]),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql ignores replication_user on a primitive (start 0); ocf:rust:mysql \
         refuses a replication parameter that asks for replication (6, not supported yet) \
         rather than ignore it silently; probe and stop with it set still see and stop the \
         running server",
        &[6, 0, 0, 0, 7],
    )
}

cases!(
    lifecycle,
    killed,
    test_table,
    binary_missing,
    replication_refused,
);
