//! Monitor: the domain's state through xl (looked at again before a
//! recurring monitor says "not running": a rebooting guest vanishes for a
//! moment, RA#314), the monitor scripts, utilization written only when it
//! changes, and the recorded domain when it is another one.

use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline, OcfError, OcfResult, Status};

use crate::config::Config;
use crate::files::{state_read, state_write};
use crate::record::{Started, is_marked_stopped, utilization_cache};
use crate::stop::{XlPlan, XlTarget, seen};
use crate::xl::{Lookup, State};

pub fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let name = cfg.domain_name(ctx)?.to_string();
    let mut found = cfg.xl.lookup(&name, dl);
    if found == Lookup::Absent && !ctx.is_probe() && !is_marked_stopped(ctx) {
        // A rebooting guest is briefly gone: look again before saying 7,
        // or it gets started twice (RA#314).
        let recheck = dl.share(0.6);
        for _ in 0..5 {
            if !recheck.sleep(Duration::from_secs(1)) {
                break;
            }
            found = cfg.xl.lookup(&name, dl);
            if found != Lookup::Absent {
                ocf::info!("domain {name} is back after a moment away (rebooting?)");
                break;
            }
        }
    }
    let configured = match found {
        Lookup::Found { state, .. } if state.is_alive() => {
            run_monitor_scripts(cfg, dl)?;
            if !ctx.is_probe() {
                update_utilization(cfg, ctx, &name, dl, false);
            }
            Ok(Status::Success)
        }
        Lookup::Found {
            state: State::Crashed,
            ..
        } => Err(OcfError::generic(format!("domain {name} has crashed"))),
        Lookup::Found { state, .. } => Err(OcfError::not_running(format!(
            "domain {name} is not running ({state:?})"
        ))),
        Lookup::Absent => Err(OcfError::not_running(format!(
            "domain {name} is not running"
        ))),
        Lookup::NoHypervisor(why) => Err(OcfError::not_running(format!(
            "no Xen hypervisor on this node ({why})"
        ))),
        Lookup::Unknown(why) => Err(OcfError::generic(why)),
    };
    with_recorded(cfg, ctx, &name, configured, dl)
}

/// A monitor also answers for the domain the record names when that is
/// not the configured one (the configuration changed while it ran, or the
/// domain was renamed): a probe calls the resource running; a recurring
/// monitor fails, so the cluster's stop (which ends it) follows.
fn with_recorded(
    cfg: &Config,
    ctx: &Context,
    name: &str,
    configured: OcfResult<Status>,
    dl: &Deadline,
) -> OcfResult<Status> {
    let Some(Started { name: rn, uuid, .. }) = Started::load(ctx) else {
        return configured;
    };
    // The same name: only a domain renamed under us (found by its UUID)
    // can hide behind a "not running".
    let absent = matches!(&configured, Err(e) if e.status == Status::NotRunning);
    if rn == name && !(absent && uuid.is_some()) {
        return configured;
    }
    let plan = XlPlan {
        xl: cfg.xl.clone(),
        targets: vec![XlTarget::recorded(&rn, uuid)],
        acpi: cfg.acpi,
        grace: None,
    };
    crate::record::with_recorded(seen(&plan, dl), configured, ctx)
}

pub(crate) fn run_monitor_scripts(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    for script in &cfg.monitor_scripts {
        let out = exec::run(&Cmd::new(script), dl)
            .map_err(|e| OcfError::generic(format!("monitor script: {e}")))?;
        if !out.success() {
            return Err(OcfError::generic(format!(
                "monitor script {} failed: {}",
                script.display(),
                out.describe()
            )));
        }
    }
    Ok(())
}

/// Write vCPUs and memory into the resource's utilization, only on change.
/// Monitors compare with a cache under HA_RSCTMP (no CIB access when nothing
/// changed); start and migrate_from (`verify`) compare with the CIB itself,
/// since the resource may have been re-created since the cache was written.
pub(crate) fn update_utilization(
    cfg: &Config,
    ctx: &Context,
    name: &str,
    dl: &Deadline,
    verify: bool,
) {
    if !cfg.util_cpu && !cfg.util_memory {
        return;
    }
    let d = match cfg.xl.details(name, &dl.cap(Duration::from_secs(5))) {
        Ok(d) => d,
        Err(e) => {
            ocf::warn!("utilization not updated: {e}");
            return;
        }
    };
    let mut wanted = Vec::new();
    if cfg.util_cpu {
        wanted.push(("cpu", d.vcpus.to_string()));
    }
    if cfg.util_memory {
        wanted.push(("hv_memory", (d.max_memkb / 1024).to_string()));
    }
    let cache = utilization_cache(ctx);
    let line: String = wanted.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let rsc = ctx.instance_base();
    let cib_has = |k: &str, v: &str| {
        ocf::cluster::resource_utilization(rsc, k, &dl.cap(Duration::from_secs(5)))
            .is_ok_and(|cur| cur.as_deref() == Some(v))
    };
    let unchanged = if verify {
        wanted.iter().all(|(k, v)| cib_has(k, v))
    } else {
        state_read(ctx, &cache).is_some_and(|old| old == line)
    };
    if unchanged {
        state_write(ctx, &cache, &line);
        return;
    }
    for (k, v) in &wanted {
        if let Err(e) =
            ocf::cluster::set_resource_utilization(rsc, k, v, &dl.cap(Duration::from_secs(5)))
        {
            ocf::warn!("utilization {k}={v} not written: {e}");
            return;
        }
    }
    ocf::info!(
        "utilization of {rsc} set: {}",
        line.trim().replace('\n', " ")
    );
    state_write(ctx, &cache, &line);
}
