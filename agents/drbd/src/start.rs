//! Start (attach, connect, wait for the peers and the device nodes) and
//! the checks every action that creates something makes first.

use std::time::Duration;

use ocf::exec;
use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, RETRY, SCORE_RESERVE, SETTLE};
use crate::kernel::{
    check_version_bounds, ensure_module, module_version, resource_in_config, wait_for_devices,
};
use crate::monitor::describe;
use crate::promotion::update_score;
use crate::record::{record_intent, record_minors};
use crate::state::{self, ResourceState, Role};
use crate::tools::{ToolError, adm, read_state, readable_file, setup};

/// Cheap checks on every action: the tools exist, drbd.conf is readable
/// (not for monitor: the kernel's state needs no configuration, and a
/// running resource must not be reported stopped because the file went
/// away). validate-all at level 10 also checks the module and the resource.
pub fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    for tool in [&cfg.drbdadm, &cfg.drbdsetup] {
        if exec::which(tool).is_none() {
            return Err(OcfError::installed(format!("{tool} is not installed")));
        }
    }
    if ctx.action != "monitor" && !readable_file(&cfg.drbdconf) {
        return Err(OcfError::installed(format!(
            "configuration file {} does not exist, is not readable or is not a regular file",
            cfg.drbdconf
        )));
    }
    if ctx.action == "validate-all" {
        let dl = Deadline::after(ctx.timeout.mul_f64(0.8));
        let v = module_version(cfg, &dl)
            .ok_or_else(|| OcfError::installed("the DRBD kernel module is not loaded"))?;
        check_version_bounds(cfg, v)?;
        resource_in_config(cfg, &dl)?;
    }
    Ok(())
}

/// Attach, connect and wait (bounded) for the peers and the device nodes,
/// recording the resource before anything is created.
pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    check_clone_meta(cfg, ctx)?;
    let version = ensure_module(cfg, dl)?;
    check_version_bounds(cfg, version)?;
    let devices = resource_in_config(cfg, dl)?;
    check_two_primaries(cfg, ctx, dl)?;
    let v9 = version >= 0x090000;
    // Before anything is created: what stop and probe need if this
    // start fails half-way or the configuration changes later.
    let mut rec = record_intent(cfg, ctx, v9, dl);
    let mut attach_failures = 0;
    let mut reattached = false;
    let mut first = true;
    let mut pause = SETTLE;
    let st = loop {
        if !first && !dl.sleep(std::mem::replace(&mut pause, SETTLE)) {
            return Err(OcfError::generic(format!(
                "{} did not come up before the start timeout",
                cfg.resource
            )));
        }
        first = false;
        let st = read_state(cfg, v9, &dl.keep_back(SCORE_RESERVE))?;
        if !st.configured {
            if attach_failures == 0 {
                let _ = adm(cfg, &["check-resize", &cfg.resource], dl);
            }
            if let Err(e) = attach(cfg, v9, dl) {
                attach_failures += 1;
                pause = RETRY;
                if attach_failures >= 2 {
                    return Err(OcfError::generic(format!(
                        "cannot attach {}: {e}",
                        cfg.resource
                    )));
                }
                ocf::warn!("attach failed, retrying once: {e}");
            }
            continue;
        }
        record_minors(ctx, &mut rec, &st);
        if attach_failures > 0 && !reattached && !unattached_disks(&st).is_empty() {
            // The failed attach created the resource (DRBD 9's adjust
            // --skip-net, 8.4's new-minor): it is up, Diskless. One more
            // attach, as linbit's agent does, then give up.
            reattached = true;
            if let Err(e) = attach_disk(cfg, v9, dl) {
                return Err(OcfError::generic(format!(
                    "cannot attach {}: {e}",
                    cfg.resource
                )));
            }
            continue;
        }
        if st.role == Role::Primary {
            ocf::warn!("{} is already Primary, demoting it", cfg.resource);
            if let Err(e) = adm(cfg, &["secondary", &cfg.resource], dl) {
                ocf::warn!("{e}");
                pause = RETRY;
            }
            continue;
        }
        if cfg.connect_only_after_promote {
            break st;
        }
        connect(cfg, &st, v9, dl);
        break read_state(cfg, v9, &dl.keep_back(SCORE_RESERVE)).unwrap_or(st);
    };
    let unattached = unattached_disks(&st);
    if attach_failures > 0 && !unattached.is_empty() {
        // Never "started" with a disk that failed to attach: the node
        // would look healthy and serve nothing of its own.
        return Err(OcfError::generic(format!(
            "{} is up, but volume {} is not attached after a failed attach ({})",
            cfg.resource,
            unattached.join(", "),
            describe(&st)
        )));
    }
    wait_for_devices(&devices, &dl.keep_back(SCORE_RESERVE))?;
    ocf::info!("{} started: {}", cfg.resource, describe(&st));
    update_score(cfg, ctx, &st, dl);
    Ok(())
}

