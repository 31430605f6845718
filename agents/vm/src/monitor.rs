//! Monitor through libvirt: the domain's state (looked at again before a
//! recurring monitor says "not running": RA#314), the monitor scripts,
//! utilization written only when it changes, `respect_guest_shutdown`; when
//! libvirtd is down or hung, the QEMU process in `/proc` decides (1 while it
//! runs, never 7: RA#1613). Also what a probe answers with an unusable
//! configuration, and whether a recorded domain still runs.

use std::time::Duration;

use ocf::exec;
use ocf::{Context, Deadline, OcfError, OcfResult, Record, Status};
use xen::xl;

use crate::config::LibvirtConfig;
use crate::files;
use crate::hypervisor::{
    DomState, DomainView, HvError, Hypervisor, Libvirt, Shutoff, Size, local_qemu, local_xen,
    xl_tool,
};
use crate::qemu;
use crate::record::{Seen, Target, find, unusable_plan, with_recorded};
use crate::start::run_scripts;

/// Monitor the configured domain (see the module doc).
pub fn monitor(cfg: &LibvirtConfig, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let connect_dl = dl.share(0.5);
    let hv = Libvirt::connect(&cfg.uri, &connect_dl);
    let hv_ref = hv
        .as_ref()
        .map(|h| h as &dyn Hypervisor)
        .map_err(Clone::clone);
    let configured = monitor_on(hv_ref, cfg, ctx, dl);
    let name = cfg.name()?;
    with_recorded(
        ctx,
        Some(&Target::named(&cfg.uri, name)),
        &cfg.uri,
        configured,
        dl,
    )
}

/// A probe in the same situation: 7 only when nothing the record or
/// the raw parameters name runs here; 0 when something does.
pub fn probe_unconfigured(
    cfg: Option<&crate::config::Config>,
    rec: Option<&Record>,
    ctx: &Context,
    _why: &OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    let plan = unusable_plan(cfg, rec, ctx);
    let mut unknown = None;
    for (t, _) in &plan.libvirt {
        match seen_libvirt(t, &dl.share(0.5)) {
            Seen::Running(what) => {
                ocf::warn!("{what}: it runs");
                return Ok(Status::Success);
            }
            Seen::Stopped => {}
            Seen::Unknown(why) => unknown = Some(why),
        }
    }
    if plan.xl.is_some() || plan.xl_recorded {
        match xen::unusable::probe_unusable(plan.xl, plan.xl_recorded, dl) {
            Ok(Status::NotRunning) => {}
            Ok(s) => return Ok(s),
            Err(e) => unknown = Some(e.reason),
        }
    }
    match unknown {
        Some(why) => Err(OcfError::generic(format!(
            "cannot tell whether this resource runs here: {why}"
        ))),
        None => Ok(Status::NotRunning),
    }
}

/// Does the target's domain run? Through libvirt, else by its QEMU
/// process (or, for Xen, what xl says).
pub(crate) fn seen_libvirt(t: &Target, dl: &Deadline) -> Seen {
    let hv = Libvirt::connect(&t.uri, &dl.share(0.5));
    let found = hv
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|h| find(h, t, &dl.share(0.8)));
    match found {
        Ok(Some((name, v))) if v.state == DomState::Crashed => {
            Seen::Unknown(format!("{name} at {} has crashed", t.uri))
        }
        Ok(Some((name, v))) if v.state.is_active() => {
            Seen::Running(format!("domain {name} ({}) at {}", v.state, t.uri))
        }
        Ok(_) => Seen::Stopped,
        Err(e) => seen_without_hypervisor(t, &e, dl),
    }
}

/// libvirt cannot be asked (daemon down or hung, library missing): the
/// QEMU process in /proc, or xl for a local Xen, still tells.
pub(crate) fn seen_without_hypervisor(t: &Target, why: &HvError, dl: &Deadline) -> Seen {
    let name = &t.name;
    if local_xen(&t.uri) {
        if exec::which("xl").is_none() {
            return Seen::Stopped; // no Xen toolstack: no Xen domain here
        }
        return match xl_tool().lookup(name, &dl.cap(Duration::from_secs(10))) {
            xl::Lookup::Found { state, .. } if state.is_alive() => {
                Seen::Running(format!("{why}; xl shows {name} running"))
            }
            xl::Lookup::Found { .. } | xl::Lookup::Absent | xl::Lookup::NoHypervisor(_) => {
                Seen::Stopped
            }
            xl::Lookup::Unknown(e) => Seen::Unknown(format!("{why}; xl: {e}")),
        };
    }
    if local_qemu(&t.uri) {
        return match qemu::pids_of(t.guest()).first() {
            None => Seen::Stopped,
            Some(pid) => Seen::Running(format!("{why}; the QEMU process {pid} of {name} runs")),
        };
    }
    Seen::Unknown(format!("cannot check {name}: {why}"))
}

