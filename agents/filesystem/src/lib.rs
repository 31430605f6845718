//! `ocf:rust:filesystem`: the replacement for `ocf:heartbeat:Filesystem`,
//! with its parameter names.
//!
//! * start ([`start`]): refuse a *different* filesystem already on the
//!   directory (the anchor reports it as ours), create the directory, fsck
//!   by policy, then the system's `mount` by argv (every type and helper
//!   works), verified in the mount table.
//! * monitor ([`monitor`]): `/proc/self/mountinfo` only, zero forks at
//!   depth 0; depth 10 reads the device with O_DIRECT, depth 20 writes and
//!   reads the status file with O_DIRECT|O_SYNC, each in a child under the
//!   deadline ([`bounded_io`], [`child`]).
//! * stop ([`stop`]): umount(2) first; only on EBUSY a readlink scan of
//!   /proc finds the holders ([`holders`]), which get the term signals for
//!   the first half of the budget and the kill signals after; submounts
//!   first; all inside ONE budget.
//!
//! What is ours is decided in [`ours`] from the configuration and from what
//! start recorded ([`record`]); [`params`] holds the parameter table and
//! [`config`] the `Config` built from it.

pub mod bounded_io;
pub mod child;
pub mod config;
pub mod device;
pub mod holders;
pub mod invariants;
pub mod monitor;
pub mod mountinfo;
pub mod ours;
pub mod params;
pub mod record;
pub mod signals;
pub mod start;
pub mod stop;

use ocf::{ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, Params, Record, Status};

pub use config::{Config, Device, parse_device, split_cifs_password};
pub use monitor::status_file_of;
pub use params::{PARAMS, check_statusfile_prefix, system_directory};
pub use start::trusted_mount_point;

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 60),
    ActionSpec::new("stop", 60),
    ActionSpec::new("monitor", 40).interval(20).depth(0),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "filesystem",
    shortdesc: "Manages a mounted filesystem",
    longdesc: "Mounts a filesystem (a block device, UUID= or LABEL=, NFS, CIFS, or a bind \
        mount) with the system's mount and unmounts it, ending the processes that keep \
        it busy. A replacement for ocf:heartbeat:Filesystem with the same parameter \
        names. Monitor reads /proc/self/mountinfo only, so a hung mount elsewhere on \
        the node cannot make it hang; OCF_CHECK_LEVEL=10 reads the device with \
        O_DIRECT, OCF_CHECK_LEVEL=20 also writes and reads a status file on it. Stop \
        tries umount first and looks for holders only when the filesystem is busy, \
        unmounting submounts first, all within the one stop timeout.",
    params: &PARAMS,
    actions: &ACTIONS,
};

pub struct Filesystem;

impl ocf::Agent for Filesystem {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        config::configure(p, ctx)
    }

    /// Only `validate-all` at OCF_CHECK_LEVEL 10 and above looks at this
    /// node; every other action checks what it needs itself.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        start::check_environment(cfg, ctx)
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        start::start(cfg, ctx, dl)
    }

    /// Stop what the configuration names on its directory and what start
    /// recorded, wherever that is now.
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        stop::stop(cfg, ctx, dl)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        monitor::monitor(cfg, ctx, dl)
    }

    /// Unmount what the record names and what the raw device and directory
    /// still identify; 0 only when nothing of ours is left mounted.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        stop::stop_unconfigured(cfg, rec, ctx, why, dl)
    }

    /// 0 when what the record names, or what the raw device and directory
    /// identify, is mounted; 7 only when nothing of ours is.
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

/// Property tests of every parser of outside input (bounded, run in CI).
#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
    }
}
