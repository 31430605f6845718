//! `ocf:rust:mysql`: ocf:heartbeat:mysql's parameters on the engine code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

use super::mysql_params::*;
use super::{Compat, Program, find_program, mycnf, raw_or, refuse_replication};
use crate::config::{Config, Secret};
use crate::{engine, process};

pub use super::mysql_params::PARAMS;

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 120),
    ActionSpec::new("stop", 120),
    ActionSpec::new("monitor", 30).interval(20).depth(0),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "mysql",
    shortdesc: "MySQL/MariaDB server with ocf:heartbeat:mysql's parameters",
    longdesc: "Drop-in for ocf:heartbeat:mysql without replication: the same parameter names, \
        defaults and meanings (binary, config, datadir, user, group, log, pid, socket, \
        test_user, test_passwd, test_table, enable_creation, additional_parameters), on the \
        engine of ocf:rust:database. Start runs the server that binary (mysqld_safe) would run \
        directly as user, with the [mysqld_safe] section of config honoured, and waits until it \
        answers; every monitor checks the server process and runs SELECT COUNT(*) FROM \
        test_table as test_user over the MySQL protocol under one deadline (no client fork, no \
        password on a command line); stop asks SHUTDOWN, then SIGTERM, SIGKILL last, and \
        answers 0 only when no server process (nor a mysqld_safe) is left. The replication \
        parameters (replication_user, replication_passwd, max_slave_lag, ...) are accepted in \
        the configuration and refused with ERR_CONFIGURED when they ask for replication (not \
        supported yet); a server that runs is still seen by a probe and stopped by stop.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// The heartbeat parameters onto the engine's configuration (syntax only).
pub fn configure(p: &Params) -> OcfResult<Compat> {
    refuse_replication(p, &REPLICATION_PARAMS, "mysql")?;
    let s = |spec| p.string(spec).map(str::to_string);
    let path = |spec| p.string(spec).map(PathBuf::from);
    let datadir = path(&DATADIR).unwrap_or_else(|| "/var/lib/mysql".into());
    let log = path(&LOG).unwrap_or_else(|| "/var/log/mysql/error.log".into());
    let mut additional = vec![format!("--log-error={}", log.display())];
    additional.extend(
        s(&ADDITIONAL_PARAMETERS)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string),
    );
    let table = s(&TEST_TABLE).unwrap_or_else(|| "mysql.user".into());
    let mut ignored = Vec::new();
    if let Some(c) = s(&CLIENT_BINARY).filter(|c| c != "mysql") {
        ignored.push(format!(
            "client_binary={c:?} is ignored: the monitor speaks the MySQL protocol itself"
        ));
    }
    let user = s(&USER).unwrap_or_else(|| "mysql".into());
    let db = Config {
        engine: engine::MYSQL,
        binary: None,
        config: path(&CONFIG).or_else(|| Some("/etc/mysql/my.cnf".into())),
        socketdir: None,
        socket: path(&SOCKET).unwrap_or_else(|| "/var/run/mysqld/mysqld.sock".into()),
        port: 3306,
        port_set: false,
        host: None,
        pid_file: path(&PID).unwrap_or_else(|| "/var/run/mysqld/mysqld.pid".into()),
        log: Some(log),
        additional,
        database: None,
        monitor_user: s(&TEST_USER).unwrap_or_else(|| "root".into()),
        monitor_password: s(&TEST_PASSWD).map(Secret::new),
        monitor_allow_md5: false,
        monitor_query: format!("SELECT COUNT(*) FROM {table}"),
        monitor_timeout: None,
        server_public_key: datadir.join("public_key.pem"),
        stop_escalate: None,
        group: s(&GROUP),
        user,
        datadir,
    };
    Ok(Compat {
        db,
        program: Program::Mysql {
            binary: s(&BINARY).unwrap_or_else(|| "/usr/bin/mysqld_safe".into()),
        },
        enable_creation: p.boolean(&ENABLE_CREATION),
        ignored,
        resolved: Default::default(),
    })
}

/// The launchers that run the server in a loop.
const WRAPPERS: [&str; 4] = [
    "mysqld_safe",
    "safe_mysqld",
    "mariadbd-safe",
    "mariadb-safe",
];

/// The option groups a wrapper reads.
const SAFE_GROUPS: [&str; 4] = [
    "mysqld_safe",
    "safe_mysqld",
    "mariadb-safe",
    "mariadbd-safe",
];

