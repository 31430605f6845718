//! `ocf:rust:database`: a PostgreSQL or MySQL/MariaDB server whose monitor
//! runs a real query over a real client connection on every interval.
//!
//! It replaces the lifecycle part of `ocf:heartbeat:pgsql` and
//! `ocf:heartbeat:mysql` (no replication, no promotion):
//!
//! * start launches the server binary directly by argv as the service user
//!   (no `su -c` strings, no pg_ctl or mysqld_safe in between), detached from
//!   our pipes, and waits until the monitor query answers;
//! * monitor checks the process named in the pid file, then connects (unix
//!   socket or TCP), authenticates and runs `monitor_query` under ONE
//!   deadline, with the server's own statement timeout as a second fence.
//!   Its exit reason names the phase that failed and tells rejected
//!   credentials from a dead or hung server;
//! * stop escalates inside one budget: PostgreSQL fast, immediate, SIGKILL;
//!   MySQL `SHUTDOWN`, SIGTERM, SIGKILL; then checks no server process is left.
//!
//! The wire clients live in [`pg`] and [`mysql`], over [`conn`]; the
//! kernel's view of the processes in [`process`].

pub mod conn;
pub mod mysql;
pub mod pg;
pub mod process;
#[cfg(test)]
mod props;
pub mod state;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ocf::params::checks;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Record,
    Status,
};

use conn::{Conn, PeerIdentity, ProbeError, ProbeErrorKind, Target};
use process::{Identity, User};
use state::Server;

pub static ENGINE: ParamSpec = ParamSpec::new(
    "engine",
    "Database engine",
    "Which server this resource runs: postgresql, or mysql for MySQL and MariaDB.",
)
.choice(&["postgresql", "mysql"])
.required();

pub static BINARY: ParamSpec = ParamSpec::new(
    "binary",
    "Server program",
    "Absolute path of the server program itself (not a wrapper script): postgres, or \
     mariadbd/mysqld. Default: for postgresql the newest /usr/lib/postgresql/*/bin/postgres, \
     else postgres on PATH; for mysql /usr/sbin/mariadbd, else /usr/sbin/mysqld.",
)
.check(checks::absolute_path);

pub static CONFIG: ParamSpec = ParamSpec::new(
    "config",
    "Configuration file",
    "Absolute path of the server's configuration file. PostgreSQL: passed as \
     -c config_file=...; when unset and the data directory has no postgresql.conf, start uses \
     the Debian cluster's /etc/postgresql/<version>/<cluster>/postgresql.conf whose \
     data_directory is this datadir. MySQL/MariaDB: passed as --defaults-file=...; when unset \
     the server reads its own defaults (/etc/mysql/my.cnf on Debian).",
)
.check(checks::absolute_path);

pub static DATADIR: ParamSpec = ParamSpec::new(
    "datadir",
    "Data directory",
    "Absolute path of the data directory (PostgreSQL's PGDATA). Required for postgresql; \
     default /var/lib/mysql for mysql. A directory that is not initialised (no PG_VERSION, \
     no mysql/ schema) means the server cannot run on this node: a probe answers 7.",
)
.unique()
.check(checks::absolute_path);

pub static USER: ParamSpec = ParamSpec::new(
    "user",
    "Service user",
    "The operating-system user the server runs as. Default: postgres for postgresql, mysql \
     for mysql. It must exist on the node.",
)
.check(check_name);

pub static GROUP: ParamSpec = ParamSpec::new(
    "group",
    "Service group",
    "The primary group the server runs with. Default: the user's primary group. The user's \
     supplementary groups (e.g. ssl-cert) are kept.",
)
.check(check_name);

pub static SOCKETDIR: ParamSpec = ParamSpec::new(
    "socketdir",
    "PostgreSQL socket directory",
    "PostgreSQL only: the directory of the unix socket. When set, the server is started with \
     -k <socketdir>. Start creates the directory (owned by the user, mode 2775) if missing. \
     The monitor connects there unless host is set. Default: /var/run/postgresql (the \
     Debian build's default; then not passed to the server). No comma: PostgreSQL reads -k \
     as a list.",
)
.check(check_socketdir);

pub static SOCKET: ParamSpec = ParamSpec::new(
    "socket",
    "MySQL socket",
    "MySQL/MariaDB only: the unix socket path, passed as --socket; its directory is created \
     (owned by the user) if missing. The monitor connects there unless host is set. \
     Default: /run/mysqld/mysqld.sock.",
)
.check(checks::absolute_path);

pub static PORT: ParamSpec = ParamSpec::new(
    "port",
    "TCP port",
    "The server's port, passed to the server only when set (PostgreSQL -p, MySQL --port). \
     It also names PostgreSQL's socket file (.s.PGSQL.<port>) and is where the monitor \
     connects over TCP when host is set. Default: 5432 for postgresql, 3306 for mysql.",
)
.integer(1, 65535);

