//! `ocf:rust:pgsql`: ocf:heartbeat:pgsql's parameters on the engine code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

use super::pgsql_params::*;
use super::{Compat, Program, find_program, raw_or, refuse_replication};
use crate::config::{Config, Secret};
use crate::{engine, process};

pub use super::pgsql_params::PARAMS;

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 120),
    ActionSpec::new("stop", 120),
    ActionSpec::new("monitor", 30).interval(30).depth(0),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "pgsql",
    shortdesc: "PostgreSQL server with ocf:heartbeat:pgsql's parameters",
    longdesc: "Drop-in for ocf:heartbeat:pgsql without replication: the same parameter names, \
        defaults and meanings (pgdata, pgdba, pgport, pghost, socketdir, config, start_opt, \
        logfile, monitor_user, monitor_password, monitor_sql, pgdb, stop_escalate...), on the \
        engine of ocf:rust:database. Start runs postgres directly as pgdba (no pg_ctl, no su) \
        and waits until monitor_sql answers; every monitor checks the postmaster and runs \
        monitor_sql over the PostgreSQL protocol under one deadline (no psql fork); stop sends \
        a fast shutdown, an immediate one after stop_escalate seconds, SIGKILL last, and \
        answers 0 only when no server process is left. At the default pgctl the binaries of \
        the major version in pgdata/PG_VERSION are used. The replication parameters (rep_mode, \
        node_list, master_ip, ...) are accepted in the configuration and refused with \
        ERR_CONFIGURED when they ask for replication (not supported yet); a server that runs \
        is still seen by a probe and stopped by stop.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// The heartbeat parameters onto the engine's configuration (syntax only).
pub fn configure(p: &Params) -> OcfResult<Compat> {
    refuse_replication(p, &REPLICATION_PARAMS, "pgsql")?;
    let s = |spec| p.string(spec).map(str::to_string);
    let datadir = PathBuf::from(p.string(&PGDATA).unwrap_or("/var/lib/pgsql/data"));
    let user = s(&PGDBA).unwrap_or_else(|| "postgres".into());
    match (p.is_set(&MONITOR_USER), p.is_set(&MONITOR_PASSWORD)) {
        (true, false) => return Err(OcfError::configured("monitor password can't be empty")),
        (false, true) => {
            return Err(OcfError::configured(
                "monitor_user has to be set if monitor_password is set",
            ));
        }
        _ => {}
    }
    let query = s(&MONITOR_SQL).unwrap_or_else(|| "select now();".into());
    if query.trim().is_empty() {
        return Err(OcfError::configured("monitor_sql is empty"));
    }
    let port = p.integer(&PGPORT).unwrap_or(5432) as u16;
    let log = s(&LOGFILE).filter(|l| l != "/dev/null").map(PathBuf::from);
    let mut ignored = Vec::new();
    if let Some(o) = s(&CTL_OPT) {
        ignored.push(format!(
            "ctl_opt={o:?} is ignored: this agent does not run pg_ctl (it starts postgres \
             itself and waits until monitor_sql answers)"
        ));
    }
    if let Some(l) = s(&PGLIBS).filter(|l| l != "/usr/lib") {
        ignored.push(format!(
            "pglibs={l:?} is ignored: this agent runs neither pg_ctl nor psql"
        ));
    }
    let pgctl = s(&PGCTL).unwrap_or_else(|| "/usr/bin/pg_ctl".into());
    let default = pgctl == "/usr/bin/pg_ctl";
    let db = Config {
        engine: engine::POSTGRESQL,
        binary: None,
        config: s(&CONFIG).map(PathBuf::from),
        socketdir: s(&SOCKETDIR).map(PathBuf::from),
        socket: PathBuf::from(engine::mysql::DEFAULT_SOCKET),
        port,
        // The heartbeat agent exports PGPORT for pg_ctl; -p says the same
        // to postgres directly.
        port_set: true,
        host: s(&PGHOST),
        pid_file: datadir.join("postmaster.pid"),
        log,
        additional: s(&START_OPT)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        database: s(&PGDB).or_else(|| Some("template1".into())),
        monitor_user: s(&MONITOR_USER).unwrap_or_else(|| user.clone()),
        monitor_password: s(&MONITOR_PASSWORD).map(Secret::new),
        monitor_allow_md5: false,
        monitor_query: query,
        monitor_timeout: None,
        server_public_key: datadir.join("public_key.pem"),
        stop_escalate: p
            .integer(&STOP_ESCALATE)
            .map(|s| Duration::from_secs(s as u64)),
        group: None,
        user,
        datadir,
    };
    Ok(Compat {
        db,
        program: Program::PgCtl { pgctl, default },
        enable_creation: false,
        ignored,
        resolved: Default::default(),
    })
}

