//! Monitor (the role, the disks, the promotion score on every call) and the
//! probe of a resource whose configuration does not validate.

use ocf::{Context, Deadline, OcfError, OcfResult, Status};

use crate::config::{Config, READ_CAP, SCORE_RESERVE};
use crate::kernel::module_version;
use crate::promotion::{remove_score, update_score};
use crate::record::{Recorded, Unconfigured, renamed};
use crate::score::Facts;
use crate::state::{ResourceState, Role};
use crate::tools::{read_state, read_state_with};

/// 0 (Secondary), 8 (Primary) or 9 (Primary without quorum or UpToDate
/// data), setting the promotion score on the way, probes included.
pub fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let Some(version) = module_version(cfg, dl) else {
        if !ctx.is_probe() {
            remove_score(ctx, dl);
        }
        return Err(OcfError::not_running("the DRBD module is not loaded"));
    };
    let v9 = version >= 0x090000;
    let st = read_state(cfg, v9, &dl.keep_back(SCORE_RESERVE))?;
    if !st.configured {
        // What start started here may run under another name.
        if let Some(rec) = Recorded::load(ctx)
            && let Some((name, other)) =
                recorded_in_kernel(&cfg.drbdsetup, &rec, &cfg.resource, v9, dl)?
        {
            ocf::warn!(
                "{} is not in the kernel, but {name}, which start started here, is: {}",
                cfg.resource,
                describe(&other)
            );
            return Ok(running_status(&other));
        }
        if !ctx.is_probe() {
            remove_score(ctx, dl);
        }
        return Err(OcfError::not_running(format!(
            "{} is not configured in the kernel",
            cfg.resource
        )));
    }
    for peer in st.standalone_peers() {
        ocf::warn!(
            "{}: the connection to {peer} is StandAlone (split brain, or refused): resolve it by hand",
            cfg.resource
        );
    }
    update_score(cfg, ctx, &st, dl);
    if st.role != Role::Primary {
        return Ok(Status::Success);
    }
    let f = Facts::of(&st);
    if !f.quorum {
        // linbit's answer: still promoted, but without a score, so
        // Pacemaker moves the promotion to a node with quorum; a 9 would
        // make it demote and stop here, which blocks while I/O is
        // suspended for lack of quorum and ends in fencing.
        ocf::warn!(
            "{} is Primary without quorum: its promotion score is removed",
            cfg.resource
        );
        return Ok(Status::RunningPromoted);
    }
    if !f.has_good_data() {
        return Err(OcfError::new(
            Status::FailedPromoted,
            format!(
                "{} is Primary without access to UpToDate data ({})",
                cfg.resource,
                describe(&st)
            ),
        ));
    }
    Ok(Status::RunningPromoted)
}

/// A probe in the same situation: the kernel's view (drbdsetup) of what
/// start recorded (or, without a record, of the resource the raw
/// parameter names): 0 or 8 when it exists, 7 only when it does not (or
/// no DRBD module is loaded), 1 when it cannot be seen.
pub fn probe_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    let u = Unconfigured::new(cfg, rec, ctx);
    if u.names.is_empty() {
        return Ok(Status::NotRunning);
    }
    let Some(version) = u.module_version(dl) else {
        return Ok(Status::NotRunning);
    };
    let v9 = u
        .rec
        .as_ref()
        .and_then(|r| r.v9)
        .unwrap_or(version >= 0x090000);
    let Some(setup) = u.drbdsetup.as_deref() else {
        return match u.minors_in_kernel(dl) {
            Some(false) => Ok(Status::NotRunning),
            _ => Err(OcfError::generic(format!(
                "{}; drbdsetup is not installed, so the state of {} cannot be read \
                 (DRBD devices exist in the kernel)",
                why.reason,
                u.names.join(", ")
            ))),
        };
    };
    for name in &u.names {
        let st = read_state_with(setup, name, v9, &dl.cap(READ_CAP))
            .map_err(|e| OcfError::generic(format!("{}; and {e}", why.reason)))?;
        if st.configured {
            ocf::warn!("{name} runs here: {}", describe(&st));
            return Ok(running_status(&st));
        }
    }
    if let Some(r) = &u.rec
        && let Some(other) = renamed(setup, r, &u.names, v9, dl)?
    {
        let st = read_state_with(setup, &other, v9, &dl.cap(READ_CAP))
            .map_err(|e| OcfError::generic(format!("{}; and {e}", why.reason)))?;
        if st.configured {
            ocf::warn!(
                "{other} (renamed from {}) runs here: {}",
                r.resource,
                describe(&st)
            );
            return Ok(running_status(&st));
        }
    }
    Ok(Status::NotRunning)
}

/// Monitor: `cfg_name` is not in the kernel; is what start recorded (under
/// its recorded name, or renamed) there?
fn recorded_in_kernel(
    setup: &str,
    rec: &Recorded,
    cfg_name: &str,
    v9: bool,
    dl: &Deadline,
) -> OcfResult<Option<(String, ResourceState)>> {
    let read = |name: &str| {
        read_state_with(setup, name, v9, &dl.keep_back(SCORE_RESERVE))
            .map_err(|e| OcfError::generic(format!("cannot read the state of {name}: {e}")))
    };
    let mut known = vec![cfg_name.to_string()];
    if rec.resource != cfg_name {
        let st = read(&rec.resource)?;
        if st.configured {
            return Ok(Some((rec.resource.clone(), st)));
        }
        known.push(rec.resource.clone());
    }
    if let Some(other) = renamed(setup, rec, &known, v9, dl)? {
        let st = read(&other)?;
        if st.configured {
            return Ok(Some((other, st)));
        }
    }
    Ok(None)
}

/// 0 for a Secondary, 8 for a Primary (what a probe answers for it).
fn running_status(st: &ResourceState) -> Status {
    if st.role == Role::Primary {
        Status::RunningPromoted
    } else {
        Status::Success
    }
}

/// One line for logs: role, disks, peers.
pub fn describe(st: &ResourceState) -> String {
    let disks: Vec<String> = st.volumes.iter().map(|v| format!("{:?}", v.disk)).collect();
    let peers: Vec<String> = st
        .peers
        .iter()
        .map(|p| {
            let pd: Vec<String> = p.volumes.iter().map(|v| format!("{:?}", v.disk)).collect();
            format!("{}={}/{:?}/{}", p.name, p.connection, p.role, pd.join(","))
        })
        .collect();
    format!(
        "role {:?}, disk {}, quorum {}, peers [{}]",
        st.role,
        disks.join(","),
        if st.quorum { "yes" } else { "no" },
        peers.join(" ")
    )
}