pub static HOST: ParamSpec = ParamSpec::new(
    "host",
    "Listen address",
    "When set, the server listens on this address (PostgreSQL listen_addresses, MySQL \
     --bind-address) and the monitor connects to it over TCP instead of the unix socket; \
     the socket-only logins (PostgreSQL peer, MariaDB root by unix_socket) do not work there, \
     so set monitor_user and monitor_password (over TCP the password is never sent in clear, \
     see monitor_allow_md5). An IP address is best: a name is resolved on every monitor, \
     within the monitor's deadline.",
)
.check(check_host);

pub static PID: ParamSpec = ParamSpec::new(
    "pid",
    "PID file",
    "The file holding the server's PID. PostgreSQL: read by the agent, as well as \
     <datadir>/postmaster.pid, which the server always writes itself (the default). \
     MySQL/MariaDB: passed as --pid-file; its directory is created if missing (default \
     /run/mysqld/mysqld.pid). Monitor and stop also find a server whose pid file is gone \
     by its data directory.",
)
.check(checks::absolute_path);

pub static LOG: ParamSpec = ParamSpec::new(
    "log",
    "Server output log",
    "File the server's standard output and error are appended to. Created for the user (mode \
     0640, handed over on the open descriptor); an existing one is used only if it is a regular \
     file the user already owns, never through a link (start fails otherwise). The telling line \
     is quoted when the server dies during start. Default: none (/dev/null); the server's own \
     logging settings still apply.",
)
.check(checks::absolute_path);

pub static ADDITIONAL_PARAMETERS: ParamSpec = ParamSpec::new(
    "additional_parameters",
    "Extra server arguments",
    "More arguments for the server, separated by whitespace, appended to its command line \
     as separate words (no shell: quotes are not interpreted). Example: \
     '-c shared_buffers=256MB' or '--skip-name-resolve'.",
);

pub static DATABASE: ParamSpec = ParamSpec::new(
    "database",
    "Monitor database",
    "Database the monitor connects to. Default: postgres for postgresql; none for mysql.",
);

pub static MONITOR_USER: ParamSpec = ParamSpec::new(
    "monitor_user",
    "Monitor user",
    "Database user the monitor logs in as. Default: the service user for postgresql (over \
     the unix socket the agent connects with that OS identity, so Debian's peer \
     authentication works), root for mysql (over the unix socket as OS root, so MariaDB's \
     unix_socket authentication works).",
);

pub static MONITOR_PASSWORD: ParamSpec = ParamSpec::new(
    "monitor_password",
    "Monitor password",
    "Password of monitor_user, if its authentication needs one (PostgreSQL scram-sha-256, \
     md5 or password; MySQL mysql_native_password or caching_sha2_password). It is never \
     put on a command line and never logged. It is sent in clear (or as md5) only over the unix \
     socket, after checking that the service user or root serves it; over TCP only as a \
     SCRAM proof, a MySQL scramble or RSA-encrypted with a local key.",
)
.secret();

pub static MONITOR_ALLOW_MD5: ParamSpec = ParamSpec::new(
    "monitor_allow_md5",
    "Answer md5 over TCP",
    "PostgreSQL only: when host is set (TCP), let the monitor answer a server that asks for \
     an md5 password hash. Off by default: over TCP nothing proves who listens on the port (any \
     local user can, on a node where the server is stopped), and an md5 hash is cheap to crack \
     offline. scram-sha-256 (the default of PostgreSQL 14 and later, and of Debian's pg_hba.conf \
     for TCP) needs no opt-in. A request for the password in clear text is never answered over \
     TCP; over the unix socket, whose server must run as the service user (or root), every \
     method is answered.",
)
.boolean()
.default("false");

pub static MONITOR_QUERY: ParamSpec = ParamSpec::new(
    "monitor_query",
    "Monitor query",
    "The query every monitor runs; it must return at least one row.",
)
.default("SELECT 1");

pub static MONITOR_TIMEOUT: ParamSpec = ParamSpec::new(
    "monitor_timeout",
    "Monitor query deadline",
    "Seconds (decimals allowed) that connect, authentication and query may take together; \
     also the server-side statement timeout. Default: what is left of the operation's own \
     timeout, so a hung server gives exit code 1 with a reason before Pacemaker's timeout.",
)
.check(check_seconds);

pub static SERVER_PUBLIC_KEY: ParamSpec = ParamSpec::new(
    "server_public_key",
    "MySQL server's RSA public key",
    "MySQL 8 only (caching_sha2_password over TCP): the PEM file of the server's RSA public \
     key, used to encrypt the password when the server has not cached the account (MySQL's \
     --server-public-key-path). Default: <datadir>/public_key.pem, which MySQL writes \
     itself. It must be a regular file (not a link) of the service user or root. The key is \
     never asked from the server: whoever answers on the port would send their own.",
)
.check(checks::absolute_path);

