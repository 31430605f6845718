//! `ocf:rust:dummy`: the equivalent of `ocf:pacemaker:Dummy`, and the
//! reference every other agent copies its shape from:
//!
//! | file | holds |
//! |---|---|
//! | `lib.rs` | this doc, `ACTIONS`, `INFO` and the `Agent` impl, each method delegating |
//! | `params.rs` | the parameter table and its checks |
//! | `config.rs` | `Config` from validated parameters (syntax only), the environment check |
//! | `state.rs` | the resource itself (here a state file), reached safely |
//! | `actions.rs` | start, stop, monitor, and stop/probe with an unusable configuration |
//!
//! The resource is a state file: present means running. `op_sleep` makes
//! every action sleep first, ignoring its deadline on purpose, so tests and
//! users can watch what a timeout does (our watchdog ends the action before
//! Pacemaker's SIGKILL, with an exit reason naming the phase).

mod actions;
pub mod config;
pub mod params;
mod state;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

pub use config::Config;
pub use params::{FAKE, OP_SLEEP, PARAMS, STATE};

pub static ACTIONS: [ActionSpec; 8] = [
    ActionSpec::new("start", 20),
    ActionSpec::new("stop", 20),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("monitor", 20).interval(60).depth(10),
    ActionSpec::new("migrate_to", 20),
    ActionSpec::new("migrate_from", 20),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "dummy",
    shortdesc: "Example stateless resource agent (a state file)",
    longdesc: "An agent that does nothing but remember whether it runs, in a state file. \
        It is the equivalent of ocf:pacemaker:Dummy, for testing a cluster and as the \
        reference shape of every ocf-rs agent. Monitor depth 10 also checks that the \
        state file names this resource.",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct Dummy;

impl ocf::Agent for Dummy {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        config::configure(p, ctx)
    }

    fn check_environment(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        config::check_environment(cfg)
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        actions::start(cfg, ctx, dl)
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        actions::stop(cfg, ctx, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        actions::monitor(cfg, ctx, dl)
    }

    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        actions::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        _ctx: &Context,
        _why: &OcfError,
        _dl: &Deadline,
    ) -> OcfResult<Status> {
        Ok(actions::probe_unconfigured(cfg, rec))
    }

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        ocf::info!(
            "Migrating {} to {}.",
            ctx.instance,
            ctx.migrate_target().unwrap_or("(no target given)")
        );
        actions::stop(cfg, ctx, dl)
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        ocf::info!(
            "Migrating {} from {}.",
            ctx.instance,
            ctx.migrate_source().unwrap_or("(no source given)")
        );
        actions::start(cfg, ctx, dl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
    }
}