/// promoted-max > 1 needs allow-two-primaries in the DRBD configuration.
fn check_two_primaries(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let promoted_max = ctx.clone_info().and_then(|c| c.promoted_max).unwrap_or(1);
    if promoted_max <= 1 {
        return Ok(());
    }
    let dump = adm(cfg, &["dump", &cfg.resource], dl)
        .map(|o| o.stdout_str())
        .map_err(|e| OcfError::installed(e.to_string()))?;
    let allowed = dump.lines().any(|l| {
        let l = l.trim();
        l == "allow-two-primaries;" || l == "allow-two-primaries yes;"
    });
    if allowed {
        Ok(())
    } else {
        Err(OcfError::configured(format!(
            "promoted-max={promoted_max}, but DRBD resource {} does not set allow-two-primaries",
            cfg.resource
        )))
    }
}

/// linbit's clone checks, with exit reasons that say how to fix them (PCS#656).
pub fn check_clone_meta(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let clone = ctx.clone_info().unwrap_or_default();
    let notify = clone.notify
        || ctx
            .meta
            .get("notify")
            .and_then(|v| ocf::params::parse_bool(v))
            == Some(true);
    let has_notify_vars = ctx.meta.contains_key("notify_start_uname");
    if !cfg.ignore_missing_notifications && !notify && !has_notify_vars {
        let rsc = ctx.instance_base();
        return Err(OcfError::configured(format!(
            "notifications are off for {rsc}: run `pcs resource meta {rsc}-clone notify=true` \
             (use the clone's id), or set ignore_missing_notifications=true"
        )));
    }
    let bad = |what: &str, expect: &str, got: u64| {
        Err(OcfError::configured(format!(
            "meta attribute {what} must be {expect}, but is {got}"
        )))
    };
    if let Some(n) = clone.node_max.filter(|n| *n != 1) {
        return bad("clone-node-max", "1", n);
    }
    if let Some(n) = clone.promoted_node_max.filter(|n| *n != 1) {
        return bad("promoted-node-max", "1", n);
    }
    if let Some(n) = clone.promoted_max.filter(|n| *n > 2) {
        return bad("promoted-max", "at most 2", n);
    }
    if clone.promoted_max == Some(2)
        && let Some(n) = clone.max.filter(|n| *n > 2)
    {
        return bad("clone-max (with promoted-max=2)", "at most 2", n);
    }
    Ok(())
}

/// Volumes with a backing disk configured that is not attached (Diskless or
/// Failed, and not an intentionally diskless client).
fn unattached_disks(st: &ResourceState) -> Vec<String> {
    st.volumes
        .iter()
        .filter(|v| !v.client && matches!(v.disk, state::Disk::Diskless | state::Disk::Failed))
        .map(|v| format!("{} ({:?})", v.number, v.disk))
        .collect()
}

/// Create the resource and attach its disks, network still down.
pub fn attach(cfg: &Config, v9: bool, dl: &Deadline) -> Result<(), ToolError> {
    if v9 {
        adm(cfg, &["adjust", "--skip-net", &cfg.resource], dl).map(drop)
    } else {
        adm(cfg, &["new-resource", &cfg.resource], dl)?;
        adm(cfg, &["new-minor", &cfg.resource], dl)?;
        adm(cfg, &["attach", &cfg.resource], dl).map(drop)
    }
}

/// Attach the disks of a resource that exists already (the second try).
fn attach_disk(cfg: &Config, v9: bool, dl: &Deadline) -> Result<(), ToolError> {
    if v9 {
        adm(cfg, &["adjust", "--skip-net", &cfg.resource], dl).map(drop)
    } else {
        adm(cfg, &["attach", &cfg.resource], dl).map(drop)
    }
}