pub static PARAMS: [ParamSpec; 20] = [
    ENGINE,
    BINARY,
    CONFIG,
    DATADIR,
    USER,
    GROUP,
    SOCKETDIR,
    SOCKET,
    PORT,
    HOST,
    PID,
    LOG,
    ADDITIONAL_PARAMETERS,
    DATABASE,
    MONITOR_USER,
    MONITOR_PASSWORD,
    MONITOR_ALLOW_MD5,
    MONITOR_QUERY,
    MONITOR_TIMEOUT,
    SERVER_PUBLIC_KEY,
];

pub static ACTIONS: [ActionSpec; 6] = [
    ActionSpec::new("start", 120),
    ActionSpec::new("stop", 120),
    ActionSpec::new("monitor", 30).interval(20).depth(0),
    ActionSpec::new("reload", 30),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "database",
    shortdesc: "PostgreSQL or MySQL/MariaDB server, monitored by a real query",
    longdesc: "Manages a PostgreSQL or MySQL/MariaDB server (engine=postgresql|mysql). Start \
        launches the server program as the service user and waits until it answers the \
        monitor query. Every monitor checks the server process and runs monitor_query over a \
        real client connection (unix socket, or TCP when host is set), with one deadline for \
        connect, authentication and query and a server-side statement timeout; the exit \
        reason names the phase that failed and tells rejected credentials from a dead or hung \
        server. Stop escalates within its timeout (PostgreSQL fast, immediate, SIGKILL; MySQL \
        SHUTDOWN, SIGTERM, SIGKILL) and checks that no server process is left. Replaces the \
        lifecycle part of ocf:heartbeat:pgsql and ocf:heartbeat:mysql (no replication).",
    params: &PARAMS,
    actions: &ACTIONS,
};

fn check_name(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 32
        && !v.starts_with('-')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be a user or group name (letters, digits, _ . -)".into())
    }
}

fn check_host(v: &str) -> Result<(), String> {
    let ok = !v.starts_with('-')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:_".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be an IP address or a host name".into())
    }
}

/// PostgreSQL splits `-k` at commas: one directory only.
fn check_socketdir(v: &str) -> Result<(), String> {
    checks::absolute_path(v)?;
    if v.contains(',') {
        return Err("must be one directory (PostgreSQL reads a comma as a list)".into());
    }
    Ok(())
}

fn check_seconds(v: &str) -> Result<(), String> {
    match v.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(()),
        _ => Err("must be a number of seconds above 0, at most 3600".into()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgresql,
    Mysql,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Engine::Postgresql => "PostgreSQL",
            Engine::Mysql => "MySQL",
        }
    }
    /// Program names a server process of this engine may run under.
    pub(crate) fn process_names(self) -> &'static [&'static str] {
        match self {
            Engine::Postgresql => &["postgres", "postmaster"],
            Engine::Mysql => &["mariadbd", "mysqld"],
        }
    }
}

/// A password: shown as `***` by `Debug`, so no log line can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The validated configuration: every default resolved, nothing looked up.
#[derive(Clone, Debug)]
pub struct Config {
    pub engine: Engine,
    pub binary: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub datadir: PathBuf,
    pub user: String,
    pub group: Option<String>,
    /// PostgreSQL socket directory given explicitly (passed as -k).
    pub socketdir: Option<PathBuf>,
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
}

/// How often start asks a starting server whether it answers yet.
const START_PROBE_INTERVAL: Duration = Duration::from_millis(100);