pub(crate) fn monitor_on(
    hv: Result<&dyn Hypervisor, HvError>,
    cfg: &LibvirtConfig,
    ctx: &Context,
    dl: &Deadline,
) -> OcfResult<Status> {
    let name = cfg.name()?.to_string();
    let look = |d: &Deadline| hv.clone().and_then(|h| h.lookup(&name, d));
    let mut view = look(&dl.share(0.5));
    let stopped = |v: &Result<DomainView, HvError>| match v {
        Ok(v) => !v.state.is_active(),
        Err(e) => *e == HvError::NoDomain,
    };
    if stopped(&view) && !ctx.is_probe() {
        // A rebooting guest can vanish for a moment (RA#314): look again.
        let recheck = dl.cap((dl.remaining() / 3).min(Duration::from_secs(2)));
        while stopped(&view) && recheck.sleep(Duration::from_millis(500)) {
            view = look(&recheck.cap(Duration::from_secs(2)));
            if !stopped(&view) {
                ocf::info!("{name} is back after a moment");
            }
        }
    }
    match view {
        Ok(v) if v.state == DomState::Crashed => {
            Err(OcfError::generic(format!("{name} has crashed")))
        }
        Ok(v) if v.state.is_active() => {
            if let Ok(h) = hv {
                running_extras(h, cfg, ctx, &name, dl)?;
            }
            Ok(Status::Success)
        }
        Ok(v) => {
            if v.state == DomState::ShutOff(Shutoff::GuestShutdown)
                && cfg.respect_guest_shutdown
                && !ctx.is_probe()
            {
                respect_shutdown(ctx, &name, dl);
            }
            Err(OcfError::not_running(format!("{name} is {}", v.state)))
        }
        Err(HvError::NoDomain) => Err(OcfError::not_running(format!(
            "{name} is not running (not defined)"
        ))),
        Err(e) => match seen_without_hypervisor(&Target::named(&cfg.uri, &name), &e, dl) {
            Seen::Stopped => Err(OcfError::not_running(format!(
                "{e}; {name} does not run here"
            ))),
            // It runs, but cannot be managed: a probe says so; a recurring
            // monitor fails, and the stop that follows ends it (RA#1613).
            Seen::Running(what) if ctx.is_probe() => {
                ocf::warn!("cannot check {name} through libvirt: {what}");
                Ok(Status::Success)
            }
            Seen::Running(what) => Err(OcfError::generic(format!(
                "cannot check {name} through libvirt: {what}"
            ))),
            Seen::Unknown(why) => Err(OcfError::generic(why)),
        },
    }
}

/// What a monitor does for a running domain beyond its state.
fn running_extras(
    hv: &dyn Hypervisor,
    cfg: &LibvirtConfig,
    ctx: &Context,
    name: &str,
    dl: &Deadline,
) -> OcfResult<()> {
    run_scripts(cfg, dl)?;
    let wants_any =
        cfg.util_cpu || cfg.util_memory || cfg.util_host_memory || !cfg.util_unset.is_empty();
    if wants_any && under_pacemaker(ctx) {
        update_utilization(hv, cfg, ctx, name, dl);
    }
    Ok(())
}

/// Pacemaker passes `crm_feature_set`; ocf-tester and hand runs do not.
fn under_pacemaker(ctx: &Context) -> bool {
    ctx.params.contains_key("crm_feature_set")
}

/// The utilization attributes to set, as `name=value` pairs.
pub fn utilization(cfg: &LibvirtConfig, size: Size) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if cfg.util_cpu {
        v.push(("cpu", size.vcpus.to_string()));
    }
    if cfg.util_host_memory {
        v.push(("host_memory", size.memory_mib.to_string()));
    }
    if cfg.util_memory {
        v.push(("hv_memory", size.memory_mib.to_string()));
    }
    v
}

/// Where this node remembers the utilization it last wrote. Start and stop
/// remove it, so a re-created resource (or a replaced CIB) gets it again.
pub(crate) fn utilization_cache(ctx: &Context) -> String {
    let base = ocf::files::instance_file_name(&["vm", &ctx.instance]);
    format!("{base}.utilization")
}

/// Write utilization only when it differs from what this node last wrote
/// (cached under HA_RSCTMP): VirtualDomain writes the CIB on every monitor.
fn update_utilization(
    hv: &dyn Hypervisor,
    cfg: &LibvirtConfig,
    ctx: &Context,
    name: &str,
    dl: &Deadline,
) {
    let Ok(size) = hv.size(name, &dl.share(0.5)) else {
        return;
    };
    let wanted = utilization(cfg, size);
    let mut line: String = wanted.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    line.extend(cfg.util_unset.iter().map(|k| format!("-{k}\n")));
    let cache = utilization_cache(ctx);
    if files::state_read(ctx, &cache).is_some_and(|c| c == line) {
        return;
    }
    for (k, v) in &wanted {
        if let Err(e) = ocf::cluster::set_resource_utilization(&ctx.instance, k, v, &dl.share(0.5))
        {
            ocf::warn!("cannot set utilization {k}={v}: {e}");
            return;
        }
    }
    for k in &cfg.util_unset {
        if let Err(e) = ocf::cluster::delete_resource_utilization(&ctx.instance, k, &dl.share(0.5))
        {
            ocf::warn!("cannot remove utilization {k}: {e}");
            return;
        }
    }
    let set: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let removed = if cfg.util_unset.is_empty() {
        String::new()
    } else {
        format!("; removed: {}", cfg.util_unset.join(" "))
    };
    ocf::info!(
        "{name}: utilization of {} set: {}{removed}",
        ctx.instance,
        set.join(" ")
    );
    files::state_write(ctx, &cache, &line);
}

