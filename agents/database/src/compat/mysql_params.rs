//! ocf:heartbeat:mysql's parameters (Linux defaults of mysql-common.sh):
//! its names and defaults, our meaning.

use ocf::ParamSpec;
use ocf::params::checks;

use super::Replication;
use crate::params::check_name;

pub static BINARY: ParamSpec = ParamSpec::new(
    "binary",
    "Server launcher",
    "Path (or name on PATH) of mysqld_safe, or of the server itself. A mysqld_safe wrapper \
     (mysqld_safe, mariadbd-safe, safe_mysqld) is not run: the server it would run is started \
     directly as user, with the [mysqld_safe] section of config honoured (mysqld, ledir and \
     open-files-limit take effect; the other options are logged as ignored). It must exist \
     (else 5).",
)
.default("/usr/bin/mysqld_safe");

pub static CLIENT_BINARY: ParamSpec = ParamSpec::new(
    "client_binary",
    "Client program",
    "Path of the mysql client. Accepted and ignored: the monitor speaks the MySQL protocol \
     itself (no client fork, no password on a command line).",
)
.default("mysql");

pub static CONFIG: ParamSpec = ParamSpec::new(
    "config",
    "Configuration file",
    "Absolute path of the configuration file, passed to the server as --defaults-file (it must \
     exist, else 5).",
)
.default("/etc/mysql/my.cnf")
.check(checks::absolute_path);

pub static DATADIR: ParamSpec = ParamSpec::new(
    "datadir",
    "Data directory",
    "Absolute path of the data directory (--datadir). One without a mysql/ schema means the \
     server cannot run here (a probe answers 7), unless enable_creation is set.",
)
.default("/var/lib/mysql")
.check(checks::absolute_path);

pub static USER: ParamSpec = ParamSpec::new(
    "user",
    "Service user",
    "The user the server runs as; it must exist (else 5) and be able to write datadir (else \
     start answers 4).",
)
.default("mysql")
.check(check_name);

pub static GROUP: ParamSpec = ParamSpec::new(
    "group",
    "Service group",
    "The group the server runs with and created files get.",
)
.default("mysql")
.check(check_name);

pub static LOG: ParamSpec = ParamSpec::new(
    "log",
    "Error log",
    "The server's error log: passed as --log-error, and the server's output is appended to it. \
     Created for user with mode 0640 if missing; an existing one must be a regular file of \
     user (it is never chowned through a link).",
)
.default("/var/log/mysql/error.log")
.check(checks::absolute_path);

pub static PID: ParamSpec = ParamSpec::new(
    "pid",
    "PID file",
    "The server's pid file (--pid-file); its directory is created if missing.",
)
.default("/var/run/mysqld/mysqld.pid")
.check(checks::absolute_path);

pub static SOCKET: ParamSpec = ParamSpec::new(
    "socket",
    "Socket",
    "The server's unix socket (--socket), where the monitor connects.",
)
.default("/var/run/mysqld/mysqld.sock")
.check(checks::absolute_path);

pub static TEST_TABLE: ParamSpec = ParamSpec::new(
    "test_table",
    "Monitor table",
    "Every monitor runs SELECT COUNT(*) FROM <test_table> as test_user over the unix socket \
     (the heartbeat agent does so only at OCF_CHECK_LEVEL 10).",
)
.default("mysql.user")
.check(check_table);

pub static TEST_USER: ParamSpec = ParamSpec::new(
    "test_user",
    "Monitor user",
    "Database user of the monitor query. root (the default) without test_passwd logs in by \
     MariaDB's unix_socket authentication.",
)
.default("root");

pub static TEST_PASSWD: ParamSpec = ParamSpec::new(
    "test_passwd",
    "Monitor password",
    "Password of test_user: never on a command line (the heartbeat agent put it on the \
     mysql client's), never logged.",
)
.secret();

pub static ENABLE_CREATION: ParamSpec = ParamSpec::new(
    "enable_creation",
    "Create the database",
    "When datadir has no mysql/ schema, start runs mariadb-install-db (or mysql_install_db) \
     --datadir=<datadir> --user=<user> first.",
)
.boolean()
.default("0");

pub static ADDITIONAL_PARAMETERS: ParamSpec = ParamSpec::new(
    "additional_parameters",
    "Extra server arguments",
    "More server arguments, split at whitespace (no shell: quotes are not interpreted).",
);

macro_rules! replication {
    ($id:ident, $name:literal, $short:literal $(, $default:literal)?) => {
        pub static $id: ParamSpec = ParamSpec::new(
            $name,
            $short,
            concat!(
                $short,
                ". Replication parameter: accepted so an existing ocf:heartbeat:mysql resource \
                 keeps its attributes; anything but its default (no replication) is refused \
                 with ERR_CONFIGURED (not supported yet)."
            ),
        )
        $(.default($default))?;
    };
}