impl Config {
    fn label(&self) -> &'static str {
        self.engine.label()
    }

    /// Where the monitor connects.
    pub fn target(&self) -> Target {
        match (&self.host, self.engine) {
            (Some(h), _) => Target::Tcp {
                host: h.clone(),
                port: self.port,
            },
            (None, Engine::Postgresql) => Target::Unix(self.pg_socket()),
            (None, Engine::Mysql) => Target::Unix(self.socket.clone()),
        }
    }

    /// PostgreSQL's unix socket: `<socketdir>/.s.PGSQL.<port>`.
    pub fn pg_socket(&self) -> PathBuf {
        self.socketdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/run/postgresql"))
            .join(format!(".s.PGSQL.{}", self.port))
    }

    /// The server binary: the parameter, else the engine's usual places.
    pub fn resolve_binary(&self) -> OcfResult<PathBuf> {
        let found = match (&self.binary, self.engine) {
            (Some(b), _) => Some(b.clone()).filter(|b| is_executable(b)),
            (None, Engine::Postgresql) => newest_postgres(Path::new("/usr/lib/postgresql"))
                .or_else(|| ocf::exec::which("postgres")),
            (None, Engine::Mysql) => ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
                .or_else(|| ocf::exec::which("mariadbd"))
                .or_else(|| ocf::exec::which("mysqld")),
        };
        found.ok_or_else(|| {
            OcfError::installed(match &self.binary {
                Some(b) => format!("server program {} is not an executable file", b.display()),
                None => format!("no {} server program found on this node", self.label()),
            })
        })
    }

    /// How the server's processes are recognised.
    fn identity(&self, binary: Option<&Path>) -> Identity {
        let mut names: Vec<String> = self
            .engine
            .process_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(n) = binary
            .and_then(|b| fs::canonicalize(b).ok())
            .and_then(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
            && !names.contains(&n)
        {
            names.push(n);
        }
        Identity::new(names, &self.datadir)
    }

    /// Is the data directory initialised?
    fn initialised(&self) -> bool {
        match self.engine {
            Engine::Postgresql => self.datadir.join("PG_VERSION").is_file(),
            Engine::Mysql => self.datadir.join("mysql").is_dir(),
        }
    }

    /// The configuration file start passes: the parameter; else, for a
    /// PostgreSQL data directory without its own postgresql.conf, the Debian
    /// cluster's /etc/postgresql/<version>/<cluster>/postgresql.conf whose
    /// data_directory is this one. Looked up on start only, not on monitor.
    pub fn start_config(&self) -> Option<PathBuf> {
        if self.config.is_some() || self.engine != Engine::Postgresql {
            return self.config.clone();
        }
        if self.datadir.join("postgresql.conf").is_file() {
            return None;
        }
        debian_pg_config(Path::new("/etc/postgresql"), &self.datadir)
    }

    /// The server's command line.
    pub fn server_argv(&self, binary: &Path, config: Option<&Path>) -> Vec<String> {
        let mut a = vec![binary.to_string_lossy().into_owned()];
        let d = self.datadir.to_string_lossy();
        match self.engine {
            Engine::Postgresql => {
                a.push("-D".into());
                a.push(d.into_owned());
                if let Some(c) = config {
                    a.push("-c".into());
                    a.push(format!("config_file={}", c.display()));
                }
                if self.port_set {
                    a.push("-p".into());
                    a.push(self.port.to_string());
                }
                if let Some(s) = &self.socketdir {
                    a.push("-k".into());
                    a.push(s.to_string_lossy().into_owned());
                }
                if let Some(h) = &self.host {
                    a.push("-h".into());
                    a.push(h.clone());
                }
            }
            Engine::Mysql => {
                // --defaults-file must come first.
                if let Some(c) = config {
                    a.push(format!("--defaults-file={}", c.display()));
                }
                a.push(format!("--datadir={d}"));
                a.push(format!("--pid-file={}", self.pid_file.display()));
                a.push(format!("--socket={}", self.socket.display()));
                if self.port_set {
                    a.push(format!("--port={}", self.port));
                }
                if let Some(h) = &self.host {
                    a.push(format!("--bind-address={h}"));
                }
            }
        }
        a.extend(self.additional.iter().cloned());
        a
    }
}

