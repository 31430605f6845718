//! ocf:rust:database against ocf:heartbeat:pgsql and ocf:heartbeat:mysql,
//! each side on its own real PostgreSQL 15 or MariaDB 10.11 data directory
//! (`/var/tmp/dba-c-<case>-<side>-<pid>`, initialised by initdb and
//! mariadb-install-db; every process working there or naming it is killed
//! on drop). Each case has its own port (PostgreSQL 55640-55648, MariaDB
//! 33640-33648), so cases run side by side.
//!
//! The two agents' parameters differ in name (pgsql's `pgdata`, `pgport`,
//! `pgdba`) and in value (`binary` is mysqld_safe for heartbeat mysql and
//! mariadbd for ours), so the fixture gives each side its own; a case
//! changes a parameter by the anchor's name and `.rename` maps it for ours.
//! The server programs are links in the case's directory: removing them is
//! the upgrade that removed a binary under a running server.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;
use support::wait_for;

use support::database as db;

enum Server {
    Pg(db::Pg),
    My(db::My),
}

pub struct Db {
    side: Side,
    /// Ours is ocf:rust:pgsql or ocf:rust:mysql: it gets the anchor's
    /// parameters, unchanged.
    compat: bool,
    server: Server,
    /// The links to the server programs the agents are given.
    bin: PathBuf,
    /// A process that is not the server (a recycled PID stands for it).
    other: Option<i32>,
}

impl Db {
    /// The fixture of an ocf:rust:pgsql or ocf:rust:mysql case: both sides
    /// get the heartbeat agent's parameters.
    pub fn compat(mut self) -> Db {
        self.compat = true;
        self
    }

    pub fn pg(side: Side, name: &str, port: u16) -> Db {
        let pg = db::Pg::init(&format!("c-{name}-{}", side.label()), port);
        let bin = pg.dir.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for p in ["pg_ctl", "postgres"] {
            symlink(db::pg_bin().join(p), bin.join(p)).unwrap();
        }
        Db {
            side,
            compat: false,
            server: Server::Pg(pg),
            bin,
            other: None,
        }
    }