replication!(
    REPLICATION_USER,
    "replication_user",
    "Replication user",
    "root"
);
replication!(
    REPLICATION_PORT,
    "replication_port",
    "Replication port",
    "3306"
);
replication!(
    REPLICATION_REQUIRE_SSL,
    "replication_require_ssl",
    "Replication over TLS",
    "false"
);
replication!(
    REPLICATION_MASTER_SSL_CA,
    "replication_master_ssl_ca",
    "Replication TLS CA"
);
replication!(
    REPLICATION_MASTER_SSL_CERT,
    "replication_master_ssl_cert",
    "Replication TLS certificate"
);
/// A path, but named like a secret: shown as one.
pub static REPLICATION_MASTER_SSL_KEY: ParamSpec = ParamSpec::new(
    "replication_master_ssl_key",
    "Replication TLS key",
    "Replication TLS key file. Replication parameter: accepted so an existing \
     ocf:heartbeat:mysql resource keeps its attributes; any value is refused with \
     ERR_CONFIGURED (not supported yet).",
)
.secret();
replication!(
    MAX_SLAVE_LAG,
    "max_slave_lag",
    "Maximum replica lag",
    "3600"
);
replication!(
    EVICT_OUTDATED_SLAVES,
    "evict_outdated_slaves",
    "Evict lagging replicas",
    "false"
);
replication!(
    READER_ATTRIBUTE,
    "reader_attribute",
    "Node attribute of readable replicas",
    "readable"
);

pub static REPLICATION_PASSWD: ParamSpec = ParamSpec::new(
    "replication_passwd",
    "Replication password",
    "Replication password. Replication parameter: accepted so an existing \
     ocf:heartbeat:mysql resource keeps its attributes; any value is refused with \
     ERR_CONFIGURED (not supported yet). Never shown.",
)
.secret();

pub static PARAMS: [ParamSpec; 24] = [
    BINARY,
    CLIENT_BINARY,
    CONFIG,
    DATADIR,
    USER,
    GROUP,
    LOG,
    PID,
    SOCKET,
    TEST_TABLE,
    TEST_USER,
    TEST_PASSWD,
    ENABLE_CREATION,
    ADDITIONAL_PARAMETERS,
    REPLICATION_USER,
    REPLICATION_PASSWD,
    REPLICATION_PORT,
    REPLICATION_REQUIRE_SSL,
    REPLICATION_MASTER_SSL_CA,
    REPLICATION_MASTER_SSL_CERT,
    REPLICATION_MASTER_SSL_KEY,
    MAX_SLAVE_LAG,
    EVICT_OUTDATED_SLAVES,
    READER_ATTRIBUTE,
];

pub(crate) static REPLICATION_PARAMS: [Replication; 10] = [
    Replication {
        spec: &REPLICATION_USER,
        inert: &["root"],
    },
    Replication {
        spec: &REPLICATION_PASSWD,
        inert: &[],
    },
    Replication {
        spec: &REPLICATION_PORT,
        inert: &["3306"],
    },
    Replication {
        spec: &REPLICATION_REQUIRE_SSL,
        inert: &["false"],
    },
    Replication {
        spec: &REPLICATION_MASTER_SSL_CA,
        inert: &[],
    },
    Replication {
        spec: &REPLICATION_MASTER_SSL_CERT,
        inert: &[],
    },
    Replication {
        spec: &REPLICATION_MASTER_SSL_KEY,
        inert: &[],
    },
    Replication {
        spec: &MAX_SLAVE_LAG,
        inert: &["3600"],
    },
    Replication {
        spec: &EVICT_OUTDATED_SLAVES,
        inert: &["false"],
    },
    Replication {
        spec: &READER_ATTRIBUTE,
        inert: &["readable"],
    },
];

/// A table name, optionally with its schema: letters, digits, `_`, `$`,
/// one dot, backquotes around either part.
fn check_table(v: &str) -> Result<(), String> {
    let part = |p: &str| {
        let p = p
            .strip_prefix('`')
            .and_then(|p| p.strip_suffix('`'))
            .unwrap_or(p);
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| part(p)) {
        Ok(())
    } else {
        Err("must be a table name: [schema.]table (letters, digits, _ $)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for ok in ["mysql.user", "t", "`db`.`t$1`", "a_b.c"] {
            check_table(ok).unwrap();
        }
        for bad in ["", "a.b.c", "t; DROP TABLE x", "t--", "a.", "`a"] {
            assert!(check_table(bad).is_err(), "{bad}");
        }
    }
}
