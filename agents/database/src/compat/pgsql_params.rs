//! ocf:heartbeat:pgsql's parameters: its names and defaults, our meaning
//! (the same wherever we can; where not, the description says so).

use ocf::ParamSpec;
use ocf::params::checks;

use super::Replication;
use crate::params::{check_host, check_name, check_socketdir};

pub static PGCTL: ParamSpec = ParamSpec::new(
    "pgctl",
    "pg_ctl path",
    "Path (or name on PATH) of pg_ctl. This agent does not run pg_ctl: it starts the postgres \
     program in the same directory directly, as pgdba. At the default, the major version is \
     read from pgdata/PG_VERSION and /usr/lib/postgresql/<major>/bin/postgres (or \
     /usr/pgsql-<major>/bin/postgres) is used, so several installed majors are fine and \
     Debian (which has no /usr/bin/pg_ctl) needs no setting.",
)
.default("/usr/bin/pg_ctl");

pub static START_OPT: ParamSpec = ParamSpec::new(
    "start_opt",
    "postgres start options",
    "Options for the postgres server (pg_ctl -o in the heartbeat agent), e.g. \"-i -p 5432\". \
     Split at whitespace into separate arguments (no shell: quotes are not interpreted).",
);

pub static CTL_OPT: ParamSpec = ParamSpec::new(
    "ctl_opt",
    "pg_ctl options",
    "Additional pg_ctl options (-w, -W, -t...). Accepted and ignored with a warning: this agent \
     starts postgres itself and waits until the monitor query answers, within the start timeout.",
);

pub static PSQL: ParamSpec = ParamSpec::new(
    "psql",
    "psql path",
    "Path of psql. Accepted and ignored: the monitor speaks the PostgreSQL protocol itself (one \
     connection, one query, one deadline) instead of forking psql.",
)
.default("/usr/bin/psql");

pub static PGDATA: ParamSpec = ParamSpec::new(
    "pgdata",
    "Data directory",
    "Absolute path of the data directory (PGDATA). A directory that is not initialised (no \
     PG_VERSION) means the server cannot run on this node: a probe answers 7.",
)
.default("/var/lib/pgsql/data")
.check(checks::absolute_path);

pub static PGDBA: ParamSpec = ParamSpec::new(
    "pgdba",
    "Database owner",
    "The operating-system user that owns the data directory and runs the server; it must exist \
     (else 5) and be able to write pgdata (else start answers 4).",
)
.default("postgres")
.check(check_name);

pub static PGHOST: ParamSpec = ParamSpec::new(
    "pghost",
    "Listen host",
    "When set, the server is started with -h <pghost> (its listen address) and the monitor \
     connects there over TCP instead of the unix socket; set monitor_user and \
     monitor_password when pg_hba.conf asks for a password there.",
)
.check(check_host);

pub static PGPORT: ParamSpec = ParamSpec::new(
    "pgport",
    "Port",
    "The server's port: postgres is started with -p <pgport> (the heartbeat agent exports \
     PGPORT), and the monitor connects to it (the socket file .s.PGSQL.<pgport>, or TCP).",
)
.integer(1, 65535)
.default("5432");

pub static PGLIBS: ParamSpec = ParamSpec::new(
    "pglibs",
    "Library path",
    "Added to LD_LIBRARY_PATH by the heartbeat agent for pg_ctl and psql. Accepted; a value \
     other than the default is ignored with a warning (postgres finds its libraries itself).",
)
.default("/usr/lib");

pub static MONITOR_USER: ParamSpec = ParamSpec::new(
    "monitor_user",
    "Monitor user",
    "Database user the monitor logs in as; monitor_password must be set with it. Default: \
     pgdba, over the unix socket with the OS identity of pgdba (peer authentication works).",
);

pub static MONITOR_PASSWORD: ParamSpec = ParamSpec::new(
    "monitor_password",
    "Monitor password",
    "Password of monitor_user. Never put on a command line, in the environment of a child or \
     in a log; over TCP it is only sent as a SCRAM proof.",
)
.secret();

pub static MONITOR_SQL: ParamSpec = ParamSpec::new(
    "monitor_sql",
    "Monitor query",
    "The query every monitor runs over the client protocol; it must return a row.",
)
.default("select now();");

pub static CONFIG: ParamSpec = ParamSpec::new(
    "config",
    "Configuration file",
    "Absolute path of postgresql.conf, passed as -c config_file=... (it must exist, else 5). \
     Default: pgdata/postgresql.conf; when that does not exist either, the Debian cluster's \
     /etc/postgresql/<version>/<cluster>/postgresql.conf whose data_directory is pgdata.",
)
.check(checks::absolute_path);

pub static PGDB: ParamSpec = ParamSpec::new(
    "pgdb",
    "Monitor database",
    "Database the monitor connects to.",
)
.default("template1");

pub static LOGFILE: ParamSpec = ParamSpec::new(
    "logfile",
    "Server log",
    "File the server's output is appended to (pg_ctl -l in the heartbeat agent); created for \
     pgdba with mode 0640. /dev/null (the default) keeps none.",
)
.default("/dev/null")
.check(checks::absolute_path);

pub static SOCKETDIR: ParamSpec = ParamSpec::new(
    "socketdir",
    "Socket directory",
    "Directory of the unix socket the monitor connects to; created (owned by pgdba, mode \
     2775) if missing, and passed to the server as -k so it listens there. Default: the \
     build's default (/var/run/postgresql on Debian).",
)
.check(check_socketdir);

