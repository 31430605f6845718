//! MySQL and MariaDB: `mariadbd`/`mysqld` launched directly with its data
//! directory, pid file and socket on the command line; the `SHUTDOWN`
//! statement with the monitor login, else SIGTERM; mysqld_safe wrappers
//! found and ended first; reload by SIGHUP (grant tables, logs).

use std::path::{Path, PathBuf};

use ocf::{Deadline, OcfError, OcfResult, ParamSpec};
use rustix::process::Signal;

use super::{Engine, FirstStep};
use crate::config::{Config, Secret};
use crate::conn::{Conn, Phase, ProbeError};
use crate::state::Server;
use crate::{mysql, params, process};
use ocf::user::User;

#[derive(Debug)]
pub struct Mysql;

/// The socket when the `socket` parameter is not set.
pub const DEFAULT_SOCKET: &str = "/run/mysqld/mysqld.sock";

impl Engine for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }
    fn label(&self) -> &'static str {
        "MySQL"
    }

    fn default_user(&self) -> &'static str {
        "mysql"
    }
    fn default_port(&self) -> u16 {
        3306
    }
    fn default_datadir(&self) -> Option<&'static str> {
        Some("/var/lib/mysql")
    }
    fn default_pid_file(&self, _datadir: &Path) -> PathBuf {
        PathBuf::from("/run/mysqld/mysqld.pid")
    }
    /// Over the unix socket as OS root, so MariaDB's unix_socket
    /// authentication works.
    fn default_monitor_user(&self, _service_user: &str) -> String {
        "root".into()
    }
    fn default_database(&self) -> Option<&'static str> {
        None
    }
    fn own_param(&self) -> &'static ParamSpec {
        &params::SOCKET
    }

    fn find_binary(&self) -> Option<PathBuf> {
        ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
            .iter()
            .map(PathBuf::from)
            .find(|p| process::is_executable(p))
            .or_else(|| ocf::exec::which("mariadbd"))
            .or_else(|| ocf::exec::which("mysqld"))
    }
    fn initialised(&self, datadir: &Path) -> bool {
        datadir.join("mysql").is_dir()
    }
    fn server_argv(&self, cfg: &Config, binary: &Path, config: Option<&Path>) -> Vec<String> {
        let mut a = vec![binary.to_string_lossy().into_owned()];
        // --defaults-file must come first.
        if let Some(c) = config {
            a.push(format!("--defaults-file={}", c.display()));
        }
        a.push(format!("--datadir={}", cfg.datadir.to_string_lossy()));
        a.push(format!("--pid-file={}", cfg.pid_file.display()));
        a.push(format!("--socket={}", cfg.socket.display()));
        if cfg.port_set {
            a.push(format!("--port={}", cfg.port));
        }
        if let Some(h) = &cfg.host {
            a.push(format!("--bind-address={h}"));
        }
        a
    }
    /// The directories of the socket and the pid file.
    fn prepare(&self, cfg: &Config, user: &User) -> OcfResult<()> {
        for f in [&cfg.socket, &cfg.pid_file] {
            if let Some(d) = f.parent() {
                process::ensure_dir(d, user, 0o755).map_err(|e| {
                    OcfError::generic(format!("cannot create {}: {e}", d.display()))
                })?;
            }
        }
        Ok(())
    }

    fn process_names(&self) -> &'static [&'static str] {
        &["mariadbd", "mysqld"]
    }
    fn supervisors(&self, servers: &[Server], mains: &[i32]) -> Vec<i32> {
        wrappers(servers, mains)
    }

    fn socket(&self, cfg: &Config) -> PathBuf {
        cfg.socket.clone()
    }
    fn query(
        &self,
        conn: &mut Conn,
        cfg: &Config,
        user: &User,
        statement_timeout_ms: u64,
    ) -> Result<String, ProbeError> {
        let owners = [user.uid, 0];
        mysql::probe(
            conn,
            &login(cfg, &owners, &cfg.monitor_query, statement_timeout_ms),
        )
        .map(|(row, _version)| row)
    }
    /// MariaDB/MySQL reload their grant tables and reopen their logs.
    fn reload(&self, pid: i32) -> &'static str {
        process::signal(pid, Signal::HUP);
        "SIGHUP"
    }

    fn graceful_share(&self) -> f64 {
        0.5
    }
    /// `SHUTDOWN` with the monitor login when the configuration describes
    /// this server, else (or when that fails) SIGTERM.
    fn shutdown(&self, pid: i32, login: Option<&Config>, graceful: &Deadline) -> FirstStep {
        ocf::deadline::set_phase("stop: SHUTDOWN");
        let shutdown = match login {
            Some(c) => shutdown_statement(c, graceful.share(0.5)).map_err(|e| e.to_string()),
            None => Err("not the configured server".to_string()),
        };
        match shutdown {
            Ok(()) => {
                ocf::info!("MySQL accepted SHUTDOWN");
                FirstStep::Asked
            }
            Err(e) => {
                ocf::info!("SHUTDOWN statement not possible ({e}): SIGTERM to {pid}");
                process::signal(pid, Signal::TERM);
                FirstStep::Terminated
            }
        }
    }
    fn hurry(&self, pid: i32, first: FirstStep) {
        if first == FirstStep::Asked {
            ocf::deadline::set_phase("stop: SIGTERM");
            ocf::info!("MySQL did not stop after SHUTDOWN: SIGTERM to {pid}");
            process::signal(pid, Signal::TERM);
        }
    }
}

