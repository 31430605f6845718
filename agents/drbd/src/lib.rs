//! `ocf:rust:drbd`: a promotable clone of one DRBD resource (DRBD 8.4 and 9),
//! replacing `ocf:linbit:drbd` with the same parameter names.
//!
//! * State comes from `drbdsetup events2 --now <res>` (9) or
//!   `drbdsetup sh-status <res>` (8.4), parsed into [`state::ResourceState`].
//! * The promotion score follows linbit's table ([`score::decide`]) and is
//!   set on every monitor, probes included, with a bounded `crm_attribute`.
//! * Every drbdadm/drbdsetup call runs under a deadline taken from the
//!   action's own (LINBIT/drbd#51: a frozen drbdsetup).
//! * Start records (`ocf::Record`) the resource, its minors and the
//!   drbdsetup it uses before it creates anything.
//! * Stop answers 0 only once drbdsetup shows the resource gone (or no DRBD
//!   module is loaded): drbdadm first, drbdsetup when drbdadm fails; with an
//!   unusable configuration, drbdsetup alone on what start recorded. A
//!   changed `drbd_resource` or a renamed resource does not hide what runs.
//! * The monitor forks `drbdsetup` once and `crm_attribute` once; the module
//!   version comes from /proc/drbd (no fork) when the module is loaded.
//!
//! The modules: [`params`] and [`config`] (the parameters), [`tools`] and
//! [`kernel`] (drbdadm, drbdsetup, the module), [`state`] (what drbdsetup
//! says), [`score`] and [`promotion`] (the promotion score), [`record`]
//! (what start recorded), and the actions in [`start`], [`stop`],
//! [`monitor`] and [`promote`].

pub mod config;
pub mod kernel;
pub mod monitor;
pub mod params;
pub mod promote;
pub mod promotion;
pub mod record;
pub mod score;
pub mod start;
pub mod state;
pub mod stop;
pub mod tools;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

pub use config::Config;
pub use kernel::{PROC_DRBD_HOOK, SYS_BLOCK_HOOK, is_module_parameter, module_parameters};
pub use params::PARAMS;
pub use promotion::promoted_elsewhere;
pub use record::parse_minors;
pub use tools::ToolError;

pub static ACTIONS: [ActionSpec; 9] = [
    ActionSpec::new("start", 240),
    ActionSpec::new("stop", 100),
    ActionSpec::new("promote", 90),
    ActionSpec::new("demote", 90),
    ActionSpec::new("notify", 90),
    ActionSpec::new("monitor", 20)
        .interval(20)
        .role("Unpromoted"),
    ActionSpec::new("monitor", 20).interval(10).role("Promoted"),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "drbd",
    shortdesc: "A DRBD resource as a promotable clone (DRBD 8.4 and 9)",
    longdesc: "Manages one DRBD resource as a promotable clone: start attaches and \
        connects it (Secondary), promote makes it Primary, demote Secondary, stop takes \
        it down. Monitor reports 0 (Secondary), 8 (Primary) or 9 (Primary without quorum \
        or without access to UpToDate data), and sets this node's promotion score from \
        the disk states, as ocf:linbit:drbd does. Create it with notify=true, e.g. \
        `pcs resource create d ocf:rust:drbd drbd_resource=r0 promotable notify=true`. \
        Fencing stays with DRBD: configure `fencing resource-and-stonith` with the \
        crm-fence-peer handlers, or DRBD quorum.",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct Drbd;

impl ocf::Agent for Drbd {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        config::configure(p, ctx)
    }

    /// The tools exist and drbd.conf is readable (not for monitor);
    /// validate-all also checks the module and the resource.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        start::check_environment(cfg, ctx)
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        start::start(cfg, ctx, dl)
    }

    /// 0 only once drbdsetup shows the resource (and what start recorded
    /// under another name) gone.
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        stop::stop(cfg, ctx, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        monitor::monitor(cfg, ctx, dl)
    }

    fn promote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        promote::promote(cfg, ctx, dl)
    }

    fn demote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        promote::demote(cfg, ctx, dl)
    }

    fn notify(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        promote::notify(cfg, ctx, dl)
    }

    /// Take down with drbdsetup alone what start recorded (or what the raw
    /// parameter still names safely); 0 only when the kernel shows none.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        stop::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    /// The kernel's view of what start recorded: 0 or 8 when it exists, 7
    /// only when it does not, 1 when it cannot be seen.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
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
    }
}
