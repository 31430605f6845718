//! Monitor, reload and the probe of a configuration that does not
//! validate: the server process (named by the record or a pid file, else
//! found in the data directory), then the monitor query over a real client
//! connection under ONE deadline. Exit reasons name the phase that failed
//! and tell rejected credentials from a dead or hung server.

use std::time::{Duration, Instant};

use ocf::{Context, Deadline, OcfError, OcfResult, Record, Status};

use crate::config::Config;
use crate::conn::{Conn, ProbeError, ProbeErrorKind, Target};
use crate::process;
use crate::state::{self, Server};
use ocf::user::User;

pub fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let configured = Server::configured(cfg, cfg.binary.as_deref());
    let recorded = Record::load(ctx).as_ref().and_then(Server::recorded);
    let rec_main = recorded.as_ref().and_then(Server::main_pid);
    if let (Some(pid), Some(old)) = (rec_main, &recorded)
        && !configured.id.matches(pid)
    {
        // It runs, so a probe must not say 7; the recurring monitor
        // fails, and the stop that follows stops it.
        let msg = format!(
            "{} (pid {pid}) that start started in {} still runs, but the configuration \
             now names {}: a restart applies the change",
            cfg.label(),
            old.id.datadir.display(),
            cfg.datadir.display()
        );
        if ctx.is_probe() {
            ocf::warn!("{msg}");
            return Ok(Status::Success);
        }
        return Err(OcfError::generic(msg));
    }
    let found = configured.main_pid().or(rec_main).or_else(|| {
        let pid = configured.scan().0?;
        ocf::warn!(
            "{} (pid {pid}) runs in {} but no pid file names it ({})",
            cfg.label(),
            cfg.datadir.display(),
            cfg.pid_file.display()
        );
        Some(pid)
    });
    let Some(pid) = found else {
        return Err(not_running(cfg, &configured, dl));
    };
    let user = cfg.service_user()?;
    let started = Instant::now();
    let probe_dl = match cfg.monitor_timeout {
        Some(t) => dl.cap(t),
        None => *dl,
    };
    match probe(cfg, &user, probe_dl) {
        Ok(_) => Ok(Status::Success),
        // The server may have died while we asked: that is "stopped".
        Err(_) if !configured.id.matches(pid) => Err(OcfError::not_running(format!(
            "{} (pid {pid}) exited during the monitor",
            cfg.label()
        ))),
        Err(e) => Err(OcfError::generic(explain(cfg, pid, &e, started.elapsed()))),
    }
}

/// Make the running server re-read its configuration without a restart
/// ([`crate::engine::Engine::reload`]), then run the monitor's query, so a
/// 0 means the server still answers.
pub fn reload(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    let Some(pid) = Server::configured(cfg, cfg.binary.as_deref()).find_main() else {
        return Err(OcfError::not_running(format!(
            "nothing to reload: {}",
            not_running_reason(cfg)
        )));
    };
    let how = cfg.engine.reload(pid);
    ocf::info!(
        "{} (pid {pid}) told to reload its configuration ({how})",
        cfg.label()
    );
    let user = cfg.service_user()?;
    let started = Instant::now();
    probe(cfg, &user, *dl)
        .map(drop)
        .map_err(|e| OcfError::generic(explain(cfg, pid, &e, started.elapsed())))
}

/// 7 only when no server of this resource runs here: the recorded one
/// (same PID and start time, program and data directory), the one the
/// configured pid files name, or one working in the data directory.
pub fn probe_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    let servers = state::servers_of(cfg, rec, ctx);
    for s in &servers {
        if let Some(pid) = s.find_main() {
            ocf::warn!(
                "probe: {}; but the server (pid {pid}) in {} runs",
                why.reason,
                s.id.datadir.display()
            );
            return Ok(Status::Success);
        }
    }
    let left = state::leftovers(&servers, dl);
    if !left.is_empty() {
        return Err(OcfError::generic(format!(
            "{}; the main server process is gone but processes of it remain: {left:?}",
            why.reason
        )));
    }
    Ok(Status::NotRunning)
}

/// Nothing names the configured server: 7, unless processes of it are
/// still there (PostgreSQL backends outliving a killed postmaster for
/// more than a moment), which is not "stopped".
fn not_running(cfg: &Config, configured: &Server, dl: &Deadline) -> OcfError {
    let left = state::leftovers(std::slice::from_ref(configured), dl);
    if left.is_empty() {
        OcfError::not_running(not_running_reason(cfg))
    } else {
        OcfError::generic(format!(
            "{}, but {} of its processes remain in {}: {left:?}; stop removes them",
            not_running_reason(cfg),
            left.len(),
            cfg.datadir.display()
        ))
    }
}