/// The monitor's login, asking `query`.
fn login<'a>(cfg: &'a Config, owners: &'a [u32], query: &'a str, ms: u64) -> mysql::Login<'a> {
    mysql::Login {
        user: &cfg.monitor_user,
        password: cfg.monitor_password.as_ref().map(Secret::expose),
        database: cfg.database.as_deref(),
        query,
        statement_timeout_ms: ms,
        server_public_key: &cfg.server_public_key,
        key_owners: owners,
    }
}

/// MySQL's clean shutdown through the protocol, with the monitor login.
fn shutdown_statement(cfg: &Config, dl: Deadline) -> Result<(), ProbeError> {
    let user = cfg
        .service_user()
        .map_err(|e| ProbeError::other(Phase::Connect, e.reason))?;
    let owners = [user.uid, 0];
    let mut conn = Conn::connect(&cfg.target(), dl, None)?;
    conn.check_peer(&owners)?;
    let mut l = login(cfg, &owners, "SHUTDOWN", 0);
    l.database = None;
    mysql::execute(&mut conn, &l)
}

/// The scripts that run mysqld in a loop and start it again when it dies.
const WRAPPERS: [&str; 3] = ["mysqld_safe", "mariadbd-safe", "safe_mysqld"];

fn is_wrapper(args: &[String]) -> bool {
    args.iter().take(2).any(|a| {
        Path::new(a)
            .file_name()
            .is_some_and(|n| WRAPPERS.iter().any(|w| n == *w))
    })
}

/// mysqld_safe processes of these servers: an ancestor of a main process,
/// or one whose arguments name a server's data directory or pid file
/// (between two restarts, no server runs under it).
fn wrappers(servers: &[Server], mains: &[i32]) -> Vec<i32> {
    let mut found = Vec::new();
    for &m in mains {
        let mut p = m;
        for _ in 0..4 {
            match process::ppid(p) {
                Some(pp) if pp > 1 => {
                    if is_wrapper(&process::cmdline(pp)) {
                        found.push(pp);
                    }
                    p = pp;
                }
                _ => break,
            }
        }
    }
    let names_ours = |a: &str| {
        if let Some(d) = a.strip_prefix("--datadir=") {
            let d = Path::new(d);
            servers.iter().any(|s| {
                s.id.datadir == d || (s.id.dir.is_some() && process::dir_id(d) == s.id.dir)
            })
        } else if let Some(f) = a.strip_prefix("--pid-file=") {
            servers
                .iter()
                .any(|s| s.pid_files.iter().any(|p| p == Path::new(f)))
        } else {
            false
        }
    };
    for pid in process::all_pids() {
        let args = process::cmdline(pid);
        if is_wrapper(&args) && args.iter().any(|a| names_ours(a)) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_are_told_by_their_script_name() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_wrapper(&v(&[
            "/bin/sh",
            "/usr/bin/mysqld_safe",
            "--datadir=/x"
        ])));
        assert!(is_wrapper(&v(&["/bin/sh", "/usr/bin/mariadbd-safe"])));
        assert!(is_wrapper(&v(&["safe_mysqld"])));
        assert!(!is_wrapper(&v(&["/usr/sbin/mariadbd", "--datadir=/x"])));
        assert!(!is_wrapper(&v(&["/bin/sh", "-c", "mysqld_safe"])));
    }
}
