//! Stop: take the resource down until drbdsetup no longer shows it, with
//! drbdadm first and drbdsetup when drbdadm fails; with an unusable
//! configuration, drbdsetup alone on what start recorded.

use std::time::Duration;

use ocf::exec::Cmd;
use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, RETRY, SETTLE};
use crate::kernel::module_version;
use crate::promotion::remove_score;
use crate::record::{Recorded, Unconfigured, renamed};
use crate::state::{ResourceState, Role};
use crate::tools::{adm, read_state_with, run_tool};

/// Takes down `drbd_resource` and, when start recorded another name (a
/// parameter changed while it ran, or the resource renamed in the
/// kernel), that one too; 0 only once drbdsetup shows them gone.
pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let Some(version) = module_version(cfg, dl) else {
        ocf::info!("the DRBD module is not loaded: {} is stopped", cfg.resource);
        remove_score(ctx, dl);
        return Ok(());
    };
    let v9 = version >= 0x090000;
    let tools = Tools::of(cfg);
    let rec = Recorded::load(ctx);
    let mut names = vec![cfg.resource.clone()];
    if let Some(r) = &rec
        && r.resource != cfg.resource
    {
        ocf::warn!(
            "start recorded DRBD resource {} here, not {}: stopping both",
            r.resource,
            cfg.resource
        );
        names.push(r.resource.clone());
    }
    let mut before: Option<ResourceState> = None;
    let mut recorded_seen = false;
    for name in &names {
        let seen = take_down(&tools, name, v9, dl)?;
        if rec.as_ref().is_some_and(|r| &r.resource == name) {
            recorded_seen = seen.is_some();
        }
        before = before.or(seen);
    }
    if let Some(r) = &rec
        && !recorded_seen
        && let Some(other) = renamed(&tools.setup, r, &names, v9, dl)?
    {
        ocf::warn!(
            "{} holds the minors start recorded for {}: renamed, stopping it",
            other,
            r.resource
        );
        before = before.or(take_down(&tools, &other, v9, dl)?);
    }
    if let Some(st) = before {
        maybe_outdate_self(cfg, ctx, &st, dl);
    }
    remove_score(ctx, dl);
    ocf::info!("{} stopped", names.join(", "));
    Ok(())
}

/// The configuration or this node's setup does not validate (drbd.conf
/// unreadable, drbdadm or drbdsetup missing, a parameter refused). Take
/// down, with drbdsetup alone, what start recorded here (or, without a
/// record, the resource the raw parameter still names safely); 0 only
/// when the kernel shows none of it, or has no DRBD at all.
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    let u = Unconfigured::new(cfg, rec, ctx);
    if u.names.is_empty() {
        ocf::info!(
            "stop: {}; no usable resource name and nothing recorded: nothing of ours runs",
            why.reason
        );
        return Ok(());
    }
    let Some(version) = u.module_version(dl) else {
        ocf::info!(
            "stop: {}; the DRBD module is not loaded: {} is stopped",
            why.reason,
            u.names.join(", ")
        );
        return Ok(());
    };
    let v9 = u
        .rec
        .as_ref()
        .and_then(|r| r.v9)
        .unwrap_or(version >= 0x090000);
    let Some(setup) = u.drbdsetup.clone() else {
        return match u.minors_in_kernel(dl) {
            Some(false) => {
                ocf::info!(
                    "stop: {}; drbdsetup is missing, but no minor of {} exists: stopped",
                    why.reason,
                    u.names.join(", ")
                );
                Ok(())
            }
            _ => Err(OcfError::generic(format!(
                "stop: {}; drbdsetup is not installed, so {} cannot be taken down \
                 (DRBD devices exist in the kernel)",
                why.reason,
                u.names.join(", ")
            ))),
        };
    };
    ocf::err!(
        "stop with an invalid setup ({}): taking {} down with '{}' directly to avoid fencing",
        why.reason,
        u.names.join(", "),
        setup
    );
    let tools = Tools::setup_only(setup);
    let mut recorded_seen = false;
    for name in &u.names {
        let seen = take_down(&tools, name, v9, dl).map_err(|e| {
            OcfError::generic(format!(
                "stop with an invalid setup ({}): {}",
                why.reason, e.reason
            ))
        })?;
        if u.rec.as_ref().is_some_and(|r| &r.resource == name) {
            recorded_seen = seen.is_some();
        }
    }
    if let Some(r) = &u.rec
        && !recorded_seen
        && let Some(other) = renamed(&tools.setup, r, &u.names, v9, dl)?
    {
        ocf::warn!(
            "{other} holds the minors start recorded for {}: renamed, stopping it",
            r.resource
        );
        take_down(&tools, &other, v9, dl)?;
    }
    if let Err(e) = ocf::cluster::delete_promotion_score(ctx, &dl.cap(Duration::from_secs(5))) {
        ocf::warn!("cannot remove the promotion score: {e}");
    }
    ocf::err!(
        "{} is down; fencing of this node avoided. Fix the setup!",
        u.names.join(", ")
    );
    Ok(())
}

