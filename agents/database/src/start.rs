//! Start: the server program launched directly by argv as the service user
//! (no `su -c` strings, no pg_ctl or mysqld_safe in between), detached from
//! our pipes, recorded before it runs, then waited for until the monitor
//! query answers.

use std::fs;
use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult, Record};

use crate::config::Config;
use crate::conn::ProbeErrorKind;
use crate::monitor::{explain, probe};
use crate::process;
use crate::state::{self, Server};
use ocf::user::User;

/// How often start asks a starting server whether it answers yet.
const START_PROBE_INTERVAL: Duration = Duration::from_millis(100);

pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let binary = cfg.resolve_binary()?;
    let user = cfg.service_user()?;
    let configured = Server::configured(cfg, Some(&binary));
    // A server an earlier start started elsewhere (the data directory
    // changed since) still runs: starting a second one would lose track
    // of it. Failing makes Pacemaker stop it first.
    if let Some(old) = Record::load(ctx).as_ref().and_then(Server::recorded)
        && let Some(pid) = old.find_main()
        && !configured.id.matches(pid)
    {
        return Err(OcfError::generic(format!(
            "{} (pid {pid}) that an earlier start started in {} still runs; the \
             configuration now names {}: stop the resource first",
            cfg.label(),
            old.id.datadir.display(),
            cfg.datadir.display()
        )));
    }
    if let Some(pid) = configured.find_main() {
        ocf::info!("{} is already running (pid {pid})", ctx.instance);
        state::record(cfg, &binary, ctx, Some(pid));
        return wait_until_answering(cfg, &user, dl, None, pid);
    }
    cfg.engine.prepare(cfg, &user)?;
    remove_stale_pid_file(cfg);
    let log = match &cfg.log {
        Some(path) => Some(process::open_log(path, &user).map_err(|e| {
            OcfError::generic(format!(
                "log file {}: {e} (it must be missing, or a regular file of user {})",
                path.display(),
                user.name
            ))
        })?),
        None => None,
    };
    let config = cfg.start_config();
    let argv = cfg.server_argv(&binary, config.as_deref());
    // What is about to run, before it runs: a start killed half-way
    // still leaves what stop needs.
    state::record(cfg, &binary, ctx, None);
    ocf::deadline::set_phase("launching the server");
    ocf::info!("starting {}: {}", cfg.label(), argv.join(" "));
    let mut child = process::spawn_detached(&argv, &user, log)
        .map_err(|e| OcfError::generic(format!("cannot start {}: {e}", binary.display())))?;
    let pid = child.id() as i32;
    state::record(cfg, &binary, ctx, Some(pid));
    wait_until_answering(cfg, &user, dl, Some(&mut child), pid)?;
    ocf::info!("{} started (pid {pid})", cfg.label());
    Ok(())
}

/// Remove a pid file whose process is gone (the caller checked), so the
/// next start and monitor do not trust it.
fn remove_stale_pid_file(cfg: &Config) {
    if cfg.pid_file.exists() {
        match fs::remove_file(&cfg.pid_file) {
            Ok(()) => ocf::info!("removed stale pid file {}", cfg.pid_file.display()),
            Err(e) => ocf::warn!("cannot remove {}: {e}", cfg.pid_file.display()),
        }
    }
}

/// Poll the monitor query until it answers or `dl` passes. A server that
/// dies meanwhile, or rejects the credentials, ends the wait at once.
fn wait_until_answering(
    cfg: &Config,
    user: &User,
    dl: &Deadline,
    mut child: Option<&mut std::process::Child>,
    pid: i32,
) -> OcfResult<()> {
    ocf::deadline::set_phase("waiting for the server to answer");
    let last = loop {
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            let tail = cfg
                .log
                .as_deref()
                .and_then(|l| process::last_log_line(l, user.uid))
                .map(|l| format!("; log: {l}"))
                .unwrap_or_else(|| "; set the log parameter to see why".into());
            return Err(OcfError::generic(format!(
                "{} exited during start ({status}){tail}",
                cfg.label()
            )));
        }
        if child.is_none() && !process::alive(pid) {
            return Err(OcfError::generic(format!(
                "{} (pid {pid}) exited during start",
                cfg.label()
            )));
        }
        match probe(cfg, user, dl.cap(Duration::from_secs(5))) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind,
                    ProbeErrorKind::Credentials(_) | ProbeErrorKind::Refused(_)
                ) =>
            {
                return Err(OcfError::generic(explain(cfg, pid, &e, Duration::ZERO)));
            }
            Err(e) => {
                ocf::deadline::set_phase("waiting for the server to answer");
                if !dl.sleep(START_PROBE_INTERVAL) {
                    break e;
                }
            }
        }
    };
    Err(OcfError::generic(format!(
        "{} (pid {pid}) did not answer the monitor query before the start timeout; last \
         error: {last}",
        cfg.label()
    )))
}