/// The server `binary` stands for and the arguments its `[mysqld_safe]`
/// section adds. A wrapper is recognised by its name (also through a
/// link: mysqld_safe -> mariadbd-safe); anything else is the server.
pub fn server_program(binary: &str, config: Option<&Path>) -> OcfResult<(PathBuf, Vec<String>)> {
    let found = find_program(binary).ok_or_else(|| {
        OcfError::installed(format!(
            "Setup problem: couldn't find command: {binary} (binary)"
        ))
    })?;
    let is_wrapper = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| WRAPPERS.contains(&n))
    };
    if !is_wrapper(&found) && !std::fs::canonicalize(&found).is_ok_and(|p| is_wrapper(&p)) {
        return Ok((found, Vec::new()));
    }
    let opts = config
        .map(|c| mycnf::options(c, &SAFE_GROUPS))
        .unwrap_or_default();
    from_safe_section(&opts, Path::new("/usr/sbin"))
}

/// What a `[mysqld_safe]` section means for the server started in its
/// place: `ledir` and `mysqld` name it, `open-files-limit` is passed on;
/// what only the wrapper itself does is logged as ignored. Options the
/// heartbeat agent's command line overrides (log-error, pid-file, socket,
/// datadir, user) and syslog choices it cancels are silent.
fn from_safe_section(
    opts: &[(String, Option<String>)],
    default_ledir: &Path,
) -> OcfResult<(PathBuf, Vec<String>)> {
    let last = |k: &str| {
        opts.iter()
            .rev()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
    };
    let ledir = last("ledir").map(PathBuf::from);
    let dir = ledir.clone().unwrap_or_else(|| default_ledir.to_path_buf());
    let server = match last("mysqld") {
        Some(m) if m.contains('/') => PathBuf::from(m),
        Some(m) => dir.join(m),
        None => match last("mysqld-version") {
            Some(v) => dir.join(format!("mysqld-{v}")),
            None => ["mariadbd", "mysqld"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| process::is_executable(p))
                .or_else(|| {
                    (ledir.is_none())
                        .then(|| engine::MYSQL.find_binary())
                        .flatten()
                })
                .unwrap_or_else(|| dir.join("mariadbd")),
        },
    };
    if !process::is_executable(&server) {
        return Err(OcfError::installed(format!(
            "the server mysqld_safe would run, {}, is not an executable file",
            server.display()
        )));
    }
    let mut args = Vec::new();
    for (k, v) in opts {
        match (k.as_str(), v) {
            ("open-files-limit", Some(n)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                args.retain(|a: &String| !a.starts_with("--open-files-limit="));
                args.push(format!("--open-files-limit={n}"));
            }
            ("nice", Some(n)) if n.trim() == "0" => {}
            (
                "nice" | "malloc-lib" | "core-file-size" | "flush-caches" | "numa-interleave"
                | "timezone" | "crash-script" | "open-files-limit",
                _,
            ) => ocf::warn!(
                "[mysqld_safe] {k} is ignored: the server is started without mysqld_safe"
            ),
            _ => {}
        }
    }
    Ok((server, args))
}

/// enable_creation: mariadb-install-db (or mysql_install_db) for a data
/// directory without its mysql/ schema, run as root with --user (which
/// hands the files to the user), within a share of start's budget.
pub fn install_db(db: &Config, dl: &Deadline) -> OcfResult<()> {
    let tool = ["mariadb-install-db", "mysql_install_db"]
        .iter()
        .find_map(|t| ocf::exec::which(t))
        .ok_or_else(|| {
            OcfError::installed("enable_creation: no mariadb-install-db or mysql_install_db")
        })?;
    ocf::deadline::set_phase("enable_creation: installing the database");
    ocf::info!("Initializing MySQL database: {}", db.datadir.display());
    let mut cmd = ocf::exec::Cmd::new(&tool);
    if let Some(c) = &db.config {
        cmd = cmd.arg(format!("--defaults-file={}", c.display()));
    }
    let cmd = cmd
        .arg(format!("--datadir={}", db.datadir.display()))
        .arg(format!("--user={}", db.user));
    match ocf::exec::run(&cmd, &dl.share(0.6)) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(OcfError::generic(format!(
            "Initialization failed: {} exited with {:?}: {}",
            tool.display(),
            out.code,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))),
        Err(e) => Err(OcfError::generic(format!("Initialization failed: {e}"))),
    }
}

/// The heartbeat parameters as the engine's raw names, for a stop or
/// probe whose configuration does not parse.
pub fn raw(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("engine".into(), "mysql".into());
    m.insert(
        "datadir".into(),
        raw_or(params, "datadir", "/var/lib/mysql").into(),
    );
    m.insert(
        "pid".into(),
        raw_or(params, "pid", "/var/run/mysqld/mysqld.pid").into(),
    );
    m
}

pub struct Mysql;

impl ocf::Agent for Mysql {
    type Config = Compat;

