//! Stop: every server of this resource that runs here (the configured one,
//! the recorded one, or what the raw parameters name), inside one budget.
//! Supervisors that would restart a killed server (mysqld_safe) go first;
//! then each engine's graceful step and its faster one
//! ([`Engine::shutdown`], [`Engine::hurry`]); then SIGKILL of whatever is
//! left. 0 only when no process of any of them is left.

use std::path::PathBuf;
use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult, Record};
use rustix::process::Signal;

use crate::config::Config;
use crate::engine::{self, Engine, FirstStep};
use crate::process;
use crate::state::{self, Origin, Server, everything};

/// Stops the configured server and the one start recorded, if the
/// configuration has changed since (another datadir or pid file).
pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let binary = cfg.resolve_binary().ok();
    let mut servers = vec![Server::configured(cfg, binary.as_deref())];
    servers.extend(Record::load(ctx).as_ref().and_then(Server::recorded));
    stop_all(&servers, Some(cfg), ctx, dl)
}

/// The binary removed by an upgrade, the user unknown to NSS, the datadir
/// parameter changed to a directory that is not initialised, parameters
/// that do not parse: whatever of this resource still runs here (the
/// recorded server, the configured one, or what the raw datadir names) is
/// stopped for real, and 0 only when nothing is left.
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    let servers = state::servers_of(cfg, rec, ctx);
    if servers.is_empty() {
        ocf::info!(
            "stop: {}; no record and no data directory name a server of this resource",
            why.reason
        );
        return Ok(());
    }
    ocf::info!("stop: {}; stopping any server of this resource", why.reason);
    stop_all(&servers, cfg, ctx, dl)
}

/// The supervisors (mysqld_safe) of these servers and main processes, as
/// the engines they may be find them.
fn supervisors(servers: &[Server], mains: &[i32]) -> Vec<i32> {
    let mut engines: Vec<&'static dyn Engine> = Vec::new();
    for e in servers.iter().flat_map(|s| engine::candidates(s.engine)) {
        if !engines.contains(&e) {
            engines.push(e);
        }
    }
    let mut found: Vec<i32> = engines
        .iter()
        .flat_map(|e| e.supervisors(servers, mains))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn ours(servers: &[Server], pid: i32) -> bool {
    servers.iter().any(|s| s.id.matches(pid))
}

/// A pid file that names no live process of these servers goes, so the
/// next start and monitor do not trust it.
fn remove_stale_pid_files(servers: &[Server]) {
    let mut files: Vec<&PathBuf> = servers.iter().flat_map(|s| &s.pid_files).collect();
    files.sort();
    files.dedup();
    for f in files {
        if process::read_pid_file(f).is_some_and(|p| !ours(servers, p)) {
            match std::fs::remove_file(f) {
                Ok(()) => ocf::info!("removed stale pid file {}", f.display()),
                Err(e) => ocf::warn!("cannot remove {}: {e}", f.display()),
            }
        }
    }
}

/// Stop every server in `servers` within `dl`: supervisors first (SIGKILL:
/// mysqld_safe ignores SIGTERM), then each main process's graceful step
/// (with `cfg`'s login, for the configured server), then the faster one,
/// then SIGKILL of every process left, keeping a fifth of the time (0.5 s
/// to 10 s) for that. 0 only when no process of any of them is left.
pub fn stop_all(
    servers: &[Server],
    cfg: Option<&Config>,
    ctx: &Context,
    dl: &Deadline,
) -> OcfResult<()> {
    let mut mains: Vec<(i32, &'static dyn Engine, Origin)> = Vec::new();
    for s in servers {
        if let Some(pid) = s.find_main()
            && !mains.iter().any(|m| m.0 == pid)
        {
            mains.push((pid, s.engine_of(pid), s.origin));
        }
    }
    let main_pids: Vec<i32> = mains.iter().map(|m| m.0).collect();
    let mut known = everything(servers);
    let wrapped = supervisors(servers, &main_pids);
    if mains.is_empty() && known.is_empty() && wrapped.is_empty() {
        remove_stale_pid_files(servers);
        ocf::info!("{} is already stopped", ctx.instance);
        return Ok(());
    }
    if !wrapped.is_empty() {
        ocf::deadline::set_phase("stop: mysqld_safe");
        ocf::warn!(
            "killing the mysqld_safe wrapper {wrapped:?} first: it would start the server again"
        );
        for &w in &wrapped {
            process::signal(w, Signal::KILL);
        }
    }
    let poll = Duration::from_millis(50);
    let left =
        |pids: &[i32]| -> Vec<i32> { pids.iter().copied().filter(|&p| ours(servers, p)).collect() };
    // Keep a share for the force phase whatever the timeout.
    let force_reserve =
        (dl.remaining() / 5).clamp(Duration::from_millis(500), Duration::from_secs(10));
    let graceful = dl.keep_back(force_reserve);
    let share = mains
        .iter()
        .map(|m| m.1.graceful_share())
        .fold(0.5, f64::max);
    // The configured server's own escalation time, when it has one
    // (pgsql's stop_escalate), bounded by the graceful budget.
    let first = match cfg.and_then(|c| c.stop_escalate) {
        Some(d) => graceful.cap(d),
        None => graceful.share(share),
    };
    let mut steps: Vec<FirstStep> = Vec::new();
    for &(pid, engine, origin) in &mains {
        // The monitor login may shut down only the server it describes.
        let login = cfg.filter(|c| c.engine == engine && origin == Origin::Configured);
        steps.push(engine.shutdown(pid, login, &graceful));
    }
    first.poll(poll, || left(&main_pids).is_empty().then_some(()));
    let slow = left(&main_pids);
    if !slow.is_empty() {
        for (&(pid, engine, _), &step) in mains.iter().zip(&steps) {
            if slow.contains(&pid) {
                engine.hurry(pid, step);
            }
        }
        graceful.poll(poll, || left(&main_pids).is_empty().then_some(()));
    }
    // Whatever is left (a hung server, orphaned backends, a wrapper that
    // started a new server meanwhile).
    known.extend(everything(servers));
    known.extend(&main_pids);
    let wrapped_now = supervisors(servers, &left(&known));
    known.sort_unstable();
    known.dedup();
    let rest = left(&known);
    if !rest.is_empty() || !wrapped_now.is_empty() {
        ocf::deadline::set_phase("stop: SIGKILL");
        ocf::warn!("killing the remaining database processes: {rest:?} {wrapped_now:?}");
        for &p in wrapped_now.iter().chain(&rest) {
            process::signal(p, Signal::KILL);
        }
        dl.poll(poll, || left(&rest).is_empty().then_some(()));
    }
    let still = everything(servers);
    let supervisors_left: Vec<i32> = supervisors(servers, &still)
        .into_iter()
        .filter(|&w| process::alive(w))
        .collect();
    if !still.is_empty() || !supervisors_left.is_empty() {
        return Err(OcfError::generic(format!(
            "database server processes still running after SIGKILL: {still:?} \
             {supervisors_left:?}"
        )));
    }
    remove_stale_pid_files(servers);
    ocf::info!("{} stopped", ctx.instance);
    Ok(())
}
