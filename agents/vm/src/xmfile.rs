//! The native Xen backend (`xmfile`): ocf:rust:xen's code, from the xen
//! crate, with the vm parameters that mean something to it mapped onto its
//! own; start and monitor also look at what the record of this resource
//! names through libvirt (the backend switched while a domain ran).

use std::path::PathBuf;
use std::time::Duration;

use ocf::{Agent, Context, Deadline, OcfError, OcfResult, Status};

use crate::config::LibvirtConfig;
use crate::libvirt as lv;
use crate::record::{refuse_over_recorded, with_recorded};

/// `xmfile` given: the native Xen backend, with the vm parameters that mean
/// something to it mapped onto ocf:rust:xen's; libvirt-only ones refused.
pub fn config(cfg: &LibvirtConfig, xmfile: &str) -> OcfResult<xen::Config> {
    let libvirt_only = [
        (cfg.snapshot.is_some(), "snapshot"),
        (cfg.sync_config, "sync_config_on_stop"),
        (cfg.save_config, "save_config_on_stop"),
        (cfg.start_resources, "start_resources"),
        (cfg.backing.is_some(), "backingfile"),
        (cfg.respect_guest_shutdown, "respect_guest_shutdown"),
    ];
    if let Some((_, name)) = libvirt_only.iter().find(|(set, _)| *set) {
        return Err(OcfError::configured(format!(
            "'{name}' needs libvirt (config=...), not the native Xen backend (xmfile=...)"
        )));
    }
    if cfg.shutdown_mode & !lv::SHUTDOWN_ACPI != 0 {
        return Err(OcfError::configured(
            "with xmfile, shutdown_mode can only be empty or acpi",
        ));
    }
    let mut xl = xen::Config::for_xmfile(PathBuf::from(xmfile));
    xl.shutdown_timeout = cfg.force_stop.then_some(Duration::ZERO);
    xl.acpi = cfg.shutdown_mode & lv::SHUTDOWN_ACPI != 0;
    xl.util_cpu = cfg.util_cpu;
    xl.util_memory = cfg.util_memory;
    xl.monitor_scripts = cfg.monitor_scripts.clone();
    Ok(xl)
}

pub fn start(xl: &xen::Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    refuse_over_recorded(ctx, None, dl)?;
    xen::Xen::start(xl, ctx, dl)
}

pub fn monitor(xl: &xen::Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let configured = xen::Xen::monitor(xl, ctx, dl);
    with_recorded(ctx, None, "", configured, dl)
}

pub fn migrate_from(xl: &xen::Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    refuse_over_recorded(ctx, None, dl)?;
    xen::Xen::migrate_from(xl, ctx, dl)
}
