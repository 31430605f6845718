//! `ocf:rust:ipaddr`: a floating IPv4 or IPv6 address, the replacement for
//! `ocf:heartbeat:IPaddr2` with the same parameter names.
//!
//! Everything happens in this process: addresses are read, added and removed
//! over rtnetlink ([`netlink`]: netlink-packet-route messages on a
//! netlink-sys socket, synchronously), gratuitous ARP and unsolicited
//! neighbour advertisements go out of raw sockets ([`announce`]), and
//! `network_namespace` is entered with `setns(2)` ([`netns`]). A monitor
//! forks nothing.
//!
//! Decisions where IPaddr2 was unclear or hurt users:
//! * the interface and prefix are looked up in the routing table only in
//!   start (and validate-all at level 10, and in monitor and stop without
//!   `nic` and without a record); monitor and stop otherwise only look at
//!   addresses on interfaces, so a route change never fails them (RA#328);
//! * an interface that is down (not up, or no carrier) makes a recurring
//!   monitor return 7 when `check_link_status` is on (a probe 1: the address
//!   is still here), and start fail with 1, never 5, which would ban the
//!   node until a cleanup (RA#2047);
//! * never lie about state: start records what it adds ([`record`]), and
//!   stop and a probe find it through that record whatever the parameters
//!   say now; an address of the same value on another interface is not
//!   ours.
//! * the announcement is synchronous, its result is logged, and a start
//!   whose announcement cannot be sent fails (RA#958); request, reply or
//!   both forms (RA#977).
//! * an address dump that another change raced (the kernel marks it
//!   `NLM_F_DUMP_INTR`; it may miss entries) counts only where it shows
//!   what is looked for, and is read again otherwise: a busy interface
//!   never makes monitor answer 7 for an address that is there.
//!
//! Modules: [`params`] (the table and its checks), [`config`] (`Config`,
//! and what raw parameters still name), [`start`], [`stop`], [`monitor`],
//! [`target`] (findif, and which address is ours), [`record`], [`netns`],
//! [`netlink`], [`announce`].

pub mod announce;
pub mod config;
pub mod monitor;
pub mod netlink;
pub mod netns;
pub mod params;
pub mod record;
pub mod start;
pub mod stop;
pub mod target;

use std::time::Duration;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Status};

pub use config::{Broadcast, Config, Raw};
pub use params::PARAMS;

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 20),
    ActionSpec::new("stop", 20),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "ipaddr",
    shortdesc: "Floating IPv4/IPv6 address (netlink, native ARP and NA)",
    longdesc: "Manages a floating IPv4 or IPv6 address, with the parameter names of \
        ocf:heartbeat:IPaddr2. The address is added, checked and removed over netlink in \
        the agent's own process; gratuitous ARP (request or reply) and IPv6 unsolicited \
        neighbour advertisements are sent from raw sockets, synchronously, and logged; IPv6 \
        start waits for duplicate address detection. Monitor forks nothing and never looks \
        at routes. Load-sharing clone mode (CLUSTERIP) is not supported: a clone with \
        clone-max above 1 is refused (exit 6).",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct IpAddrAgent;

impl ocf::Agent for IpAddrAgent {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        config::configure(p, ctx)
    }

    /// Enter the network namespace first: every later socket (netlink, raw
    /// ARP/NA, the ioctl behind if_nametoindex) then lives in it.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if let Some(ns) = &cfg.netns {
            netns::enter_named(ns)?;
        }
        if ctx.action == "validate-all" {
            // Level 10: does this node have what start needs?
            let mut nl = netlink::open(&Deadline::after(Duration::from_secs(5)))?;
            target::resolve_target(cfg, &mut nl)?;
        }
        Ok(())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        start::start(cfg, ctx, dl)
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        stop::stop(cfg, ctx, dl)
    }

    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        stop::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        monitor::probe_unconfigured(cfg, rec, ctx, why, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        monitor::monitor(cfg, ctx, dl)
    }
}

/// Adding and removing addresses needs root (CAP_NET_ADMIN).
fn require_root(action: &str) -> OcfResult<()> {
    if !rustix::process::geteuid().is_root() {
        return Err(OcfError::perm(format!("{action} must run as root")));
    }
    Ok(())
}
