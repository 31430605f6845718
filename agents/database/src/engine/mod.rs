//! Everything that differs between PostgreSQL and MySQL/MariaDB, behind
//! one trait: how a server is configured, launched, recognised among the
//! processes, asked the monitor query, reloaded and stopped. The rest of
//! the agent (start, monitor, stop, the record) is engine-neutral and asks
//! the `Engine` of its configuration, or of a record, for these facts.
//!
//! An engine is a unit value: [`POSTGRESQL`] and [`MYSQL`]; [`by_name`]
//! maps the `engine` parameter's (and the record's) value to one.

pub mod mysql;
pub mod postgresql;

use std::fmt;
use std::path::{Path, PathBuf};

use ocf::{Deadline, OcfResult, ParamSpec};

use crate::config::Config;
use crate::conn::{Conn, PeerIdentity, ProbeError};
use crate::process;
use crate::state::Server;
use ocf::user::User;

pub use mysql::Mysql;
pub use postgresql::Postgresql;

pub const POSTGRESQL: &dyn Engine = &Postgresql;
pub const MYSQL: &dyn Engine = &Mysql;

/// Every engine, in the order the parameter lists them.
pub const ALL: [&dyn Engine; 2] = [POSTGRESQL, MYSQL];

/// The engine the `engine` parameter (or a record) names.
pub fn by_name(name: &str) -> Option<&'static dyn Engine> {
    ALL.into_iter().find(|e| e.name() == name)
}

/// The engines a server described without one may be (raw parameters
/// that do not say): all of them.
pub fn candidates(engine: Option<&'static dyn Engine>) -> Vec<&'static dyn Engine> {
    match engine {
        Some(e) => vec![e],
        None => ALL.to_vec(),
    }
}

/// The engine whose program `pid` runs; MySQL when none claims it.
pub fn of_process(pid: i32) -> &'static dyn Engine {
    let exe = process::exe_name(pid);
    ALL.into_iter()
        .find(|e| {
            exe.as_deref()
                .is_some_and(|n| e.process_names().contains(&n))
        })
        .unwrap_or(MYSQL)
}

impl PartialEq for dyn Engine {
    fn eq(&self, other: &dyn Engine) -> bool {
        self.name() == other.name()
    }
}

/// What stop's first step did to a main process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstStep {
    /// Asked it to shut down (a signal meaning "fast", a statement).
    Asked,
    /// Could not ask: sent SIGTERM instead.
    Terminated,
}

/// One kind of database server.
pub trait Engine: fmt::Debug + Sync {
    /// The `engine` parameter's value, also kept in the record.
    fn name(&self) -> &'static str;
    /// The name in messages: "PostgreSQL", "MySQL".
    fn label(&self) -> &'static str;

    // ---- Defaults of the configuration (syntax only, nothing looked up) ----

    fn default_user(&self) -> &'static str;
    fn default_port(&self) -> u16;
    /// The data directory when the parameter is not set; None: required.
    fn default_datadir(&self) -> Option<&'static str>;
    fn default_pid_file(&self, datadir: &Path) -> PathBuf;
    fn default_monitor_user(&self, service_user: &str) -> String;
    fn default_database(&self) -> Option<&'static str>;
    /// The parameter only this engine takes (PostgreSQL's `socketdir`,
    /// MySQL's `socket`).
    fn own_param(&self) -> &'static ParamSpec;

    // ---- What start runs ----

    /// The server program in the engine's usual places.
    fn find_binary(&self) -> Option<PathBuf>;
    /// Does `datadir` hold an initialised data directory of this engine?
    fn initialised(&self, datadir: &Path) -> bool;
    /// The configuration file start passes (looked up on start only).
    fn start_config(&self, cfg: &Config) -> Option<PathBuf> {
        cfg.config.clone()
    }
    /// The server's command line, before `additional_parameters`.
    fn server_argv(&self, cfg: &Config, binary: &Path, config: Option<&Path>) -> Vec<String>;
    /// Directories the server needs, and stale files a crash left behind
    /// (besides the pid file, which start removes itself).
    fn prepare(&self, cfg: &Config, user: &User) -> OcfResult<()>;

    // ---- How its processes are recognised ----

    /// Program names a server process of this engine may run under.
    fn process_names(&self) -> &'static [&'static str];
    /// Files the server writes itself that name its main process, whatever
    /// the `pid` parameter says.
    fn own_pid_files(&self, _datadir: &Path) -> Vec<PathBuf> {
        Vec::new()
    }
    /// A process of the server that is never its main one (a PostgreSQL
    /// backend).
    fn is_worker(&self, _pid: i32) -> bool {
        false
    }
    /// Processes that would start a stopped server again behind
    /// Pacemaker's back (mysqld_safe), of these servers and main processes.
    fn supervisors(&self, _servers: &[Server], _mains: &[i32]) -> Vec<i32> {
        Vec::new()
    }

    // ---- The monitor ----

    /// The unix socket the server listens on.
    fn socket(&self, cfg: &Config) -> PathBuf;
    /// The OS identity to connect to the unix socket with (PostgreSQL's
    /// peer authentication maps it); None keeps root.
    fn peer_identity(&self, _user: &User) -> Option<PeerIdentity> {
        None
    }
    /// Log in on a connected (and, on a unix socket, checked) `conn` and
    /// run the monitor query: the first column of its first row.
    fn query(
        &self,
        conn: &mut Conn,
        cfg: &Config,
        user: &User,
        statement_timeout_ms: u64,
    ) -> Result<String, ProbeError>;

    /// Tell the running server to re-read its configuration; returns how,
    /// for the log.
    fn reload(&self, pid: i32) -> &'static str;

    // ---- Stop: graceful, then faster, then SIGKILL (the last is common) ----

    /// The share of the graceful budget the first step gets before the
    /// second is tried.
    fn graceful_share(&self) -> f64;
    /// The first, graceful step. `login` is the configuration when it
    /// describes this very server (a statement may then be sent with its
    /// monitor login), within `graceful`.
    fn shutdown(&self, pid: i32, login: Option<&Config>, graceful: &Deadline) -> FirstStep;
    /// The second step, for a main process still there after the first.
    fn hurry(&self, pid: i32, first: FirstStep);
}