/// Debian's layout: /etc/postgresql/<version>/<cluster>/postgresql.conf
/// names its data directory in `data_directory = '...'`.
fn debian_pg_config(etc: &Path, datadir: &Path) -> Option<PathBuf> {
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
fn data_directory(conf: &str) -> Option<PathBuf> {
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

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
            is_executable(&bin).then_some((key, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

pub struct Database;

impl ocf::Agent for Database {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        let engine = match p.string(&ENGINE) {
            Some("mysql") => Engine::Mysql,
            _ => Engine::Postgresql,
        };
        let pg = engine == Engine::Postgresql;
        let path = |s: &ParamSpec| p.string(s).map(PathBuf::from);
        let datadir = match (path(&DATADIR), engine) {
            (Some(d), _) => d,
            (None, Engine::Mysql) => PathBuf::from("/var/lib/mysql"),
            (None, Engine::Postgresql) => {
                return Err(OcfError::configured(
                    "datadir is required for engine=postgresql",
                ));
            }
        };
        for (spec, only) in [(&SOCKETDIR, Engine::Postgresql), (&SOCKET, Engine::Mysql)] {
            if p.is_set(spec) && engine != only {
                return Err(OcfError::configured(format!(
                    "{} applies to engine={} only",
                    spec.name,
                    if pg { "mysql" } else { "postgresql" }
                )));
            }
        }
        let user = p
            .string(&USER)
            .unwrap_or(if pg { "postgres" } else { "mysql" })
            .to_string();
        let port = p
            .integer(&PORT)
            .map(|n| n as u16)
            .unwrap_or(if pg { 5432 } else { 3306 });
        let pid_file = path(&PID).unwrap_or_else(|| {
            if pg {
                datadir.join("postmaster.pid")
            } else {
                PathBuf::from("/run/mysqld/mysqld.pid")
            }
        });
        let query = p.string(&MONITOR_QUERY).unwrap_or("SELECT 1").to_string();
        if query.trim().is_empty() {
            return Err(OcfError::configured("monitor_query is empty"));
        }
        Ok(Config {
            engine,
            binary: path(&BINARY),
            config: path(&CONFIG),
            socketdir: path(&SOCKETDIR),
            socket: path(&SOCKET).unwrap_or_else(|| PathBuf::from("/run/mysqld/mysqld.sock")),
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
                .map(str::to_string)
                .or_else(|| pg.then(|| "postgres".to_string())),
            monitor_user: p
                .string(&MONITOR_USER)
                .map(str::to_string)
                .unwrap_or_else(|| if pg { user.clone() } else { "root".into() }),
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
            user,
            datadir,
        })
    }

    fn check_environment(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        cfg.resolve_binary()?;
        service_user(cfg)?;
        if !cfg.initialised() {
            return Err(OcfError::installed(format!(
                "data directory {} is not an initialised {} data directory",
                cfg.datadir.display(),
                cfg.label()
            )));
        }
        if let Some(c) = &cfg.config
            && !c.is_file()
        {
            return Err(OcfError::installed(format!(
                "configuration file {} does not exist",
                c.display()
            )));
        }
        Ok(())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let binary = cfg.resolve_binary()?;
        let user = service_user(cfg)?;
        let configured = Server::configured(cfg, Some(&binary));
        // A server an earlier start started elsewhere (the data directory
        // changed since) still runs: starting a second one would lose track
        // of it. Failing makes Pacemaker stop it first.
        if let Some(old) = Record::load(ctx).as_ref().and_then(Server::recorded)
            && let Some(pid) = old.find_main()
            && !configured.id.matches(pid)
        {
            return Err(OcfError::generic(format!(
                "{} (pid {pid}) that an earlier start started in {} still runs; the \
                 configuration now names {}: stop the resource first",
                cfg.label(),
                old.id.datadir.display(),
                cfg.datadir.display()
            )));
        }
        if let Some(pid) = configured.find_main() {
            ocf::info!("{} is already running (pid {pid})", ctx.instance);
            state::record(cfg, &binary, ctx, Some(pid));
            return wait_until_answering(cfg, &user, dl, None, pid);
        }
        prepare(cfg, &user)?;
        let log = match &cfg.log {
            Some(path) => Some(process::open_log(path, &user).map_err(|e| {
                OcfError::generic(format!(
                    "log file {}: {e} (it must be missing, or a regular file of user {})",
                    path.display(),
                    user.name
                ))
            })?),
            None => None,
        };
        let config = cfg.start_config();
        let argv = cfg.server_argv(&binary, config.as_deref());
        // What is about to run, before it runs: a start killed half-way
        // still leaves what stop needs.
        state::record(cfg, &binary, ctx, None);
        ocf::deadline::set_phase("launching the server");
        ocf::info!("starting {}: {}", cfg.label(), argv.join(" "));
        let mut child = process::spawn_detached(&argv, &user, log)
            .map_err(|e| OcfError::generic(format!("cannot start {}: {e}", binary.display())))?;
        let pid = child.id() as i32;
        state::record(cfg, &binary, ctx, Some(pid));
        wait_until_answering(cfg, &user, dl, Some(&mut child), pid)?;
        ocf::info!("{} started (pid {pid})", cfg.label());
        Ok(())
    }

    /// Stops the configured server and the one start recorded, if the
    /// configuration has changed since (another datadir or pid file).
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let binary = cfg.resolve_binary().ok();
        let mut servers = vec![Server::configured(cfg, binary.as_deref())];
        servers.extend(Record::load(ctx).as_ref().and_then(Server::recorded));
        state::stop_all(&servers, Some(cfg), ctx, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let configured = Server::configured(cfg, cfg.binary.as_deref());
        let recorded = Record::load(ctx).as_ref().and_then(Server::recorded);
        let rec_main = recorded.as_ref().and_then(Server::main_pid);
        if let (Some(pid), Some(old)) = (rec_main, &recorded)
            && !configured.id.matches(pid)
        {
            // It runs, so a probe must not say 7; the recurring monitor
            // fails, and the stop that follows stops it.
            let msg = format!(
                "{} (pid {pid}) that start started in {} still runs, but the configuration \
                 now names {}: a restart applies the change",
                cfg.label(),
                old.id.datadir.display(),
                cfg.datadir.display()
            );
            if ctx.is_probe() {
                ocf::warn!("{msg}");
                return Ok(Status::Success);
            }
            return Err(OcfError::generic(msg));
        }
        let found = configured.main_pid().or(rec_main).or_else(|| {
            let pid = configured.scan().0?;
            ocf::warn!(
                "{} (pid {pid}) runs in {} but no pid file names it ({})",
                cfg.label(),
                cfg.datadir.display(),
                cfg.pid_file.display()
            );
            Some(pid)
        });
        let Some(pid) = found else {
            return Err(not_running(cfg, &configured, dl));
        };
        let user = service_user(cfg)?;
        let started = Instant::now();
        let probe_dl = match cfg.monitor_timeout {
            Some(t) => dl.cap(t),
            None => *dl,
        };
        match probe(cfg, &user, probe_dl) {
            Ok(_) => Ok(Status::Success),
            // The server may have died while we asked: that is "stopped".
            Err(_) if !configured.id.matches(pid) => Err(OcfError::not_running(format!(
                "{} (pid {pid}) exited during the monitor",
                cfg.label()
            ))),
            Err(e) => Err(OcfError::generic(explain(cfg, pid, &e, started.elapsed()))),
        }
    }

    /// Make the running server re-read its configuration without a restart:
    /// SIGHUP, which is what `pg_ctl reload` sends (postgresql.conf,
    /// pg_hba.conf, ALTER SYSTEM) and what makes MariaDB/MySQL reload their
    /// grant tables and reopen their logs. Then the monitor's query, so a
    /// 0 means the server still answers.
    fn reload(cfg: &Config, _ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let Some(pid) = Server::configured(cfg, cfg.binary.as_deref()).find_main() else {
            return Err(OcfError::not_running(format!(
                "nothing to reload: {}",
                not_running_reason(cfg)
            )));
        };
        process::signal(pid, libc::SIGHUP);
        ocf::info!(
            "{} (pid {pid}) told to reload its configuration (SIGHUP)",
            cfg.label()
        );
        let user = service_user(cfg)?;
        let started = Instant::now();
        probe(cfg, &user, *dl)
            .map(drop)
            .map_err(|e| OcfError::generic(explain(cfg, pid, &e, started.elapsed())))
    }

    /// The binary removed by an upgrade, the user unknown to NSS, the
    /// datadir parameter changed to a directory that is not initialised,
    /// parameters that do not parse: whatever of this resource still runs
    /// here (the recorded server, the configured one, or what the raw
    /// datadir names) is stopped for real, and 0 only when nothing is left.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        let servers = state::servers_of(cfg, rec, ctx);
        if servers.is_empty() {
            ocf::info!(
                "stop: {}; no record and no data directory name a server of this resource",
                why.reason
            );
            return Ok(());
        }
        ocf::info!("stop: {}; stopping any server of this resource", why.reason);
        state::stop_all(&servers, cfg, ctx, dl)
    }

    /// 7 only when no server of this resource runs here: the recorded one
    /// (same PID and start time, program and data directory), the one the
    /// configured pid files name, or one working in the data directory.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        let servers = state::servers_of(cfg, rec, ctx);
        for s in &servers {
            if let Some(pid) = s.find_main() {
                ocf::warn!(
                    "probe: {}; but the server (pid {pid}) in {} runs",
                    why.reason,
                    s.id.datadir.display()
                );
                return Ok(Status::Success);
            }
        }
        let left = state::leftovers(&servers, dl);
        if !left.is_empty() {
            return Err(OcfError::generic(format!(
                "{}; the main server process is gone but processes of it remain: {left:?}",
                why.reason
            )));
        }
        Ok(Status::NotRunning)
    }
}

/// Nothing names the configured server: 7, unless processes of it are
/// still there (PostgreSQL backends outliving a killed postmaster for
/// more than a moment), which is not "stopped".
fn not_running(cfg: &Config, configured: &Server, dl: &Deadline) -> OcfError {
    let left = state::leftovers(std::slice::from_ref(configured), dl);
    if left.is_empty() {
        OcfError::not_running(not_running_reason(cfg))
    } else {
        OcfError::generic(format!(
            "{}, but {} of its processes remain in {}: {left:?}; stop removes them",
            not_running_reason(cfg),
            left.len(),
            cfg.datadir.display()
        ))
    }
}

fn service_user(cfg: &Config) -> OcfResult<User> {
    process::lookup_user(&cfg.user, cfg.group.as_deref()).map_err(OcfError::installed)
}

fn not_running_reason(cfg: &Config) -> String {
    match process::read_pid_file(&cfg.pid_file) {
        None => format!(
            "{} is not running (no pid file {})",
            cfg.label(),
            cfg.pid_file.display()
        ),
        Some(pid) => format!(
            "{} is not running (pid {pid} from {} is gone)",
            cfg.label(),
            cfg.pid_file.display()
        ),
    }
}

/// Run the monitor query once, before `dl`.
pub fn probe(cfg: &Config, user: &User, dl: Deadline) -> Result<String, ProbeError> {
    let target = cfg.target();
    let identity = match (cfg.engine, &target) {
        // Peer authentication maps the OS user: connect as the service user.
        (Engine::Postgresql, Target::Unix(_)) => Some(PeerIdentity {
            uid: user.uid,
            gid: user.gid,
        }),
        _ => None,
    };
    ocf::deadline::set_phase("monitor: connect");
    let mut conn = Conn::connect(&target, dl, identity)?;
    conn.check_peer(&[user.uid, 0])?;
    ocf::deadline::set_phase("monitor: authentication and query");
    let statement_timeout_ms = dl.remaining().as_millis().max(1) as u64;
    match cfg.engine {
        Engine::Postgresql => pg::probe(
            &mut conn,
            &pg::Login {
                user: &cfg.monitor_user,
                password: cfg.monitor_password.as_ref().map(Secret::expose),
                database: cfg.database.as_deref().unwrap_or("postgres"),
                query: &cfg.monitor_query,
                statement_timeout_ms,
                allow_md5: cfg.monitor_allow_md5,
            },
        ),
        Engine::Mysql => mysql::probe(
            &mut conn,
            &mysql::Login {
                user: &cfg.monitor_user,
                password: cfg.monitor_password.as_ref().map(Secret::expose),
                database: cfg.database.as_deref(),
                query: &cfg.monitor_query,
                statement_timeout_ms,
                server_public_key: &cfg.server_public_key,
                key_owners: &[user.uid, 0],
            },
        )
        .map(|(row, _version)| row),
    }
}

/// One exit reason per failure: the phase, what it means, and for how long.
fn explain(cfg: &Config, pid: i32, e: &ProbeError, took: Duration) -> String {
    let l = cfg.label();
    let t = cfg.target();
    let secs = took.as_secs_f64();
    match &e.kind {
        ProbeErrorKind::Timeout => format!(
            "{l} (pid {pid}) did not answer at {t} within {secs:.1}s: stuck in phase '{}' \
             (hung or overloaded server)",
            e.phase
        ),
        ProbeErrorKind::Credentials(m) => format!(
            "{l} is up but rejected the monitor login of user \"{}\" (wrong password or no \
             access; phase '{}'): {m}",
            cfg.monitor_user, e.phase
        ),
        ProbeErrorKind::Unreachable(m) => format!(
            "{l} process (pid {pid}) is alive but nothing accepts connections at {t} \
             (phase 'connect'): {m}"
        ),
        ProbeErrorKind::NotReady(m) => {
            format!(
                "{l} (pid {pid}) is not accepting queries (phase '{}'): {m}",
                e.phase
            )
        }
        ProbeErrorKind::NoRow => format!(
            "{l} monitor query returned no row (phase 'query'): {}",
            cfg.monitor_query
        ),
        ProbeErrorKind::Resolve(m) => format!(
            "{l} (pid {pid}) runs, but the monitor cannot resolve the host of {t} (phase \
             'connect', after {secs:.1}s): {m}"
        ),
        ProbeErrorKind::Refused(m) => format!(
            "{l} monitor did not log in at {t} (phase '{}'): {m}",
            e.phase
        ),
        ProbeErrorKind::Server(m) | ProbeErrorKind::Other(m) => {
            format!("{l} monitor failed in phase '{}' at {t}: {m}", e.phase)
        }
    }
}

/// Directories the server needs, and stale files a crash left behind.
fn prepare(cfg: &Config, user: &User) -> OcfResult<()> {
    let mkdir = |d: &Path, mode: u32| {
        process::ensure_dir(d, user, mode)
            .map_err(|e| OcfError::generic(format!("cannot create {}: {e}", d.display())))
    };
    match cfg.engine {
        Engine::Postgresql => {
            // The socket directory; /var/run/postgresql is normally made by
            // the packaging's tmpfiles.d, which a cluster node may not run.
            if let Some(s) = cfg.pg_socket().parent() {
                mkdir(s, 0o2775)?;
            }
            remove_stale_socket_lock(cfg);
        }
        Engine::Mysql => {
            for f in [&cfg.socket, &cfg.pid_file] {
                if let Some(d) = f.parent() {
                    mkdir(d, 0o755)?;
                }
            }
        }
    }
    remove_stale_pid_file(cfg);
    Ok(())
}

/// PostgreSQL refuses to start while `.s.PGSQL.<port>.lock` names a PID
/// that exists, and a killed postmaster that nobody reaped is a zombie that
/// exists. A lock whose PID is not a live process goes, with its socket.
fn remove_stale_socket_lock(cfg: &Config) {
    let socket = cfg.pg_socket();
    let lock = PathBuf::from(format!("{}.lock", socket.display()));
    if let Some(pid) = process::read_pid_file(&lock)
        && !process::alive(pid)
    {
        for f in [&lock, &socket] {
            if fs::remove_file(f).is_ok() {
                ocf::info!("removed stale {} (pid {pid} is gone)", f.display());
            }
        }
    }
}

/// Remove a pid file whose process is gone (the caller checked), so the
/// next start and monitor do not trust it.
fn remove_stale_pid_file(cfg: &Config) {
    if cfg.pid_file.exists() {
        match fs::remove_file(&cfg.pid_file) {
            Ok(()) => ocf::info!("removed stale pid file {}", cfg.pid_file.display()),
            Err(e) => ocf::warn!("cannot remove {}: {e}", cfg.pid_file.display()),
        }
    }
}

/// Poll the monitor query until it answers or `dl` passes. A server that
/// dies meanwhile, or rejects the credentials, ends the wait at once.
fn wait_until_answering(
    cfg: &Config,
    user: &User,
    dl: &Deadline,
    mut child: Option<&mut std::process::Child>,
    pid: i32,
) -> OcfResult<()> {
    ocf::deadline::set_phase("waiting for the server to answer");
    let last = loop {
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            let tail = cfg
                .log
                .as_deref()
                .and_then(|l| process::last_log_line(l, user.uid))
                .map(|l| format!("; log: {l}"))
                .unwrap_or_else(|| "; set the log parameter to see why".into());
            return Err(OcfError::generic(format!(
                "{} exited during start ({status}){tail}",
                cfg.label()
            )));
        }
        if child.is_none() && !process::alive(pid) {
            return Err(OcfError::generic(format!(
                "{} (pid {pid}) exited during start",
                cfg.label()
            )));
        }
        match probe(cfg, user, dl.cap(Duration::from_secs(5))) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind,
                    ProbeErrorKind::Credentials(_) | ProbeErrorKind::Refused(_)
                ) =>
            {
                return Err(OcfError::generic(explain(cfg, pid, &e, Duration::ZERO)));
            }
            Err(e) => {
                ocf::deadline::set_phase("waiting for the server to answer");
                if !dl.sleep(START_PROBE_INTERVAL) {
                    break e;
                }
            }
        }
    };
    Err(OcfError::generic(format!(
        "{} (pid {pid}) did not answer the monitor query before the start timeout; last \
         error: {last}",
        cfg.label()
    )))
}