/// The major version a data directory was initialised with.
pub fn pg_version(datadir: &Path) -> Option<String> {
    // The service user's directory: never through a link, never blocking
    // on a FIFO, a few bytes at most (ocf::files::read_regular).
    let v = ocf::files::read_regular(&datadir.join("PG_VERSION"), 16, None).ok()?;
    let v = String::from_utf8_lossy(&v);
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then(|| v.to_string())
}

/// The postgres program `pgctl` stands for. At the default: the major
/// version of `datadir` (Debian's /usr/lib/postgresql/<v>/bin, PGDG's
/// /usr/pgsql-<v>/bin), else /usr/bin/postgres next to /usr/bin/pg_ctl,
/// else the newest installed. Otherwise postgres next to the named pg_ctl.
pub fn postgres_program(pgctl: &str, default: bool, datadir: &Path) -> OcfResult<PathBuf> {
    if default {
        return default_postgres(datadir, Path::new("/usr/lib/postgresql"), Path::new("/usr"));
    }
    let ctl = find_program(pgctl).ok_or_else(|| {
        OcfError::installed(format!("pgctl {pgctl}: no such executable on this node"))
    })?;
    let postgres = ctl.with_file_name("postgres");
    if process::is_executable(&postgres) {
        Ok(postgres)
    } else {
        Err(OcfError::installed(format!(
            "no postgres program next to pgctl {}",
            ctl.display()
        )))
    }
}

fn default_postgres(datadir: &Path, debian: &Path, usr: &Path) -> OcfResult<PathBuf> {
    let version = pg_version(datadir);
    if let Some(v) = &version {
        let pgdg = usr.join(format!("pgsql-{v}/bin/postgres"));
        let found = [debian.join(v).join("bin/postgres"), pgdg]
            .into_iter()
            .find(|p| process::is_executable(p));
        if let Some(p) = found {
            return Ok(p);
        }
    }
    let plain = usr.join("bin/postgres");
    if process::is_executable(&usr.join("bin/pg_ctl")) && process::is_executable(&plain) {
        return Ok(plain);
    }
    match version {
        Some(v) => Err(OcfError::installed(format!(
            "{} is a PostgreSQL {v} data directory (PG_VERSION) and no PostgreSQL {v} server \
             program is installed ({}/{v}/bin/postgres); set pgctl",
            datadir.display(),
            debian.display()
        ))),
        None => engine::POSTGRESQL
            .find_binary()
            .ok_or_else(|| OcfError::installed("no PostgreSQL server program found on this node")),
    }
}

/// The heartbeat parameters as the engine's raw names, for a stop or
/// probe whose configuration does not parse.
pub fn raw(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("engine".into(), "postgresql".into());
    m.insert(
        "datadir".into(),
        raw_or(params, "pgdata", "/var/lib/pgsql/data").into(),
    );
    m
}

pub struct Pgsql;

impl ocf::Agent for Pgsql {
    type Config = Compat;