fn not_running_reason(cfg: &Config) -> String {
    match process::read_pid_file(&cfg.pid_file) {
        None => format!(
            "{} is not running (no pid file {})",
            cfg.label(),
            cfg.pid_file.display()
        ),
        Some(pid) => format!(
            "{} is not running (pid {pid} from {} is gone)",
            cfg.label(),
            cfg.pid_file.display()
        ),
    }
}

/// Run the monitor query once, before `dl`: connect (as the engine's peer
/// identity on the unix socket), check who serves the socket, then the
/// engine's login and query.
pub fn probe(cfg: &Config, user: &User, dl: Deadline) -> Result<String, ProbeError> {
    let target = cfg.target();
    let identity = match &target {
        Target::Unix(_) => cfg.engine.peer_identity(user),
        Target::Tcp { .. } => None,
    };
    ocf::deadline::set_phase("monitor: connect");
    let mut conn = Conn::connect(&target, dl, identity)?;
    conn.check_peer(&[user.uid, 0])?;
    ocf::deadline::set_phase("monitor: authentication and query");
    let statement_timeout_ms = dl.remaining().as_millis().max(1) as u64;
    cfg.engine.query(&mut conn, cfg, user, statement_timeout_ms)
}

/// One exit reason per failure: the phase, what it means, and for how long.
pub(crate) fn explain(cfg: &Config, pid: i32, e: &ProbeError, took: Duration) -> String {
    let l = cfg.label();
    let t = cfg.target();
    let secs = took.as_secs_f64();
    match &e.kind {
        ProbeErrorKind::Timeout => format!(
            "{l} (pid {pid}) did not answer at {t} within {secs:.1}s: stuck in phase '{}' \
             (hung or overloaded server)",
            e.phase
        ),
        ProbeErrorKind::Credentials(m) => format!(
            "{l} is up but rejected the monitor login of user \"{}\" (wrong password or no \
             access; phase '{}'): {m}",
            cfg.monitor_user, e.phase
        ),
        ProbeErrorKind::Unreachable(m) => format!(
            "{l} process (pid {pid}) is alive but nothing accepts connections at {t} \
             (phase 'connect'): {m}"
        ),
        ProbeErrorKind::NotReady(m) => {
            format!(
                "{l} (pid {pid}) is not accepting queries (phase '{}'): {m}",
                e.phase
            )
        }
        ProbeErrorKind::NoRow => format!(
            "{l} monitor query returned no row (phase 'query'): {}",
            cfg.monitor_query
        ),
        ProbeErrorKind::Resolve(m) => format!(
            "{l} (pid {pid}) runs, but the monitor cannot resolve the host of {t} (phase \
             'connect', after {secs:.1}s): {m}"
        ),
        ProbeErrorKind::Refused(m) => format!(
            "{l} monitor did not log in at {t} (phase '{}'): {m}",
            e.phase
        ),
        ProbeErrorKind::Server(m) | ProbeErrorKind::Other(m) => {
            format!("{l} monitor failed in phase '{}' at {t}: {m}", e.phase)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Phase;

    #[test]
    fn reasons_tell_credentials_from_hangs() {
        let cfg = crate::config::tests::configure(&[
            ("OCF_RESKEY_engine", "postgresql"),
            ("OCF_RESKEY_datadir", "/srv/pg"),
            ("OCF_RESKEY_monitor_user", "mon"),
        ])
        .unwrap();
        let hang = explain(
            &cfg,
            42,
            &ProbeError::new(Phase::Authentication, ProbeErrorKind::Timeout),
            Duration::from_millis(2500),
        );
        assert!(
            hang.contains("phase 'authentication'") && hang.contains("2.5s"),
            "{hang}"
        );
        let creds = explain(
            &cfg,
            42,
            &ProbeError::new(
                Phase::Authentication,
                ProbeErrorKind::Credentials("28P01: password authentication failed".into()),
            ),
            Duration::ZERO,
        );
        assert!(
            creds.contains("rejected") && creds.contains("\"mon\""),
            "{creds}"
        );
        assert!(!creds.contains("hung"));
    }
}