/// MySQL's clean shutdown through the protocol, with the monitor login.
pub(crate) fn mysql_shutdown(cfg: &Config, dl: Deadline) -> Result<(), ProbeError> {
    let user = service_user(cfg).map_err(|e| ProbeError::other(conn::Phase::Connect, e.reason))?;
    let mut conn = Conn::connect(&cfg.target(), dl, None)?;
    conn.check_peer(&[user.uid, 0])?;
    mysql::execute(
        &mut conn,
        &mysql::Login {
            user: &cfg.monitor_user,
            password: cfg.monitor_password.as_ref().map(Secret::expose),
            database: None,
            query: "SHUTDOWN",
            statement_timeout_ms: 0,
            server_public_key: &cfg.server_public_key,
            key_owners: &[user.uid, 0],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use conn::Phase;
    use ocf::Agent;

    fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = Context::from_vars(
            "database",
            "start",
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let p = Params::parse(&PARAMS, &c.params)?;
        Database::configure(&p, &c)
    }

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
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
    fn the_password_never_shows_in_debug_output() {
        let cfg = configure(&[
            ("OCF_RESKEY_engine", "mysql"),
            ("OCF_RESKEY_monitor_password", "hunter2"),
        ])
        .unwrap();
        assert_eq!(cfg.monitor_password.as_ref().unwrap().expose(), "hunter2");
        assert!(!format!("{cfg:?}").contains("hunter2"));
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

    #[test]
    fn reasons_tell_credentials_from_hangs() {
        let cfg = configure(&[
            ("OCF_RESKEY_engine", "postgresql"),
            ("OCF_RESKEY_datadir", "/srv/pg"),
            ("OCF_RESKEY_monitor_user", "mon"),
        ])
        .unwrap();
        let hang = explain(
            &cfg,
            42,
            &ProbeError::new(Phase::Authentication, ProbeErrorKind::Timeout),
            Duration::from_millis(2500),
        );
        assert!(
            hang.contains("phase 'authentication'") && hang.contains("2.5s"),
            "{hang}"
        );
        let creds = explain(
            &cfg,
            42,
            &ProbeError::new(
                Phase::Authentication,
                ProbeErrorKind::Credentials("28P01: password authentication failed".into()),
            ),
            Duration::ZERO,
        );
        assert!(
            creds.contains("rejected") && creds.contains("\"mon\""),
            "{creds}"
        );
        assert!(!creds.contains("hung"));
    }
}