    fn info() -> &'static AgentInfo {
        &INFO
    }
    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Compat> {
        configure(p)
    }
    fn check_environment(c: &Compat, ctx: &Context) -> OcfResult<()> {
        if let Some(f) = &c.db.config
            && !f.is_file()
        {
            return Err(OcfError::installed(format!(
                "Configuration file {} doesn't exist",
                f.display()
            )));
        }
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
            "pgsql",
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
        assert_eq!(db.datadir, PathBuf::from("/var/lib/pgsql/data"));
        assert_eq!(db.user, "postgres");
        assert_eq!(db.monitor_user, "postgres");
        assert_eq!(db.database.as_deref(), Some("template1"));
        assert_eq!(db.monitor_query, "select now();");
        assert_eq!(db.log, None);
        assert_eq!(db.stop_escalate, Some(Duration::from_secs(90)));
        assert!(matches!(c.program, Program::PgCtl { default: true, .. }));
        let argv = db.server_argv(Path::new("/pg/postgres"), None);
        assert_eq!(
            argv,
            ["/pg/postgres", "-D", "/var/lib/pgsql/data", "-p", "5432"]
        );
        let c = configure_vars(&[
            ("pgdata", "/srv/pg"),
            ("pgport", "5499"),
            ("start_opt", "-c  work_mem=8MB"),
            ("logfile", "/var/log/pg.log"),
            ("pghost", "127.0.0.1"),
            ("monitor_user", "mon"),
            ("monitor_password", "hunter2"),
            ("ctl_opt", "-w"),
        ])
        .unwrap();
        let argv = c.db.server_argv(Path::new("/pg"), None);
        assert_eq!(
            argv,
            [
                "/pg",
                "-D",
                "/srv/pg",
                "-p",
                "5499",
                "-h",
                "127.0.0.1",
                "-c",
                "work_mem=8MB"
            ]
        );
        assert_eq!(c.db.log, Some(PathBuf::from("/var/log/pg.log")));
        assert_eq!(c.ignored.len(), 1);
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn replication_is_refused_unless_at_its_default() {
        for (k, v) in [
            ("rep_mode", "async"),
            ("rep_mode", "slave"),
            ("node_list", "a b"),
            ("master_ip", "10.0.0.1"),
            ("repuser", "repl"),
            ("restart_on_promote", "true"),
            ("check_wal_receiver", "yes"),
            ("xlog_check_count", "5"),
        ] {
            let e = configure_vars(&[(k, v)]).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{k}={v}");
            assert!(e.reason.contains("not supported yet"), "{}", e.reason);
            assert!(e.reason.contains(k), "{}", e.reason);
        }
        for (k, v) in [
            ("rep_mode", "none"),
            ("repuser", "postgres"),
            ("check_wal_receiver", "false"),
            ("restart_on_promote", "no"),
            ("tmpdir", "/var/lib/pgsql/tmp"),
            ("stop_escalate_in_slave", "90"),
        ] {
            configure_vars(&[(k, v)]).unwrap();
        }
    }

    #[test]
    fn monitor_user_and_password_go_together() {
        for vars in [
            vec![("monitor_user", "mon")],
            vec![("monitor_password", "x")],
            vec![("monitor_sql", " ")],
            vec![("pgdata", "relative")],
            vec![("pgport", "0")],
        ] {
            assert_eq!(
                configure_vars(&vars).unwrap_err().status,
                Status::ErrConfigured,
                "{vars:?}"
            );
        }
    }

    #[test]
    fn the_major_version_of_the_data_directory_picks_the_binaries() {
        let root = std::env::temp_dir().join(format!("i16db-pgver-{}", std::process::id()));
        let debian = root.join("lib");
        let usr = root.join("usr");
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        for v in ["13", "15", "16"] {
            let bin = debian.join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let f = bin.join("postgres");
            std::fs::write(&f, "").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(data.join("PG_VERSION"), "15\n").unwrap();
        assert_eq!(
            default_postgres(&data, &debian, &usr).unwrap(),
            debian.join("15/bin/postgres")
        );
        std::fs::write(data.join("PG_VERSION"), "12\n").unwrap();
        let e = default_postgres(&data, &debian, &usr).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        assert!(e.reason.contains("PostgreSQL 12"), "{}", e.reason);
        // The data directory is the service user's: a PG_VERSION planted
        // as a link to /dev/zero or as a FIFO is not read (no endless
        // read, no block), it just names no version.
        let pv = data.join("PG_VERSION");
        std::fs::remove_file(&pv).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &pv).unwrap();
        assert_eq!(pg_version(&data), None);
        std::fs::remove_file(&pv).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&pv)
                .status()
                .unwrap()
                .success()
        );
        let t = std::time::Instant::now();
        assert_eq!(pg_version(&data), None);
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn raw_names_the_data_directory() {
        let m = raw(&BTreeMap::from([(
            "pgdata".to_string(),
            "/srv/x".to_string(),
        )]));
        assert_eq!(m["datadir"], "/srv/x");
        assert_eq!(raw(&BTreeMap::new())["datadir"], "/var/lib/pgsql/data");
    }
}
