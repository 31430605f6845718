//! `ocf:rust:xen`: a Xen domain managed through the `xl` toolstack, the
//! replacement for `ocf:heartbeat:Xen` with its parameter names. The same
//! code is the native Xen backend of `ocf:rust:vm` (its `xmfile`
//! parameter): the vm crate depends on this one for it, the one dependency
//! between agent crates.
//!
//! What it does better than the shell agent: every `xl` call is bounded;
//! "not running" is re-checked before a recurring monitor says so (a
//! rebooting guest vanishes for a moment, RA#314); stop escalates to a
//! bounded destroy inside one budget that keeps a reserve for it, and
//! verifies the domain is gone instead of looping until Pacemaker kills it;
//! the mid-migration names of a domain are stopped too.
//!
//! * [`params`]: the parameter table and its checks; [`config`]: `Config`
//!   (syntax only) and the node check.
//! * [`start`], [`stop`], [`monitor`], [`migrate`]: the actions;
//!   [`unusable`]: stop and probe when the configuration cannot be used.
//! * [`record`]: what start records, and the answers built from it;
//!   [`files`]: the config file and `HA_RSCTMP` files; [`xl`]: the toolstack
//!   and its output.

pub mod config;
pub mod files;
pub mod migrate;
pub mod monitor;
pub mod params;
pub mod record;
pub mod start;
pub mod stop;
pub mod unusable;
pub mod xl;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

pub use config::Config;
pub use params::PARAMS;
pub use stop::destroy_reserve;

pub static ACTIONS: [ActionSpec; 7] = [
    ActionSpec::new("start", 60),
    ActionSpec::new("stop", 40),
    ActionSpec::new("monitor", 30).interval(10).depth(0),
    ActionSpec::new("migrate_to", 120),
    ActionSpec::new("migrate_from", 120),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "xen",
    shortdesc: "Xen domain through the xl toolstack",
    longdesc: "Manages a Xen domain (domU) with the xl toolstack: xl create, shutdown or the \
        ACPI power button, destroy, list and migrate, each bounded by the action's deadline. \
        The replacement for ocf:heartbeat:Xen, with its parameter names. Live migration \
        needs meta allow-migrate=true.",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct Xen;

impl ocf::Agent for Xen {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        config::configure(p)
    }

    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        config::check_environment(cfg, ctx)
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

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        migrate::migrate_to(cfg, ctx, dl)
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        migrate::migrate_from(cfg, ctx, dl)
    }

    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        unusable::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        unusable::probe_unconfigured(cfg, rec, ctx, why, dl)
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    /// `Config` from `OCF_RESKEY_*` variables, as the driver builds it.
    pub(crate) fn configure_vars(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = Context::from_vars("xen", "start", vars.iter().copied());
        let p = Params::parse(&PARAMS, &c.params)?;
        config::configure(&p)
    }

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
    }
}
