//! PostgreSQL: `postgres -D <datadir>` launched directly; its socket
//! `<socketdir>/.s.PGSQL.<port>`, its own `postmaster.pid`, backends that
//! retitle themselves "postgres: ..."; fast shutdown (SIGINT), then
//! immediate (SIGQUIT); reload by SIGHUP, as `pg_ctl reload` does.

use std::fs;
use std::path::{Path, PathBuf};

use ocf::{Deadline, OcfError, OcfResult, ParamSpec};
use rustix::process::Signal;

use super::{Engine, FirstStep};
use crate::config::{Config, Secret};
use crate::conn::{Conn, PeerIdentity, ProbeError};
use crate::{params, pg, process};
use ocf::user::User;

#[derive(Debug)]
pub struct Postgresql;

/// Where Debian's build puts the socket, and so the default.
const DEFAULT_SOCKETDIR: &str = "/var/run/postgresql";

impl Engine for Postgresql {
    fn name(&self) -> &'static str {
        "postgresql"
    }
    fn label(&self) -> &'static str {
        "PostgreSQL"
    }

    fn default_user(&self) -> &'static str {
        "postgres"
    }
    fn default_port(&self) -> u16 {
        5432
    }
    fn default_datadir(&self) -> Option<&'static str> {
        None
    }
    /// The postmaster always writes its own lock file there.
    fn default_pid_file(&self, datadir: &Path) -> PathBuf {
        datadir.join("postmaster.pid")
    }
    /// Over the unix socket the monitor connects as the service user, so
    /// Debian's peer authentication works.
    fn default_monitor_user(&self, service_user: &str) -> String {
        service_user.to_string()
    }
    fn default_database(&self) -> Option<&'static str> {
        Some("postgres")
    }
    fn own_param(&self) -> &'static ParamSpec {
        &params::SOCKETDIR
    }

    /// The newest /usr/lib/postgresql/*/bin/postgres, else on PATH.
    fn find_binary(&self) -> Option<PathBuf> {
        newest_postgres(Path::new("/usr/lib/postgresql")).or_else(|| ocf::exec::which("postgres"))
    }
    fn initialised(&self, datadir: &Path) -> bool {
        datadir.join("PG_VERSION").is_file()
    }
    /// The parameter; else, for a data directory without its own
    /// postgresql.conf, the Debian cluster's
    /// /etc/postgresql/<version>/<cluster>/postgresql.conf whose
    /// data_directory is this one.
    fn start_config(&self, cfg: &Config) -> Option<PathBuf> {
        if cfg.config.is_some() || cfg.datadir.join("postgresql.conf").is_file() {
            return cfg.config.clone();
        }
        debian_pg_config(Path::new("/etc/postgresql"), &cfg.datadir)
    }
    fn server_argv(&self, cfg: &Config, binary: &Path, config: Option<&Path>) -> Vec<String> {
        let mut a = vec![
            binary.to_string_lossy().into_owned(),
            "-D".into(),
            cfg.datadir.to_string_lossy().into_owned(),
        ];
        if let Some(c) = config {
            a.push("-c".into());
            a.push(format!("config_file={}", c.display()));
        }
        if cfg.port_set {
            a.push("-p".into());
            a.push(cfg.port.to_string());
        }
        if let Some(s) = &cfg.socketdir {
            a.push("-k".into());
            a.push(s.to_string_lossy().into_owned());
        }
        if let Some(h) = &cfg.host {
            a.push("-h".into());
            a.push(h.clone());
        }
        a
    }
    /// The socket directory (/var/run/postgresql is normally made by the
    /// packaging's tmpfiles.d, which a cluster node may not run), and a
    /// stale socket lock.
    fn prepare(&self, cfg: &Config, user: &User) -> OcfResult<()> {
        if let Some(dir) = self.socket(cfg).parent() {
            process::ensure_dir(dir, user, 0o2775)
                .map_err(|e| OcfError::generic(format!("cannot create {}: {e}", dir.display())))?;
        }
        remove_stale_socket_lock(&self.socket(cfg));
        Ok(())
    }

    fn process_names(&self) -> &'static [&'static str] {
        &["postgres", "postmaster"]
    }
    fn own_pid_files(&self, datadir: &Path) -> Vec<PathBuf> {
        vec![datadir.join("postmaster.pid")]
    }
    /// A child of the postmaster: it rewrites its title to "postgres: ...".
    fn is_worker(&self, pid: i32) -> bool {
        process::cmdline(pid)
            .first()
            .is_some_and(|a| a.starts_with("postgres:"))
    }

    /// `<socketdir>/.s.PGSQL.<port>`.
    fn socket(&self, cfg: &Config) -> PathBuf {
        cfg.socketdir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKETDIR))
            .join(format!(".s.PGSQL.{}", cfg.port))
    }
    /// Peer authentication maps the OS user: connect as the service user.
    fn peer_identity(&self, user: &User) -> Option<PeerIdentity> {
        Some(PeerIdentity {
            uid: user.uid,
            gid: user.gid,
        })
    }
    fn query(
        &self,
        conn: &mut Conn,
        cfg: &Config,
        _user: &User,
        statement_timeout_ms: u64,
    ) -> Result<String, ProbeError> {
        pg::probe(
            conn,
            &pg::Login {
                user: &cfg.monitor_user,
                password: cfg.monitor_password.as_ref().map(Secret::expose),
                database: cfg.database.as_deref().unwrap_or("postgres"),
                query: &cfg.monitor_query,
                statement_timeout_ms,
                allow_md5: cfg.monitor_allow_md5,
            },
        )
    }
    /// What `pg_ctl reload` sends: postgresql.conf, pg_hba.conf, ALTER SYSTEM.
    fn reload(&self, pid: i32) -> &'static str {
        process::signal(pid, Signal::HUP);
        "SIGHUP"
    }

    fn graceful_share(&self) -> f64 {
        0.7
    }
    fn shutdown(&self, pid: i32, _login: Option<&Config>, _graceful: &Deadline) -> FirstStep {
        ocf::deadline::set_phase("stop: fast shutdown");
        ocf::info!("fast shutdown of PostgreSQL (SIGINT to {pid})");
        process::signal(pid, Signal::INT);
        FirstStep::Asked
    }
    fn hurry(&self, pid: i32, _first: FirstStep) {
        ocf::deadline::set_phase("stop: immediate shutdown");
        ocf::warn!("fast shutdown did not finish: immediate shutdown (SIGQUIT to {pid})");
        process::signal(pid, Signal::QUIT);
    }
}