pub static STOP_ESCALATE: ParamSpec = ParamSpec::new(
    "stop_escalate",
    "Fast shutdown time",
    "Seconds stop waits after a fast shutdown before an immediate one; always within the stop \
     timeout (a SIGKILL of what is left comes last).",
)
.integer(0, 86400)
.default("90");

pub static CHECK_WAL_RECEIVER: ParamSpec = ParamSpec::new(
    "check_wal_receiver",
    "Check the WAL receiver",
    "Publish the WAL receiver's state (standbys only). Replication parameter: true is refused \
     (not supported yet).",
)
.boolean()
.default("false");

macro_rules! replication {
    ($id:ident, $name:literal, $short:literal, $default:literal) => {
        pub static $id: ParamSpec = ParamSpec::new(
            $name,
            $short,
            concat!(
                $short,
                ". Replication parameter: accepted so an existing ocf:heartbeat:pgsql resource \
                 keeps its attributes; anything but its default (no replication) is refused \
                 with ERR_CONFIGURED (not supported yet)."
            ),
        )
        .default($default);
    };
    ($id:ident, $name:literal, $short:literal) => {
        pub static $id: ParamSpec = ParamSpec::new(
            $name,
            $short,
            concat!(
                $short,
                ". Replication parameter: accepted so an existing ocf:heartbeat:pgsql resource \
                 keeps its attributes; any value is refused with ERR_CONFIGURED (not supported \
                 yet)."
            ),
        );
    };
}

replication!(
    REP_MODE,
    "rep_mode",
    "Replication mode (none, async, sync, slave)",
    "none"
);
replication!(NODE_LIST, "node_list", "Replication nodes");
replication!(
    RESTORE_COMMAND,
    "restore_command",
    "restore_command for recovery"
);
replication!(
    ARCHIVE_CLEANUP_COMMAND,
    "archive_cleanup_command",
    "archive_cleanup_command for recovery"
);
replication!(
    RECOVERY_END_COMMAND,
    "recovery_end_command",
    "recovery_end_command for recovery"
);
replication!(
    MASTER_IP,
    "master_ip",
    "Primary's address for primary_conninfo"
);
replication!(REPUSER, "repuser", "Replication user", "postgres");
replication!(
    PRIMARY_CONNINFO_OPT,
    "primary_conninfo_opt",
    "Extra primary_conninfo options"
);
replication!(
    RESTART_ON_PROMOTE,
    "restart_on_promote",
    "Restart on promote",
    "false"
);
replication!(
    REPLICATION_SLOT_NAME,
    "replication_slot_name",
    "Replication slot name"
);
replication!(
    TMPDIR,
    "tmpdir",
    "Directory of the replication lock and state files",
    "/var/lib/pgsql/tmp"
);
replication!(
    XLOG_CHECK_COUNT,
    "xlog_check_count",
    "WAL position checks before promotion",
    "3"
);
replication!(
    CRM_ATTR_TIMEOUT,
    "crm_attr_timeout",
    "Timeout of the replication attribute updates",
    "5"
);
replication!(
    STOP_ESCALATE_IN_SLAVE,
    "stop_escalate_in_slave",
    "stop_escalate for a standby",
    "90"
);

pub static PARAMS: [ParamSpec; 32] = [
    PGCTL,
    START_OPT,
    CTL_OPT,
    PSQL,
    PGDATA,
    PGDBA,
    PGHOST,
    PGPORT,
    PGLIBS,
    MONITOR_USER,
    MONITOR_PASSWORD,
    MONITOR_SQL,
    CONFIG,
    PGDB,
    LOGFILE,
    SOCKETDIR,
    STOP_ESCALATE,
    REP_MODE,
    NODE_LIST,
    RESTORE_COMMAND,
    ARCHIVE_CLEANUP_COMMAND,
    RECOVERY_END_COMMAND,
    MASTER_IP,
    REPUSER,
    PRIMARY_CONNINFO_OPT,
    RESTART_ON_PROMOTE,
    REPLICATION_SLOT_NAME,
    TMPDIR,
    XLOG_CHECK_COUNT,
    CRM_ATTR_TIMEOUT,
    STOP_ESCALATE_IN_SLAVE,
    CHECK_WAL_RECEIVER,
];

/// The replication parameters and their values meaning "no replication".
pub(crate) static REPLICATION_PARAMS: [Replication; 15] = [
    Replication {
        spec: &REP_MODE,
        inert: &["none"],
    },
    Replication {
        spec: &NODE_LIST,
        inert: &[],
    },
    Replication {
        spec: &RESTORE_COMMAND,
        inert: &[],
    },
    Replication {
        spec: &ARCHIVE_CLEANUP_COMMAND,
        inert: &[],
    },
    Replication {
        spec: &RECOVERY_END_COMMAND,
        inert: &[],
    },
    Replication {
        spec: &MASTER_IP,
        inert: &[],
    },
    Replication {
        spec: &REPUSER,
        inert: &["postgres"],
    },
    Replication {
        spec: &PRIMARY_CONNINFO_OPT,
        inert: &[],
    },
    Replication {
        spec: &RESTART_ON_PROMOTE,
        inert: &["false"],
    },
    Replication {
        spec: &REPLICATION_SLOT_NAME,
        inert: &[],
    },
    Replication {
        spec: &TMPDIR,
        inert: &["/var/lib/pgsql/tmp"],
    },
    Replication {
        spec: &XLOG_CHECK_COUNT,
        inert: &["3"],
    },
    Replication {
        spec: &CRM_ATTR_TIMEOUT,
        inert: &["5"],
    },
    Replication {
        spec: &STOP_ESCALATE_IN_SLAVE,
        inert: &["90"],
    },
    Replication {
        spec: &CHECK_WAL_RECEIVER,
        inert: &["false"],
    },
];
