//! The validated configuration: every default resolved from the engine,
//! nothing looked up on the node (`configure` is what validate-all runs at
//! check level 0, on whatever node the user types on). What the node must
//! have is checked by [`Config::check_environment`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::{OcfError, OcfResult, ParamSpec, Params};

use crate::conn::Target;
use crate::engine::{self, Engine};
use crate::params::*;
use crate::process::{self, Identity};
use ocf::user::{self, User};

/// A password: shown as `***` by `Debug`, so no log line can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub engine: &'static dyn Engine,
    pub binary: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub datadir: PathBuf,
    pub user: String,
    pub group: Option<String>,
    /// PostgreSQL socket directory given explicitly (passed as -k).
    pub socketdir: Option<PathBuf>,
    /// MySQL's socket.
    pub socket: PathBuf,
    pub port: u16,
    pub port_set: bool,
    pub host: Option<String>,
    pub pid_file: PathBuf,
    pub log: Option<PathBuf>,
    pub additional: Vec<String>,
    pub database: Option<String>,
    pub monitor_user: String,
    pub monitor_password: Option<Secret>,
    /// PostgreSQL: answer md5 over TCP.
    pub monitor_allow_md5: bool,
    pub monitor_query: String,
    pub monitor_timeout: Option<Duration>,
    /// MySQL: where the server's RSA public key is read when needed.
    pub server_public_key: PathBuf,
    /// How long stop's first, graceful step may take before the faster one
    /// (ocf:heartbeat:pgsql's `stop_escalate`); None: a share of the budget.
    pub stop_escalate: Option<Duration>,
}

/// Build the configuration from parsed parameters (syntax only).
pub fn configure(p: &Params) -> OcfResult<Config> {
    let engine = p
        .string(&ENGINE)
        .and_then(engine::by_name)
        .unwrap_or(engine::POSTGRESQL);
    let path = |s: &ParamSpec| p.string(s).map(PathBuf::from);
    let datadir = match (path(&DATADIR), engine.default_datadir()) {
        (Some(d), _) => d,
        (None, Some(d)) => PathBuf::from(d),
        (None, None) => {
            return Err(OcfError::configured(format!(
                "datadir is required for engine={}",
                engine.name()
            )));
        }
    };
    for other in engine::ALL.into_iter().filter(|e| *e != engine) {
        let spec = other.own_param();
        if p.is_set(spec) {
            return Err(OcfError::configured(format!(
                "{} applies to engine={} only",
                spec.name,
                other.name()
            )));
        }
    }
    let user = p.string(&USER).unwrap_or(engine.default_user()).to_string();
    let port = p
        .integer(&PORT)
        .map(|n| n as u16)
        .unwrap_or(engine.default_port());
    let pid_file = path(&PID).unwrap_or_else(|| engine.default_pid_file(&datadir));
    let query = p.string(&MONITOR_QUERY).unwrap_or("SELECT 1").to_string();
    if query.trim().is_empty() {
        return Err(OcfError::configured("monitor_query is empty"));
    }
    Ok(Config {
        engine,
        binary: path(&BINARY),
        config: path(&CONFIG),
        socketdir: path(&SOCKETDIR),
        socket: path(&SOCKET).unwrap_or_else(|| PathBuf::from(engine::mysql::DEFAULT_SOCKET)),
        port,
        port_set: p.is_set(&PORT),
        host: p.string(&HOST).map(str::to_string),
        pid_file,
        log: path(&LOG),
        additional: p
            .string(&ADDITIONAL_PARAMETERS)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        database: p
            .string(&DATABASE)
            .or(engine.default_database())
            .map(str::to_string),
        monitor_user: p
            .string(&MONITOR_USER)
            .map(str::to_string)
            .unwrap_or_else(|| engine.default_monitor_user(&user)),
        monitor_password: p.string(&MONITOR_PASSWORD).map(|s| Secret(s.to_string())),
        monitor_allow_md5: p.boolean(&MONITOR_ALLOW_MD5),
        monitor_query: query,
        monitor_timeout: p
            .string(&MONITOR_TIMEOUT)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(Duration::from_secs_f64),
        group: p.string(&GROUP).map(str::to_string),
        server_public_key: path(&SERVER_PUBLIC_KEY)
            .unwrap_or_else(|| datadir.join("public_key.pem")),
        stop_escalate: None,
        user,
        datadir,
    })
}