fn respect_shutdown(ctx: &Context, name: &str, dl: &Deadline) {
    let rsc = ctx.instance_base();
    match ocf::cluster::set_resource_meta(rsc, "target-role", "Stopped", &dl.share(0.8)) {
        Ok(()) => ocf::info!(
            "{name}: the guest shut itself down cleanly; respect_guest_shutdown set \
             target-role=Stopped on {rsc} so the cluster leaves it stopped"
        ),
        Err(e) => ocf::warn!(
            "{name}: the guest shut itself down, but target-role=Stopped could not be set \
             on {rsc}: {e}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{Fake, cfg_with, ctx};
    use std::time::Instant;

    #[test]
    fn monitor_answers() {
        let (_t, cfg) = cfg_with("mon", &[]);
        let dl = Deadline::after(Duration::from_secs(10));
        let probe = ctx("monitor", &[]);
        let recurring = ctx("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")]);
        let run = |hv: &Fake, c: &Context| monitor_on(Ok(hv as &dyn Hypervisor), &cfg, c, &dl);

        assert_eq!(
            run(&Fake::new(Some(DomState::Running)), &probe),
            Ok(Status::Success)
        );
        assert_eq!(
            run(&Fake::new(Some(DomState::Paused)), &probe),
            Ok(Status::Success)
        );
        let t = Instant::now();
        assert_eq!(
            run(&Fake::new(None), &probe).unwrap_err().status,
            Status::NotRunning
        );
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "a probe does not re-check"
        );
        let t = Instant::now();
        let e = run(
            &Fake::new(Some(DomState::ShutOff(Shutoff::Crashed))),
            &recurring,
        )
        .unwrap_err();
        assert_eq!(e.status, Status::NotRunning);
        assert!(e.reason.contains("shut off (crashed)"), "{}", e.reason);
        assert!(t.elapsed() >= Duration::from_secs(1), "re-checked (RA#314)");
        assert_eq!(
            run(&Fake::new(Some(DomState::Crashed)), &probe)
                .unwrap_err()
                .status,
            Status::ErrGeneric
        );
        // libvirtd down and no QEMU of this name here: not running, even recurring.
        let down: Result<&dyn Hypervisor, HvError> = Err(HvError::Unreachable("refused".into()));
        let e = monitor_on(down.clone(), &cfg, &probe, &dl).unwrap_err();
        assert_eq!(e.status, Status::NotRunning, "{}", e.reason);
        // ... but on a remote hypervisor nobody can tell: 1.
        let (_t2, remote) = cfg_with(
            "mon-remote",
            &[("OCF_RESKEY_hypervisor", "qemu+tcp://h/system")],
        );
        let e = monitor_on(down, &remote, &probe, &dl).unwrap_err();
        assert_eq!(e.status, Status::ErrGeneric);
    }

    #[test]
    fn utilization_pairs_follow_the_switches() {
        let (_t, cfg) = cfg_with("util", &[("OCF_RESKEY_autoset_utilization_cpu", "false")]);
        let u = utilization(
            &cfg,
            Size {
                vcpus: 4,
                memory_mib: 1024,
            },
        );
        assert_eq!(
            u,
            vec![
                ("host_memory", "1024".to_string()),
                ("hv_memory", "1024".to_string())
            ]
        );
        assert!(
            cfg.util_unset.is_empty(),
            "nothing to remove without unset_*"
        );
        // unset_* removes only what is not autoset: the cpu and host_memory
        // switches are off here, hv_memory stays on and is not removed.
        let (_t, cfg) = cfg_with(
            "unset",
            &[
                ("OCF_RESKEY_autoset_utilization_cpu", "false"),
                ("OCF_RESKEY_autoset_utilization_host_memory", "false"),
                ("OCF_RESKEY_unset_utilization_cpu", "true"),
                ("OCF_RESKEY_unset_utilization_host_memory", "true"),
                ("OCF_RESKEY_unset_utilization_hv_memory", "true"),
            ],
        );
        assert_eq!(cfg.util_unset, vec!["cpu", "host_memory"]);
        let u = utilization(
            &cfg,
            Size {
                vcpus: 4,
                memory_mib: 512,
            },
        );
        assert_eq!(u, vec![("hv_memory", "512".to_string())]);
    }
}
