//! Promote (bounded retries, linbit's guard against a tight recovery
//! loop), demote and notify.

use std::time::Instant;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, PROMOTE_MIN_FAIL, RETRY, SCORE_RESERVE, SETTLE};
use crate::kernel::module_version;
use crate::monitor::describe;
use crate::promotion::{remove_score, update_score};
use crate::score::Facts;
use crate::start::check_clone_meta;
use crate::state::Role;
use crate::tools::{adm, read_state};

/// Make this node Primary, retrying within the timeout; a failed promote
/// returns no sooner than linbit's anti-loop pause.
pub fn promote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let started = Instant::now();
    check_clone_meta(cfg, ctx)?;
    let result = promote_loop(cfg, ctx, dl);
    if let Err(e) = &result {
        // linbit's guard against a tight recovery loop.
        let wait = PROMOTE_MIN_FAIL.saturating_sub(started.elapsed());
        if !wait.is_zero() && !dl.expired() {
            ocf::warn!(
                "promote failed ({}); waiting {:.0}s against a tight recovery loop",
                e.reason,
                wait.min(dl.remaining()).as_secs_f64()
            );
            dl.sleep(wait);
        }
    }
    result
}

/// No clone checks here (linbit refuses with 6): demoting is the move to
/// the safer state, and refusing it gains nothing.
pub fn demote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let v9 = module_version(cfg, dl)
        .ok_or_else(|| OcfError::not_running("the DRBD module is not loaded"))?
        >= 0x090000;
    let mut last_error = String::new();
    let mut first = true;
    let mut pause = SETTLE;
    loop {
        if !first && !dl.sleep(std::mem::replace(&mut pause, SETTLE)) {
            return Err(OcfError::generic(format!(
                "{} is still Primary at the demote timeout: {last_error}",
                cfg.resource
            )));
        }
        first = false;
        let st = read_state(cfg, v9, dl)?;
        if !st.configured {
            return Err(OcfError::not_running(format!(
                "cannot demote {}: it is not started",
                cfg.resource
            )));
        }
        if st.role != Role::Primary {
            ocf::info!("{} demoted", cfg.resource);
            update_score(cfg, ctx, &st, dl);
            return Ok(());
        }
        if let Err(e) = adm(cfg, &["secondary", &cfg.resource], dl) {
            last_error = e.to_string();
            pause = RETRY;
            ocf::warn!("demote: {last_error}");
        }
    }
}

/// A peer starts: make sure we connect to it; after any operation,
/// update the score.
pub fn notify(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let Some(n) = ctx.notification() else {
        ocf::info!("notify without a notification type: nothing to do");
        return Ok(());
    };
    check_clone_meta(cfg, ctx)?;
    let Some(version) = module_version(cfg, dl) else {
        return Ok(());
    };
    let v9 = version >= 0x090000;
    ocf::debug!(
        "notify {:?}/{}: promoted={:?} unpromoted={:?} start={:?} stop={:?}",
        n.kind,
        n.operation,
        n.unames(ocf::env::NotifyList::Promoted),
        n.unames(ocf::env::NotifyList::Unpromoted),
        n.unames(ocf::env::NotifyList::Start),
        n.unames(ocf::env::NotifyList::Stop)
    );
    let st = read_state(cfg, v9, &dl.keep_back(SCORE_RESERVE))?;
    if !st.configured {
        return Ok(());
    }
    if n.operation == "start" && !cfg.connect_only_after_promote {
        // A peer (re)starts: make sure we try to connect to it.
        if let Err(e) = adm(cfg, &["adjust", &cfg.resource], &dl.share(0.5)) {
            ocf::warn!("adjust on a start notification: {e}");
        }
    }
    if n.kind == ocf::env::NotifyType::Post {
        let st = read_state(cfg, v9, &dl.keep_back(SCORE_RESERVE)).unwrap_or(st);
        update_score(cfg, ctx, &st, dl);
    }
    Ok(())
}

fn promote_loop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let v9 = module_version(cfg, dl)
        .ok_or_else(|| OcfError::generic("cannot promote: the DRBD module is not loaded"))?
        >= 0x090000;
    let promoted_max = ctx.clone_info().and_then(|c| c.promoted_max).unwrap_or(1);
    let mut last_error = String::new();
    let mut first = true;
    let mut pause = SETTLE;
    loop {
        if !first && !dl.sleep(std::mem::replace(&mut pause, SETTLE)) {
            return Err(OcfError::generic(format!(
                "{} is not Primary at the promote timeout: {last_error}",
                cfg.resource
            )));
        }
        let st = read_state(cfg, v9, dl)?;
        if !st.configured {
            return Err(OcfError::generic(format!(
                "cannot promote {}: it is not started",
                cfg.resource
            )));
        }
        if st.role == Role::Primary {
            if cfg.connect_only_after_promote
                && let Err(e) = adm(cfg, &["adjust", &cfg.resource], dl)
            {
                ocf::warn!("connect after promote: {e}");
            }
            ocf::info!("{} promoted: {}", cfg.resource, describe(&st));
            return Ok(());
        }
        let peer_primary = Facts::of(&st).some_peer_primary && promoted_max <= 1;
        if !first && peer_primary {
            if cfg.fail_promote_early {
                remove_score(ctx, dl);
                return Err(OcfError::generic(format!(
                    "a peer of {} is already (or still) Primary",
                    cfg.resource
                )));
            }
            ocf::info!("a peer is Primary: promote will likely need several attempts");
        }
        first = false;
        match adm(cfg, &["primary", &cfg.resource], dl) {
            Ok(_) => {}
            Err(e) if e.code == Some(17) => {
                return Err(OcfError::generic(format!(
                    "refusing to promote {} without access to UpToDate data: {e}",
                    cfg.resource
                )));
            }
            Err(e) => {
                last_error = e.to_string();
                pause = RETRY;
                ocf::warn!("promote: {last_error}");
            }
        }
    }
}