impl Config {
    pub fn label(&self) -> &'static str {
        self.engine.label()
    }

    /// What this node must have: the server program, the service user, an
    /// initialised data directory, the configuration file if one is named.
    pub fn check_environment(&self) -> OcfResult<()> {
        self.resolve_binary()?;
        self.service_user()?;
        if !self.engine.initialised(&self.datadir) {
            return Err(OcfError::installed(format!(
                "data directory {} is not an initialised {} data directory",
                self.datadir.display(),
                self.label()
            )));
        }
        if let Some(c) = &self.config
            && !c.is_file()
        {
            return Err(OcfError::installed(format!(
                "configuration file {} does not exist",
                c.display()
            )));
        }
        Ok(())
    }

    /// The service user, as NSS knows it now.
    pub fn service_user(&self) -> OcfResult<User> {
        user::lookup(&self.user, self.group.as_deref()).map_err(OcfError::installed)
    }

    /// Where the monitor connects.
    pub fn target(&self) -> Target {
        match &self.host {
            Some(h) => Target::Tcp {
                host: h.clone(),
                port: self.port,
            },
            None => Target::Unix(self.engine.socket(self)),
        }
    }

    /// The server binary: the parameter, else the engine's usual places.
    pub fn resolve_binary(&self) -> OcfResult<PathBuf> {
        let found = match &self.binary {
            Some(b) => Some(b.clone()).filter(|b| process::is_executable(b)),
            None => self.engine.find_binary(),
        };
        found.ok_or_else(|| {
            OcfError::installed(match &self.binary {
                Some(b) => format!("server program {} is not an executable file", b.display()),
                None => format!("no {} server program found on this node", self.label()),
            })
        })
    }

    /// How the server's processes are recognised.
    pub fn identity(&self, binary: Option<&Path>) -> Identity {
        let mut names: Vec<String> = self
            .engine
            .process_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(n) = binary.and_then(process::program_name)
            && !names.contains(&n)
        {
            names.push(n);
        }
        Identity::new(names, &self.datadir)
    }

    /// The configuration file start passes (see [`Engine::start_config`]).
    pub fn start_config(&self) -> Option<PathBuf> {
        self.engine.start_config(self)
    }

    /// The server's command line.
    pub fn server_argv(&self, binary: &Path, config: Option<&Path>) -> Vec<String> {
        let mut a = self.engine.server_argv(self, binary, config);
        a.extend(self.additional.iter().cloned());
        a
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ocf::{Context, Status};

    pub(crate) fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = Context::from_vars(
            "database",
            "start",
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let p = Params::parse(&PARAMS, &c.params)?;
        super::configure(&p)
    }

    #[test]
    fn postgresql_defaults_and_argv() {
        let cfg = configure(&[
            ("OCF_RESKEY_engine", "postgresql"),
            ("OCF_RESKEY_datadir", "/srv/pg"),
        ])
        .unwrap();
        assert_eq!(cfg.user, "postgres");
        assert_eq!(cfg.monitor_user, "postgres");
        assert_eq!(cfg.database.as_deref(), Some("postgres"));
        assert_eq!(cfg.pid_file, PathBuf::from("/srv/pg/postmaster.pid"));
        assert_eq!(
            cfg.target(),
            Target::Unix("/var/run/postgresql/.s.PGSQL.5432".into())
        );
        assert_eq!(
            cfg.server_argv(Path::new("/usr/lib/postgresql/15/bin/postgres"), None),
            ["/usr/lib/postgresql/15/bin/postgres", "-D", "/srv/pg"]
        );
        let full = configure(&[
            ("OCF_RESKEY_engine", "postgresql"),
            ("OCF_RESKEY_datadir", "/srv/pg"),
            ("OCF_RESKEY_config", "/etc/pg.conf"),
            ("OCF_RESKEY_port", "5499"),
            ("OCF_RESKEY_socketdir", "/run/pgs"),
            ("OCF_RESKEY_host", "127.0.0.1"),
            ("OCF_RESKEY_additional_parameters", "-c  work_mem=8MB "),
        ])
        .unwrap();
        assert_eq!(
            full.server_argv(Path::new("/pg"), full.start_config().as_deref()),
            [
                "/pg",
                "-D",
                "/srv/pg",
                "-c",
                "config_file=/etc/pg.conf",
                "-p",
                "5499",
                "-k",
                "/run/pgs",
                "-h",
                "127.0.0.1",
                "-c",
                "work_mem=8MB"
            ]
        );
        assert_eq!(
            full.target(),
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 5499
            }
        );
    }

    #[test]
    fn mysql_defaults_and_argv() {
        let cfg = configure(&[("OCF_RESKEY_engine", "mysql")]).unwrap();
        assert_eq!(cfg.datadir, PathBuf::from("/var/lib/mysql"));
        assert_eq!(cfg.user, "mysql");
        assert_eq!(cfg.monitor_user, "root");
        assert_eq!(cfg.database, None);
        assert_eq!(cfg.target(), Target::Unix("/run/mysqld/mysqld.sock".into()));
        assert_eq!(
            cfg.server_argv(Path::new("/usr/sbin/mariadbd"), None),
            [
                "/usr/sbin/mariadbd",
                "--datadir=/var/lib/mysql",
                "--pid-file=/run/mysqld/mysqld.pid",
                "--socket=/run/mysqld/mysqld.sock"
            ]
        );
        let c = configure(&[
            ("OCF_RESKEY_engine", "mysql"),
            ("OCF_RESKEY_config", "/etc/my.cnf"),
            ("OCF_RESKEY_port", "3399"),
        ])
        .unwrap();
        let argv = c.server_argv(Path::new("/m"), c.start_config().as_deref());
        assert_eq!(argv[1], "--defaults-file=/etc/my.cnf");
        assert!(argv.contains(&"--port=3399".to_string()));
    }

    #[test]
    fn bad_values_are_rejected_with_6() {
        for vars in [
            vec![],
            vec![("OCF_RESKEY_engine", "oracle")],
            vec![("OCF_RESKEY_engine", "postgresql")],
            vec![
                ("OCF_RESKEY_engine", "postgresql"),
                ("OCF_RESKEY_datadir", "relative"),
            ],
            vec![("OCF_RESKEY_engine", "mysql"), ("OCF_RESKEY_port", "70000")],
            vec![("OCF_RESKEY_engine", "mysql"), ("OCF_RESKEY_user", "-x")],
            vec![("OCF_RESKEY_engine", "mysql"), ("OCF_RESKEY_user", "a b")],
            vec![("OCF_RESKEY_engine", "mysql"), ("OCF_RESKEY_host", "a;b")],
            vec![
                ("OCF_RESKEY_engine", "mysql"),
                ("OCF_RESKEY_socketdir", "/run/x"),
            ],
            vec![
                ("OCF_RESKEY_engine", "postgresql"),
                ("OCF_RESKEY_datadir", "/d"),
                ("OCF_RESKEY_socket", "/run/x.sock"),
            ],
            vec![
                ("OCF_RESKEY_engine", "mysql"),
                ("OCF_RESKEY_monitor_timeout", "0"),
            ],
            vec![
                ("OCF_RESKEY_engine", "mysql"),
                ("OCF_RESKEY_monitor_query", "SELECT\n1"),
            ],
            vec![
                ("OCF_RESKEY_engine", "postgresql"),
                ("OCF_RESKEY_datadir", "/d"),
                ("OCF_RESKEY_socketdir", "/run/a,/etc"),
            ],
        ] {
            assert_eq!(
                configure(&vars).unwrap_err().status,
                Status::ErrConfigured,
                "{vars:?}"
            );
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let cfg = configure(&[
            ("OCF_RESKEY_engine", "mysql"),
            ("OCF_RESKEY_monitor_password", "hunter2"),
        ])
        .unwrap();
        assert_eq!(cfg.monitor_password.as_ref().unwrap().expose(), "hunter2");
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