/// The DRBD programs a stop uses: drbdadm (with drbd.conf) when it can be
/// used, and drbdsetup, which needs no configuration.
struct Tools {
    adm: Option<(String, String)>,
    setup: String,
    /// drbdadm refused its configuration once (exit 10, E_CONFIG_INVALID):
    /// drbdsetup alone from then on.
    adm_broken: std::cell::Cell<bool>,
}

impl Tools {
    fn of(cfg: &Config) -> Tools {
        Tools {
            adm: Some((cfg.drbdadm.clone(), cfg.drbdconf.clone())),
            setup: cfg.drbdsetup.clone(),
            adm_broken: Default::default(),
        }
    }

    fn setup_only(setup: String) -> Tools {
        Tools {
            adm: None,
            setup,
            adm_broken: Default::default(),
        }
    }

    /// `drbdadm <args>`, and `drbdsetup <args>` when drbdadm fails (a
    /// broken drbd.conf, the resource no longer in it): the same
    /// subcommands (`secondary`, `down`) exist in both. drbdadm gets half of
    /// the time left, so drbdsetup still has its turn after a hung drbdadm.
    fn run(&self, args: &[&str], dl: &Deadline) -> Result<(), String> {
        let mut failed = String::new();
        if let Some((program, conf)) = self.adm.as_ref().filter(|_| !self.adm_broken.get()) {
            let cmd = Cmd::new(program).args(["-c", conf.as_str()]).args(args);
            match run_tool(cmd, &dl.share(0.5)) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    ocf::warn!("{e}; trying {} {}", self.setup, args.join(" "));
                    self.adm_broken.set(e.code == Some(10));
                    failed = format!("{e}; ");
                }
            }
        }
        run_tool(Cmd::new(&self.setup).args(args), dl)
            .map(drop)
            .map_err(|e| format!("{failed}{e}"))
    }
}

/// Take `name` down and wait until the kernel (drbdsetup) no longer knows
/// it. Answers Ok only then, with the state seen before the first down
/// (None when it was not up); an error at the deadline.
fn take_down(
    tools: &Tools,
    name: &str,
    v9: bool,
    dl: &Deadline,
) -> OcfResult<Option<ResourceState>> {
    let mut before: Option<ResourceState> = None;
    let mut last_error = String::new();
    let mut first = true;
    let mut pause = SETTLE;
    loop {
        if !first && !dl.sleep(std::mem::replace(&mut pause, SETTLE)) {
            return Err(OcfError::generic(format!(
                "{name} is still up at the stop timeout: {last_error}"
            )));
        }
        first = false;
        let st = match read_state_with(&tools.setup, name, v9, &dl.share(0.5)) {
            Ok(st) => st,
            Err(_) if dl.expired() && !last_error.is_empty() => {
                // Cut short by the deadline: the earlier error says why.
                return Err(OcfError::generic(format!(
                    "{name} is still up at the stop timeout: {last_error}"
                )));
            }
            Err(e) => {
                // Cannot see it: try to take it down anyway, then look again.
                // A read cut short by its share of the time says less than a
                // refusal seen before (held open): keep that one.
                if e.code.is_some() || last_error.is_empty() {
                    last_error = format!("cannot read the state of {name}: {e}");
                }
                pause = RETRY;
                if let Err(e) = tools.run(&["down", name], dl) {
                    keep_telling(&mut last_error, e, dl);
                }
                continue;
            }
        };
        if !st.configured {
            // Deconfigured but maybe not yet removed (8.4): down it anyway
            // (linbit's agent does), whatever that answers.
            if let Some((program, conf)) = tools.adm.as_ref().filter(|_| !tools.adm_broken.get()) {
                let cmd = Cmd::new(program).args(["-c", conf.as_str(), "down", name]);
                let _ = run_tool(cmd, &dl.cap(Duration::from_secs(10)));
            }
            return Ok(before);
        }
        if st.role == Role::Primary {
            ocf::warn!("{name} is still Primary, demoting it");
            if let Err(e) = tools.run(&["secondary", name], dl) {
                keep_telling(&mut last_error, e, dl);
                pause = RETRY;
                continue;
            }
        }
        before.get_or_insert(st);
        if let Err(e) = tools.run(&["down", name], dl) {
            keep_telling(&mut last_error, e, dl);
            pause = RETRY;
        }
    }
}

