//! `ocf:rust:database`: a PostgreSQL or MySQL/MariaDB server whose monitor
//! runs a real query over a real client connection on every interval.
//!
//! It replaces the lifecycle part of `ocf:heartbeat:pgsql` and
//! `ocf:heartbeat:mysql` (no replication, no promotion):
//!
//! * start ([`start`]) launches the server binary directly by argv as the
//!   service user, detached from our pipes, and waits until the monitor
//!   query answers;
//! * monitor ([`monitor`]) checks the process named in the pid file, then
//!   connects (unix socket or TCP), authenticates and runs `monitor_query`
//!   under ONE deadline, with the server's own statement timeout as a
//!   second fence. Its exit reason names the phase that failed and tells
//!   rejected credentials from a dead or hung server;
//! * stop ([`stop`]) escalates inside one budget: PostgreSQL fast,
//!   immediate, SIGKILL; MySQL `SHUTDOWN`, SIGTERM, SIGKILL; then checks no
//!   server process is left.
//!
//! Everything that differs between the engines is behind one trait,
//! [`engine::Engine`]. The parameters are in [`params`], the configuration
//! in [`config`], what runs here and what start recorded in [`state`], the
//! wire clients in [`pg`] and [`mysql`] over [`conn`], the kernel's view of
//! the processes in [`process`], the service user in [`user`].

pub mod compat;
pub mod config;
pub mod conn;
pub mod engine;
pub mod monitor;
pub mod mysql;
pub mod params;
pub mod pg;
pub mod process;
#[cfg(test)]
mod props;
pub mod start;
pub mod state;
pub mod stop;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfResult, Params, Record, Status};

pub use compat::mysql::{INFO as MYSQL_INFO, Mysql};
pub use compat::pgsql::{INFO as PGSQL_INFO, Pgsql};
pub use config::{Config, Secret};
pub use params::PARAMS;

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

pub struct Database;

impl ocf::Agent for Database {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        config::configure(p)
    }

    fn check_environment(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        cfg.check_environment()
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        start::start(cfg, ctx, dl)
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        stop::stop(cfg, ctx, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        monitor::monitor(cfg, ctx, dl)
    }

    fn reload(cfg: &Config, _ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        monitor::reload(cfg, dl)
    }

    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &ocf::OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        stop::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &ocf::OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        monitor::probe_unconfigured(cfg, rec, ctx, why, dl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
    }
}
