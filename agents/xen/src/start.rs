//! Start, and what start and migrate_from share: the record written
//! before `xl create` and completed with the UUID, the refusal to start
//! over a recorded domain that still runs, waiting for the domain and its
//! monitor scripts, and allow_mem_management's memory shares.

use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::Config;
use crate::files::state_remove;
use crate::monitor::{run_monitor_scripts, update_utilization};
use crate::record::{Seen, Started, stopped_marker};
use crate::stop::{XlPlan, XlTarget, seen};
use crate::xl::{self, Lookup};

pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let name = cfg.domain_name(ctx)?.to_string();
    // From here on an absent domain may be ours and rebooting.
    state_remove(ctx, &stopped_marker(ctx));
    refuse_over_recorded(cfg, ctx, &name, dl)?;
    let started = Started {
        program: cfg.xl.program.clone(),
        name: name.clone(),
        uuid: None,
    };
    match cfg.xl.lookup(&name, dl) {
        Lookup::Found { state, .. } if state.is_alive() => {
            ocf::info!("domain {name} is already running");
            record_uuid(cfg, ctx, started, dl);
            return Ok(());
        }
        Lookup::Found { state, .. } => {
            // A shut-down or crashed leftover would make `xl create` fail.
            ocf::info!("domain {name} is {state:?}: destroying the leftover first");
            cfg.xl.destroy(&name, dl).map_err(OcfError::generic)?;
        }
        Lookup::Absent => {}
        Lookup::NoHypervisor(why) => return Err(OcfError::installed(why)),
        Lookup::Unknown(why) => return Err(OcfError::generic(why)),
    }
    let share = share_memory(cfg, 1, dl);
    // Recorded before it exists: a start that fails half-way leaves
    // what stop needs.
    started.save(ctx);
    ocf::deadline::set_phase("xl create");
    cfg.xl
        .create(&cfg.xmfile, &name, share, dl)
        .map_err(OcfError::generic)?;
    ocf::deadline::set_phase("waiting for the domain to run");
    record_uuid(cfg, ctx, started, &dl.cap(Duration::from_secs(5)));
    wait_running(cfg, &name, dl)?;
    update_utilization(cfg, ctx, &name, dl, true);
    ocf::info!("domain {name} started");
    Ok(())
}

/// Start must not replace a record whose domain still runs here (another
/// domain, from before the configuration changed): the cluster stops the
/// resource first, and that stop ends both.
pub(crate) fn refuse_over_recorded(
    cfg: &Config,
    ctx: &Context,
    name: &str,
    dl: &Deadline,
) -> OcfResult<()> {
    let Some(Started {
        name: prev, uuid, ..
    }) = Started::load(ctx)
    else {
        return Ok(());
    };
    if prev == name {
        return Ok(());
    }
    let plan = XlPlan {
        xl: cfg.xl.clone(),
        targets: vec![XlTarget::recorded(&prev, uuid)],
        acpi: cfg.acpi,
        grace: None,
    };
    match seen(&plan, &dl.cap(Duration::from_secs(15))) {
        Seen::Stopped => Ok(()),
        Seen::Running(what) | Seen::Unknown(what) => Err(OcfError::generic(format!(
            "{what}: this resource started it here before its configuration changed to \
             domain {name}; stop the resource first (its stop ends both)"
        ))),
    }
}

/// Complete the record with the UUID xl gives the domain (best effort).
pub(crate) fn record_uuid(cfg: &Config, ctx: &Context, started: Started, dl: &Deadline) {
    match cfg.xl.details(&started.name, dl) {
        Ok(xl::Details { uuid: Some(u), .. }) => started.with_uuid(&u).save(ctx),
        Ok(_) => started.save(ctx),
        Err(e) => {
            ocf::debug!("no UUID yet for {}: {e}", started.name);
            started.save(ctx)
        }
    }
}

/// allow_mem_management: give every running guest, and `starting` more
/// about to be created, an equal share of the host's memory less the
/// Domain-0 reserve (ocf:heartbeat:Xen's arithmetic). Returns the share for
/// the domain being created. Best effort, like the shell agent: a failure
/// is logged and the action goes on.
pub(crate) fn share_memory(cfg: &Config, starting: u64, dl: &Deadline) -> Option<u64> {
    let reserved = cfg.mem_reserved?;
    ocf::deadline::set_phase("memory management");
    let budget = dl.share(0.3);
    let plan = cfg.xl.total_memory(&budget).and_then(|total| {
        let running = cfg.xl.running_guests(&budget)?;
        Ok((total, running))
    });
    let (total, running) = match plan {
        Ok(p) => p,
        Err(e) => {
            ocf::warn!("allow_mem_management: {e}; memory left as it is");
            return None;
        }
    };
    let Some(share) = memory_share(total, reserved, running.len() as u64 + starting) else {
        ocf::warn!(
            "allow_mem_management: {total} MiB of memory less {reserved} MiB for Domain-0 \
             leaves nothing to share; memory left as it is"
        );
        return None;
    };
    for dom in &running {
        if let Err(e) = cfg.xl.mem_set(dom, share, &budget) {
            ocf::warn!("allow_mem_management: {e}");
        }
    }
    ocf::info!(
        "allow_mem_management: {share} MiB each for {} running and {starting} starting domain(s)",
        running.len()
    );
    Some(share)
}

/// (total - reserved) / domains, with at least one domain; None when
/// nothing is left.
pub fn memory_share(total_mib: u64, reserved_mib: u64, domains: u64) -> Option<u64> {
    let share = total_mib.checked_sub(reserved_mib)? / domains.max(1);
    (share > 0).then_some(share)
}

/// Poll until the domain runs and its monitor scripts pass, within `dl`.
pub(crate) fn wait_running(cfg: &Config, name: &str, dl: &Deadline) -> OcfResult<()> {
    let mut last = String::from("not seen yet");
    let ok = dl.poll(Duration::from_millis(500), || {
        match cfg.xl.lookup(name, &dl.cap(Duration::from_secs(10))) {
            Lookup::Found { state, .. } if state.is_alive() => match run_monitor_scripts(cfg, dl) {
                Ok(()) => return Some(()),
                Err(e) => last = e.reason,
            },
            other => last = format!("{other:?}"),
        }
        None
    });
    ok.ok_or_else(|| {
        OcfError::generic(format!(
            "domain {name} did not come up within the deadline (last seen: {last})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::configure_vars as configure;

    #[test]
    fn memory_is_shared_as_the_shell_agent_does() {
        assert_eq!(memory_share(8704, 512, 2), Some(4096));
        assert_eq!(
            memory_share(8704, 512, 0),
            Some(8192),
            "the last one stopped"
        );
        assert_eq!(memory_share(8704, 512, 3), Some(2730));
        assert_eq!(memory_share(512, 512, 1), None);
        assert_eq!(memory_share(256, 512, 1), None);
        let c = configure(&[
            ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
            ("OCF_RESKEY_allow_mem_management", "true"),
        ])
        .unwrap();
        assert_eq!(c.mem_reserved, Some(512));
        let c = configure(&[("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel")]).unwrap();
        assert_eq!(c.mem_reserved, None);
        assert!(
            configure(&[
                ("OCF_RESKEY_xmfile", "/etc/xen/vm/sentinel"),
                ("OCF_RESKEY_reserved_Dom0_memory", "lots"),
            ])
            .is_err()
        );
    }
}