/// The error the exit reason gives: the newest, unless the deadline cut it
/// short (a call killed at the deadline says less than the refusal before).
fn keep_telling(last: &mut String, new: String, dl: &Deadline) {
    if !dl.expired() || last.is_empty() {
        *last = new;
    }
}

/// After a stop: mark our data Outdated if another node is Primary (opt-in).
/// Another node is Primary when DRBD saw a Primary peer before the stop, or
/// when Pacemaker's promoted list names a node other than this one that is
/// not being stopped too (linbit's rule). Pacemaker passes those lists
/// (`CRM_meta_notify_*`) to every action of a clone with notify=true, the
/// stop included; `notify_type` is set only on notify actions, so it is
/// not needed here.
fn maybe_outdate_self(cfg: &Config, ctx: &Context, before: &ResourceState, dl: &Deadline) {
    if !cfg.stop_outdates_secondary || before.role == Role::Primary {
        return;
    }
    let me = ctx.on_node();
    let drbd_says = before.peers.iter().any(|p| p.role == Role::Primary);
    let stopping = notify_unames(ctx, "stop", None);
    let elsewhere = notify_unames(ctx, "promoted", Some("master"))
        .into_iter()
        .find(|h| {
            !me.is_some_and(|m| m.eq_ignore_ascii_case(h))
                && !stopping.iter().any(|s| s.eq_ignore_ascii_case(h))
        });
    if !drbd_says && elsewhere.is_none() {
        return;
    }
    ocf::info!(
        "outdating {}: {} is Primary",
        cfg.resource,
        elsewhere.unwrap_or("a peer")
    );
    if let Err(e) = adm(
        cfg,
        &["outdate", &cfg.resource],
        &dl.cap(Duration::from_secs(10)),
    ) {
        ocf::warn!("outdate: {e}");
    }
}

/// A `CRM_meta_notify_<list>_uname` list of any action (not only notify):
/// the new name, or the legacy one when the new is empty or absent.
fn notify_unames<'a>(ctx: &'a Context, list: &str, legacy: Option<&str>) -> Vec<&'a str> {
    let get = |n: &str| ctx.meta.get(&format!("notify_{n}_uname"));
    let value = match (get(list), legacy.and_then(get)) {
        (Some(v), _) if !v.trim().is_empty() => Some(v),
        (_, Some(v)) => Some(v),
        (v, None) => v,
    };
    value
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::ctx;

    #[test]
    fn notify_lists_are_read_on_every_action() {
        // A stop of a clone with notify=true: lists, no notify_type.
        let c = ctx(
            "stop",
            &[
                ("OCF_RESKEY_CRM_meta_notify_master_uname", "node1 "),
                ("OCF_RESKEY_CRM_meta_notify_promoted_uname", ""),
                ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node2 node3"),
            ],
        );
        assert!(c.notification().is_none());
        assert_eq!(notify_unames(&c, "promoted", Some("master")), ["node1"]);
        assert_eq!(notify_unames(&c, "stop", None), ["node2", "node3"]);
        assert!(notify_unames(&c, "start", None).is_empty());
        let new = ctx(
            "stop",
            &[
                ("OCF_RESKEY_CRM_meta_notify_master_uname", "old"),
                ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "new"),
            ],
        );
        assert_eq!(notify_unames(&new, "promoted", Some("master")), ["new"]);
    }
}