/// Bring the network up and wait (bounded) for the peers.
pub fn connect(cfg: &Config, st: &ResourceState, v9: bool, dl: &Deadline) {
    if let Err(e) = adm(cfg, &["adjust", &cfg.resource], dl) {
        ocf::warn!("connect: {e}");
        return;
    }
    let secs = cfg.wfc_timeout.as_secs();
    if secs == 0 {
        return;
    }
    let wfc = [
        format!("--wfc-timeout={secs}"),
        format!("--degr-wfc-timeout={secs}"),
        format!("--outdated-wfc-timeout={secs}"),
    ];
    let wait = dl
        .keep_back(SCORE_RESERVE + Duration::from_secs(1))
        .cap(cfg.wfc_timeout + Duration::from_secs(2));
    let mut targets: Vec<(String, &str)> = vec![];
    if v9 {
        targets.push((cfg.resource.clone(), "wait-connect-resource"));
    } else {
        for v in &st.volumes {
            if let Some(m) = v.minor {
                targets.push((m.to_string(), "wait-connect"));
            }
        }
    }
    for (target, sub) in targets {
        let mut args = vec![sub, target.as_str()];
        args.extend(wfc.iter().map(String::as_str));
        if let Err(e) = setup(cfg, &args, &wait) {
            ocf::info!("not all peers connected within {secs}s: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{CLONE, RES, configure, ctx};
    use ocf::Status;

    #[test]
    fn unattached_disks_are_found() {
        let st = state::parse_events2(
            "exists resource name:r0 role:Secondary\n\
             exists device name:r0 volume:0 minor:0 disk:UpToDate client:no\n\
             exists device name:r0 volume:1 minor:1 disk:Diskless client:no\n\
             exists -\n",
            "r0",
        );
        assert_eq!(unattached_disks(&st), ["1 (Diskless)"]);
        let client = state::parse_events2(
            "exists resource name:r0 role:Secondary\n\
             exists device name:r0 volume:0 minor:0 disk:Diskless client:yes\n\
             exists -\n",
            "r0",
        );
        assert!(
            unattached_disks(&client).is_empty(),
            "a diskless client is meant to be"
        );
    }

    #[test]
    fn clone_meta_checks_say_how_to_fix_them() {
        let cfg = configure(&[RES]).unwrap();
        let no_notify = ctx(
            "start",
            &[
                ("OCF_RESOURCE_INSTANCE", "d:0"),
                ("OCF_RESKEY_CRM_meta_clone_max", "2"),
            ],
        );
        let e = check_clone_meta(&cfg, &no_notify).unwrap_err();
        assert_eq!(e.status, Status::ErrConfigured);
        assert!(
            e.reason.contains("notify=true") && e.reason.contains("pcs resource meta d-clone"),
            "{}",
            e.reason
        );
        // Pacemaker's notify variables alone are enough (as in linbit's check).
        let vars = ctx("start", &[("OCF_RESKEY_CRM_meta_notify_start_uname", "")]);
        assert!(check_clone_meta(&cfg, &vars).is_ok());
        let ignore =
            configure(&[RES, ("OCF_RESKEY_ignore_missing_notifications", "true")]).unwrap();
        assert!(check_clone_meta(&ignore, &no_notify).is_ok());
        let notify = ("OCF_RESKEY_CRM_meta_notify", "true");
        assert!(check_clone_meta(&cfg, &ctx("start", &[notify])).is_ok());
        for bad in [
            ("OCF_RESKEY_CRM_meta_clone_node_max", "2"),
            ("OCF_RESKEY_CRM_meta_promoted_node_max", "2"),
            ("OCF_RESKEY_CRM_meta_master_max", "3"),
        ] {
            let e = check_clone_meta(&cfg, &ctx("start", &[notify, CLONE, bad])).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{bad:?}");
        }
        let dual = ctx(
            "start",
            &[
                notify,
                ("OCF_RESKEY_CRM_meta_promoted_max", "2"),
                ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ],
        );
        assert!(check_clone_meta(&cfg, &dual).is_err());
    }
}