    fn info() -> &'static AgentInfo {
        &INFO
    }
    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Compat> {
        configure(p)
    }
    fn check_environment(c: &Compat, ctx: &Context) -> OcfResult<()> {
        super::check_environment(c, ctx)
    }
    fn start(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        super::start(c, ctx, dl)
    }
    fn stop(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        super::stop(c, ctx, dl)
    }
    fn monitor(c: &Compat, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        super::monitor(c, ctx, dl)
    }
    fn stop_unconfigured(
        cfg: Option<&Compat>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        super::stop_unconfigured(cfg, rec, ctx, why, dl, raw)
    }
    fn probe_unconfigured(
        cfg: Option<&Compat>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        super::probe_unconfigured(cfg, rec, ctx, why, dl, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn configure_vars(vars: &[(&str, &str)]) -> OcfResult<Compat> {
        let c = Context::from_vars(
            "mysql",
            "start",
            vars.iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        );
        super::configure(&Params::parse(&PARAMS, &c.params)?)
    }

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
    }

    #[test]
    fn heartbeat_defaults_map_onto_the_engine() {
        let c = configure_vars(&[]).unwrap();
        let db = &c.db;
        assert_eq!(db.datadir, PathBuf::from("/var/lib/mysql"));
        assert_eq!(db.user, "mysql");
        assert_eq!(db.group.as_deref(), Some("mysql"));
        assert_eq!(db.monitor_user, "root");
        assert_eq!(db.monitor_query, "SELECT COUNT(*) FROM mysql.user");
        let argv = db.server_argv(Path::new("/usr/sbin/mariadbd"), db.config.as_deref());
        assert_eq!(
            argv,
            [
                "/usr/sbin/mariadbd",
                "--defaults-file=/etc/mysql/my.cnf",
                "--datadir=/var/lib/mysql",
                "--pid-file=/var/run/mysqld/mysqld.pid",
                "--socket=/var/run/mysqld/mysqld.sock",
                "--log-error=/var/log/mysql/error.log",
            ]
        );
        let c = configure_vars(&[
            ("test_passwd", "hunter2"),
            ("test_table", "db.t"),
            ("additional_parameters", "--skip-name-resolve  --port=3399"),
        ])
        .unwrap();
        assert_eq!(c.db.monitor_query, "SELECT COUNT(*) FROM db.t");
        assert_eq!(
            &c.db.additional[1..],
            ["--skip-name-resolve", "--port=3399"]
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn replication_is_refused_and_the_password_not_shown() {
        let e = configure_vars(&[("replication_passwd", "s3cret")]).unwrap_err();
        assert_eq!(e.status, Status::ErrConfigured);
        assert!(e.reason.contains("not supported yet"), "{}", e.reason);
        assert!(!e.reason.contains("s3cret"));
        for (k, v) in [
            ("replication_user", "repl"),
            ("max_slave_lag", "10"),
            ("evict_outdated_slaves", "true"),
        ] {
            assert!(configure_vars(&[(k, v)]).unwrap_err().reason.contains(k));
        }
        for (k, v) in [
            ("replication_user", "root"),
            ("replication_port", "3306"),
            ("reader_attribute", "readable"),
            ("evict_outdated_slaves", "0"),
        ] {
            configure_vars(&[(k, v)]).unwrap();
        }
    }

    #[test]
    fn the_safe_section_names_the_server_and_its_limits() {
        let dir = std::env::temp_dir().join(format!("i16db-safe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in ["mariadbd", "mysqld-8.0"] {
            let f = dir.join(n);
            std::fs::write(&f, "").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let o = |kv: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect()
        };
        let (server, args) = from_safe_section(
            &o(&[
                ("nice", Some("0")),
                ("skip-log-error", None),
                ("syslog", None),
            ]),
            &dir,
        )
        .unwrap();
        assert_eq!(server, dir.join("mariadbd"));
        assert!(args.is_empty());
        let ledir = dir.display().to_string();
        let (server, args) = from_safe_section(
            &o(&[
                ("ledir", Some(&ledir)),
                ("mysqld-version", Some("8.0")),
                ("open-files-limit", Some("1024")),
                ("open-files-limit", Some("4096")),
            ]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(server, dir.join("mysqld-8.0"));
        assert_eq!(args, ["--open-files-limit=4096"]);
        let e = from_safe_section(&o(&[("mysqld", Some("nope"))]), &dir).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_binary_is_not_installed() {
        for b in ["no_such", "/no/such/mysqld_safe", "-x"] {
            assert_eq!(
                server_program(b, None).unwrap_err().status,
                Status::ErrInstalled
            );
        }
    }
}