    pub fn my(side: Side, name: &str, port: u16) -> Db {
        let my = db::My::init(&format!("c-{name}-{}", side.label()), port);
        let bin = my.dir.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        symlink("/usr/bin/mysqld_safe", bin.join("mysqld_safe")).unwrap();
        symlink("/usr/sbin/mariadbd", bin.join("mariadbd")).unwrap();
        // The socket and pid directory, as the packaging makes /run/mysqld.
        let run = my.pid.parent().unwrap();
        std::fs::create_dir_all(run).unwrap();
        let (uid, gid) = db::ids(db::MY_UID_NAME);
        std::os::unix::fs::chown(run, Some(uid), Some(gid)).unwrap();
        if side == Side::Anchor {
            // heartbeat mysql starts mysqld_safe in the background through
            // `runuser ... -c "... >/dev/null 2>&1" &`; the login shell in
            // between keeps the agent's stderr open for as long as the
            // server runs, and the runner reads stderr to its end (the
            // ocf-tester hang of env-lab section 10). The same runuser, with
            // its stderr in a file: nothing else changes.
            let shim = my.dir.path("shim");
            std::fs::create_dir_all(&shim).unwrap();
            let script = format!(
                "#!/bin/sh\nexec /usr/sbin/runuser \"$@\" 2>>{}\n",
                my.dir.path("runuser.err").display()
            );
            std::fs::write(shim.join("runuser"), script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(shim.join("runuser"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        Db {
            side,
            compat: false,
            server: Server::My(my),
            bin,
            other: None,
        }
    }

    fn data(&self) -> &Path {
        match &self.server {
            Server::Pg(p) => &p.data,
            Server::My(m) => &m.data,
        }
    }

    fn base(&self) -> &Path {
        match &self.server {
            Server::Pg(p) => &p.dir.base,
            Server::My(m) => &m.dir.base,
        }
    }

    /// The file that names the server's PID.
    fn pid_file(&self) -> PathBuf {
        match &self.server {
            Server::Pg(p) => p.data.join("postmaster.pid"),
            Server::My(m) => m.pid.clone(),
        }
    }

    fn server_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.pid_file())
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn mariadb(&self) -> &db::My {
        match &self.server {
            Server::My(m) => m,
            Server::Pg(_) => panic!("a MariaDB case"),
        }
    }
}

impl Fixture for Db {
    fn params(&self) -> Vec<(String, String)> {
        let s = |v: &Path| v.display().to_string();
        let kv = |k: &str, v: String| (k.to_string(), v);
        let side = if self.compat { Side::Anchor } else { self.side };
        match (&self.server, side) {
            (Server::Pg(pg), Side::Anchor) => vec![
                kv("pgctl", s(&self.bin.join("pg_ctl"))),
                kv("psql", s(&db::pg_bin().join("psql"))),
                kv("pgdata", s(&pg.data)),
                kv("pgport", pg.port.to_string()),
                kv("socketdir", s(&pg.sock)),
                kv("pgdba", "postgres".into()),
                kv("logfile", s(&pg.dir.path("server.log"))),
            ],
            (Server::Pg(pg), Side::Ours) => vec![
                kv("engine", "postgresql".into()),
                kv("binary", s(&self.bin.join("postgres"))),
                kv("datadir", s(&pg.data)),
                kv("port", pg.port.to_string()),
                kv("socketdir", s(&pg.sock)),
                kv("log", s(&pg.dir.path("server.log"))),
            ],
            (Server::My(my), side) => {
                let mut v = vec![
                    kv("config", s(&my.cnf)),
                    kv("datadir", s(&my.data)),
                    kv("pid", s(&my.pid)),
                    kv("socket", s(&my.sock)),
                    kv("user", "mysql".into()),
                    kv("log", s(&my.pid.parent().unwrap().join("error.log"))),
                ];
                match side {
                    Side::Anchor => v.extend([
                        kv("binary", s(&self.bin.join("mysqld_safe"))),
                        kv("client_binary", "/usr/bin/mariadb".into()),
                        kv("group", "mysql".into()),
                    ]),
                    Side::Ours => v.extend([
                        kv("engine", "mysql".into()),
                        kv("binary", s(&self.bin.join("mariadbd"))),
                    ]),
                }
                v
            }
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        match (&self.server, self.side) {
            (Server::My(my), Side::Anchor) => vec![(
                "PATH".into(),
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    my.dir.path("shim").display()
                ),
            )],
            _ => Vec::new(),
        }
    }

    fn observe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let server = !db::processes_under(self.data()).is_empty();
        if server {
            out.push("database server processes run in the data directory".into());
        } else if !db::wrappers_naming(self.base()).is_empty() {
            // Between two restarts a wrapper is all there is.
            out.push("a mysqld_safe wrapper runs (it restarts the server)".into());
        }
        if let Some(o) = self.other {
            let alive = Path::new(&format!("/proc/{o}")).exists() && !is_zombie(o);
            out.push(format!(
                "the unrelated process named by the pid file is {}",
                if alive { "alive" } else { "gone" }
            ));
        }
        out
    }

    fn running(&self) -> bool {
        !db::processes_under(self.data()).is_empty() || !db::wrappers_naming(self.base()).is_empty()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(o) = self.other.take()
            && !is_zombie(o)
        {
            db::kill(o, libc::SIGKILL);
        }
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s[s.rfind(')').unwrap_or(0) + 1..]
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

const PGSQL: (&str, &str) = ("heartbeat/pgsql", "rust/database");
const MYSQL: (&str, &str) = ("heartbeat/mysql", "rust/database");
const PG_NAMES: &[(&str, &str)] = &[("pgdata", "datadir"), ("pgport", "port"), ("pgdba", "user")];

// ---- World changes ------------------------------------------------------

pub(super) fn remove_binaries(d: &mut Db) {
    std::fs::remove_dir_all(&d.bin).unwrap();
}

pub(super) fn remove_pid_file(d: &mut Db) {
    std::fs::remove_file(d.pid_file()).unwrap();
}

/// SIGKILL the server and wait until none of its processes is left; a
/// mysqld_safe wrapper (the anchor's) gets up to 10 s to bring it back.
pub(super) fn kill_server(d: &mut Db) {
    let pid = d.server_pid().expect("a running server");
    db::kill(pid, libc::SIGKILL);
    assert!(wait_for(Duration::from_secs(10), || {
        !db::processes_under(d.data()).contains(&pid)
    }));
    // Until init reaps it, a zombie answers kill -0 (the anchors' test of
    // life); a node's init reaps at once, so wait for that here.
    wait_for(Duration::from_secs(10), || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    if !db::wrappers_naming(d.base()).is_empty() {
        wait_for(Duration::from_secs(10), || {
            d.server_pid().is_some_and(|p| p != pid)
                && matches!(&d.server, Server::My(m) if m.sql("SELECT 1").is_ok())
        });
    } else {
        assert!(wait_for(Duration::from_secs(5), || db::processes_under(
            d.data()
        )
        .is_empty()));
    }
}

pub(super) fn remove_socket_dir(d: &mut Db) {
    match &d.server {
        Server::Pg(p) => std::fs::remove_dir_all(&p.sock).unwrap(),
        Server::My(m) => std::fs::remove_file(&m.sock).unwrap(),
    }
}

/// A process that is not the server, owned by the service user, named by
/// the pid file: what a PID recycled after a crash looks like.
pub(super) fn pid_file_names_another_process(d: &mut Db) {
    let user = match d.server {
        Server::Pg(_) => db::PG_UID_NAME,
        Server::My(_) => db::MY_UID_NAME,
    };
    // A number of seconds no other test uses, to find it by.
    let secs = format!(
        "{}.{}",
        300 + d.base().to_string_lossy().len() % 50,
        std::process::id()
    );
    let other = db::spawn_orphan_sleep(user, &secs);
    std::fs::write(d.pid_file(), format!("{other}\n")).unwrap();
    d.other = Some(other);
}

pub(super) fn start_under_mysqld_safe(d: &mut Db) {
    // The wrapper is killed on drop, with everything naming the directory.
    d.mariadb().start_under_mysqld_safe();
}

fn hang_server(d: &mut Db) {
    db::kill(d.server_pid().unwrap(), libc::SIGSTOP);
}

pub(super) fn settle(_: &mut Db) {
    // Long enough for mysqld_safe to start a killed server again.
    std::thread::sleep(Duration::from_secs(3));
}

// ---- PostgreSQL -----------------------------------------------------------

fn pg_lifecycle() -> Case<Db> {
    Case::new(
        "database/pg-lifecycle",
        "probe, start, start, monitor, stop, stop, probe",
        PGSQL,
        |s| Db::pg(s, "pg-life", 55640),
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
    .rename(PG_NAMES)
}

fn pg_binary_removed() -> Case<Db> {
    Case::new(
        "database/pg-binary-removed",
        "the server programs are removed (an upgrade) while the server runs",
        PGSQL,
        |s| Db::pg(s, "pg-nobin", 55641),
        vec![
            run("start"),
            Step::Do("remove the server programs", remove_binaries),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .rename(PG_NAMES)
    .deviation(
        "heartbeat pgsql answers probe 7 and stop 0 without stopping the server when pg_ctl is \
         missing; ours sees the recorded server (probe 0) and stops it",
        &[0, 0, 0, 0, 7],
    )
}

fn pg_user_missing() -> Case<Db> {
    Case::new(
        "database/pg-user-missing",
        "the service user does not resolve (NSS down, wrong name) while the server runs",
        PGSQL,
        |s| Db::pg(s, "pg-nouser", 55642),
        vec![
            run("start"),
            run_with("probe", &[("pgdba", "dba-nobody")]),
            run_with("stop", &[("pgdba", "dba-nobody")]),
            probe(),
        ],
    )
    .rename(PG_NAMES)
    .deviation(
        "heartbeat pgsql answers probe 7 and stop 0 without stopping the server when the user \
         does not resolve; ours probes 0 and stops it",
        &[0, 0, 0, 7],
    )
}

fn pg_pid_file_removed() -> Case<Db> {
    Case::new(
        "database/pg-pid-file-removed",
        "postmaster.pid is removed while the server runs",
        PGSQL,
        |s| Db::pg(s, "pg-nopid", 55643),
        vec![
            run("start"),
            Step::Do("remove postmaster.pid", remove_pid_file),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .rename(PG_NAMES)
    .deviation(
        "heartbeat pgsql knows the server only by postmaster.pid: probe 7 and stop 0 with the \
         server left running; ours finds it by its record and data directory and stops it",
        &[0, 0, 0, 0, 7],
    )
}

fn pg_killed() -> Case<Db> {
    Case::new(
        "database/pg-killed",
        "the postmaster is SIGKILLed (a stale postmaster.pid is left)",
        PGSQL,
        |s| Db::pg(s, "pg-killed", 55644),
        vec![
            run("start"),
            Step::Do("kill -9 the postmaster", kill_server),
            probe(),
            run("stop"),
            probe(),
            run("start"),
            run("stop"),
        ],
    )
    .rename(PG_NAMES)
}

fn pg_datadir_changed() -> Case<Db> {
    Case::new(
        "database/pg-datadir-changed",
        "the data directory parameter is changed to an empty directory while the server runs",
        PGSQL,
        |s| Db::pg(s, "pg-moved", 55645),
        vec![
            run("start"),
            run_with("probe", &[("pgdata", "/var/tmp")]),
            run_with("stop", &[("pgdata", "/var/tmp")]),
            probe(),
        ],
    )
    .rename(PG_NAMES)
    .deviation(
        "heartbeat pgsql probes the new directory (7) and stops 0 with the server left \
         running; ours probes 0 and stops the server start recorded",
        &[0, 0, 0, 7],
    )
}

fn pg_socket_dir_removed() -> Case<Db> {
    Case::new(
        "database/pg-socketdir-removed",
        "the socket directory is removed while the server runs",
        PGSQL,
        |s| Db::pg(s, "pg-nosock", 55646),
        vec![
            run("start"),
            Step::Do("remove the socket directory", remove_socket_dir),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .rename(PG_NAMES)
}

fn pg_pid_file_names_another_process() -> Case<Db> {
    Case::new(
        "database/pg-pid-recycled",
        "never started; postmaster.pid names another process of the postgres user",
        PGSQL,
        |s| Db::pg(s, "pg-recycled", 55647),
        vec![
            Step::Do(
                "postmaster.pid names another process",
                pid_file_names_another_process,
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .rename(PG_NAMES)
    .deviation(
        "heartbeat pgsql takes any live PID in postmaster.pid for the server: probe 1, and \
         pg_ctl stop signals that other process; ours checks the program and data directory \
         (probe 7, stop 0, the process untouched)",
        &[0, 7, 0, 7],
    )
}

// ---- MariaDB ----------------------------------------------------------------

fn my_lifecycle() -> Case<Db> {
    Case::new(
        "database/my-lifecycle",
        "probe, start, start, monitor, stop, stop, probe",
        MYSQL,
        |s| Db::my(s, "my-life", 33640),
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

fn my_binary_removed() -> Case<Db> {
    Case::new(
        "database/my-binary-removed",
        "the server programs are removed (an upgrade) while the server runs",
        MYSQL,
        |s| Db::my(s, "my-nobin", 33641),
        vec![
            run("start"),
            Step::Do("remove the server programs", remove_binaries),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql probes 1 (validation failed, PID alive); ours probes 0: the server \
         runs, and the recurring monitor fails",
        &[0, 0, 0, 0, 7],
    )
}

fn my_user_missing() -> Case<Db> {
    Case::new(
        "database/my-user-missing",
        "the service user does not resolve while the server runs",
        MYSQL,
        |s| Db::my(s, "my-nouser", 33642),
        vec![
            run("start"),
            run_with("probe", &[("user", "dba-nobody")]),
            run_with("stop", &[("user", "dba-nobody")]),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql probes 1 (validation failed, PID alive); ours probes 0: the server \
         runs, and the recurring monitor fails",
        &[0, 0, 0, 7],
    )
}

fn my_pid_file_removed() -> Case<Db> {
    Case::new(
        "database/my-pid-file-removed",
        "the pid file is removed while the server runs",
        MYSQL,
        |s| Db::my(s, "my-nopid", 33643),
        vec![
            run("start"),
            Step::Do("remove the pid file", remove_pid_file),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql knows the server only by its pid file: probe 7 and stop 0 with the \
         server left running; ours finds it by its record and data directory and stops it",
        &[0, 0, 0, 0, 7],
    )
}

fn my_killed() -> Case<Db> {
    Case::new(
        "database/my-killed",
        "the server is SIGKILLed",
        MYSQL,
        |s| Db::my(s, "my-killed", 33644),
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
         Pacemaker's back (probe 0); ours runs no wrapper: probe 7",
        &[0, 0, 7, 0, 7],
    )
}

fn my_pid_changed() -> Case<Db> {
    Case::new(
        "database/my-pid-changed",
        "the pid parameter is changed to another (valid) path while the server runs",
        MYSQL,
        |s| Db::my(s, "my-pidmoved", 33645),
        vec![
            run("start"),
            run_with(
                "probe",
                &[("pid", "/var/tmp/dba-conformance-elsewhere.pid")],
            ),
            run_with("stop", &[("pid", "/var/tmp/dba-conformance-elsewhere.pid")]),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql looks only at the new pid file: probe 7 and stop 0 with the server \
         left running; ours sees the server start recorded and stops it",
        &[0, 0, 0, 7],
    )
}

fn my_pid_file_names_another_process() -> Case<Db> {
    Case::new(
        "database/my-pid-recycled",
        "never started; the pid file names another process of the mysql user",
        MYSQL,
        |s| Db::my(s, "my-recycled", 33646),
        vec![
            Step::Do(
                "the pid file names another process",
                pid_file_names_another_process,
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "heartbeat mysql takes any live PID in the pid file for the server: probe 0, and stop \
         kills that other process; ours checks the program and data directory (probe 7, stop \
         0, the process untouched)",
        &[0, 7, 0, 7],
    )
}

fn my_started_by_hand() -> Case<Db> {
    Case::new(
        "database/my-started-by-hand",
        "a server started by hand under mysqld_safe, outside Pacemaker: probe, stop, probe",
        MYSQL,
        |s| Db::my(s, "my-byhand", 33647),
        vec![
            Step::Do("start mysqld_safe by hand", start_under_mysqld_safe),
            probe(),
            run("stop"),
            Step::Do("wait", settle),
            probe(),
        ],
    )
}

fn my_wrapper_restarts_a_hung_server() -> Case<Db> {
    Case::new(
        "database/my-safe-hung",
        "a server under mysqld_safe hangs (SIGSTOP); stop, then probe",
        MYSQL,
        |s| Db::my(s, "my-safehung", 33648),
        vec![
            Step::Do("start mysqld_safe by hand", start_under_mysqld_safe),
            Step::Do("SIGSTOP the server", hang_server),
            run("stop"),
            Step::Do("wait", settle),
            probe(),
            run("stop"),
        ],
    )
    .timeout_ms(8000)
    .deviation(
        "heartbeat mysql SIGKILLs the hung server (and answers 1: it looks once, at once), and \
         mysqld_safe starts it again behind Pacemaker's back (probe 0); ours kills the wrapper \
         first: stop 0 and the server stays down (probe 7)",
        &[0, 0, 0, 0, 7, 0],
    )
}

cases!(
    pg_lifecycle,
    pg_binary_removed,
    pg_user_missing,
    pg_pid_file_removed,
    pg_killed,
    pg_datadir_changed,
    pg_socket_dir_removed,
    pg_pid_file_names_another_process,
    my_lifecycle,
    my_binary_removed,
    my_user_missing,
    my_pid_file_removed,
    my_killed,
    my_pid_changed,
    my_pid_file_names_another_process,
    my_started_by_hand,
    my_wrapper_restarts_a_hung_server,
);
