//! The parameter table: one `ParamSpec` per parameter (parsing, the
//! meta-data and the docs all come from it) and the syntax checks.

use ocf::ParamSpec;
use ocf::params::checks;

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

pub(crate) fn check_name(v: &str) -> Result<(), String> {
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

pub(crate) fn check_host(v: &str) -> Result<(), String> {
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
pub(crate) fn check_socketdir(v: &str) -> Result<(), String> {
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
