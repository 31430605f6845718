//! `ocf:rust:vm`: a libvirt virtual machine (KVM/QEMU, or anything libvirt
//! drives), the replacement for `ocf:heartbeat:VirtualDomain` with its
//! parameter names; or, with `xmfile`, a Xen domain through xl.
//!
//! * The backend is chosen once, by [`config::configure`]: libvirt
//!   (`config`, at the `hypervisor` URI), or the native Xen backend
//!   (`xmfile`), which is ocf:rust:xen's code: this crate depends on the
//!   xen crate for it, the one dependency between agent crates.
//! * libvirt is dlopen'ed ([`libvirt`]: RAII handles over the loaded
//!   function table, every `unsafe` of it there); every call is bounded by
//!   the action's deadline ([`hypervisor::bounded`]).
//! * Start ([`start`]) defines the domain from the XML file and boots it;
//!   stop ([`stop`]) shuts it down gracefully for a budgeted share of the
//!   timeout, keeping at least a third (and 10 s where the timeout allows)
//!   for destroy, then undefines it and re-reads its state before answering
//!   0. When libvirtd is down or hung, the domain's QEMU process found in
//!   `/proc` ([`qemu`]) decides: gone means stopped; still there means
//!   monitor says 1 (never 7) and stop ends it.
//! * Monitor ([`monitor`]) re-checks "not running" briefly outside probes
//!   (RA#314), writes utilization only when it changes, and with
//!   `respect_guest_shutdown` turns a guest's own clean power-off into
//!   `target-role=Stopped`.
//! * What start records, and what stop and a probe still find when the
//!   configuration cannot be used: [`record`].
//! * Xen through libvirt: `hypervisor=xen:///system` goes through libvirt's
//!   libxl driver like any other URI (with `xl` to ask when libvirtd cannot
//!   be reached).

pub mod config;
pub mod domxml;
pub mod files;
pub mod hypervisor;
pub mod libvirt;
pub mod migrate;
pub mod migrate_options;
pub mod monitor;
pub mod params;
pub mod qemu;
pub mod record;
pub mod secrets;
pub mod start;
pub mod stop;
pub mod xmfile;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

pub use config::{Config, DEFAULT_URI, LibvirtConfig, shown};
pub use params::PARAMS;

pub static ACTIONS: [ActionSpec; 7] = [
    ActionSpec::new("start", 90),
    ActionSpec::new("stop", 90),
    ActionSpec::new("monitor", 30).interval(10).depth(0),
    ActionSpec::new("migrate_to", 120),
    ActionSpec::new("migrate_from", 60),
    ActionSpec::new("validate-all", 10),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "vm",
    shortdesc: "A libvirt virtual machine (KVM/QEMU and other libvirt drivers)",
    longdesc: "Manages a virtual machine through libvirt: start defines it from its XML \
        file and boots it, stop shuts it down gracefully and destroys it if the guest \
        does not stop in time (always within the stop timeout), monitor reads its state, \
        and migrate_to/migrate_from live-migrate it (set allow-migrate=true). The \
        parameters are those of ocf:heartbeat:VirtualDomain. libvirt is loaded at run \
        time: on a node without it the agent answers 'not installed', and probe and \
        stop look for the domain's QEMU process. Whatever the configuration says, stop \
        and probe never call a domain this resource started stopped while it runs.",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct Vm;

impl ocf::Agent for Vm {
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
        match cfg {
            Config::Libvirt(c) => start::start(c, ctx, dl),
            Config::Xl { xl, .. } => xmfile::start(xl, ctx, dl),
        }
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        stop::stop(cfg, ctx, dl)
    }

    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        stop::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        monitor::probe_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        match cfg {
            Config::Libvirt(c) => monitor::monitor(c, ctx, dl),
            Config::Xl { xl, .. } => xmfile::monitor(xl, ctx, dl),
        }
    }

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        match cfg {
            Config::Libvirt(c) => migrate::migrate_to(c, ctx, dl),
            Config::Xl { xl, .. } => xen::Xen::migrate_to(xl, ctx, dl),
        }
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        match cfg {
            Config::Libvirt(c) => migrate::migrate_from(c, ctx, dl),
            Config::Xl { xl, .. } => xmfile::migrate_from(xl, ctx, dl),
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