/// PostgreSQL refuses to start while `.s.PGSQL.<port>.lock` names a PID
/// that exists, and a killed postmaster that nobody reaped is a zombie that
/// exists. A lock whose PID is not a live process goes, with its socket.
fn remove_stale_socket_lock(socket: &Path) {
    let lock = PathBuf::from(format!("{}.lock", socket.display()));
    if let Some(pid) = process::read_pid_file(&lock)
        && !process::alive(pid)
    {
        for f in [lock.as_path(), socket] {
            if fs::remove_file(f).is_ok() {
                ocf::info!("removed stale {} (pid {pid} is gone)", f.display());
            }
        }
    }
}

/// Debian's layout: /etc/postgresql/<version>/<cluster>/postgresql.conf
/// names its data directory in `data_directory = '...'`.
pub(crate) fn debian_pg_config(etc: &Path, datadir: &Path) -> Option<PathBuf> {
    let want = fs::canonicalize(datadir).unwrap_or_else(|_| datadir.to_path_buf());
    let mut found: Vec<PathBuf> = fs::read_dir(etc)
        .ok()?
        .flatten()
        .filter_map(|v| fs::read_dir(v.path()).ok())
        .flat_map(|clusters| clusters.flatten().map(|c| c.path().join("postgresql.conf")))
        .filter(|conf| {
            // The cluster's directory belongs to postgres: no link, no
            // FIFO, at most 1 MiB.
            ocf::files::read_regular(conf, 1 << 20, None)
                .ok()
                .and_then(|text| data_directory(&String::from_utf8_lossy(&text)))
                .is_some_and(|d| fs::canonicalize(&d).unwrap_or(d) == want)
        })
        .collect();
    found.sort();
    found.pop()
}

/// The value of `data_directory` in a postgresql.conf text (the last one
/// wins, as in PostgreSQL).
pub(crate) fn data_directory(conf: &str) -> Option<PathBuf> {
    conf.lines()
        .rev()
        .filter_map(|l| {
            let l = l.split('#').next()?.trim();
            let (k, v) = l
                .split_once('=')
                .or_else(|| l.split_once(char::is_whitespace))?;
            (k.trim() == "data_directory").then(|| v.trim().trim_matches('\'').to_string())
        })
        .find(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `/usr/lib/postgresql/<newest version>/bin/postgres`.
fn newest_postgres(root: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let key: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let bin = e.path().join("bin/postgres");
            process::is_executable(&bin).then_some((key, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_cluster_config_is_found_by_its_data_directory() {
        assert_eq!(
            data_directory(
                "#data_directory = '/x'\ndata_directory = '/var/lib/postgresql/15/main'\t\t# use data\n"
            ),
            Some(PathBuf::from("/var/lib/postgresql/15/main"))
        );
        assert_eq!(data_directory("port = 5432\n"), None);
        let root = std::env::temp_dir().join(format!("dba-unit-etcpg-{}", std::process::id()));
        let data = root.join("data");
        fs::create_dir_all(&data).unwrap();
        for (cluster, dir) in [
            ("main", "/elsewhere".to_string()),
            ("ha", data.display().to_string()),
        ] {
            let d = root.join("etc/15").join(cluster);
            fs::create_dir_all(&d).unwrap();
            fs::write(
                d.join("postgresql.conf"),
                format!("data_directory = '{dir}'\n"),
            )
            .unwrap();
        }
        assert_eq!(
            debian_pg_config(&root.join("etc"), &data),
            Some(root.join("etc/15/ha/postgresql.conf"))
        );
        assert_eq!(
            debian_pg_config(&root.join("etc"), &root.join("nothing")),
            None
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn newest_postgres_is_found() {
        let root = std::env::temp_dir().join(format!("dba-unit-pgroot-{}", std::process::id()));
        for v in ["9.6", "15", "13", "notaversion"] {
            let bin = root.join(v).join("bin");
            fs::create_dir_all(&bin).unwrap();
            fs::write(bin.join("postgres"), "").unwrap();
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(bin.join("postgres"), fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(newest_postgres(&root), Some(root.join("15/bin/postgres")));
        fs::remove_dir_all(&root).unwrap();
    }
}
