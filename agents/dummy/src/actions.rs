//! start, stop and monitor of the state file; stop and probe when the
//! parameters do not validate; the `op_sleep` every action takes first.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use ocf::{Context, Deadline, OcfError, OcfResult, Record, Status};

use crate::config::{self, Config};
use crate::state::{STATE_MODE, State, inspect, state_dir, state_of};

pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    op_sleep(cfg);
    if cfg.default_state
        && let Some(parent) = cfg.state.parent().and_then(Path::parent)
    {
        fs::create_dir_all(parent)
            .map_err(|e| OcfError::generic(format!("cannot create {}: {e}", parent.display())))?;
    }
    let (dir, name) = state_dir(cfg, true)
        .map_err(|e| OcfError::generic(format!("cannot write the state file: {e}")))?;
    match inspect(&dir, &name) {
        State::Ours(_) => {
            ocf::info!("{} is already running", ctx.instance);
            return Ok(());
        }
        State::Foreign(why) => {
            return Err(OcfError::generic(format!(
                "refusing to use the state file {}: {why}",
                cfg.state.display()
            )));
        }
        State::Absent => {}
    }
    // Recorded first: a stop whose parameters no longer validate still
    // finds the state file.
    Record::new().with("state", &cfg.state).save(ctx);
    // A new file of ours, never through a link, its mode set at
    // creation, renamed into place: nothing planted can redirect it.
    dir.replace(&name, format!("{}\n", ctx.instance).as_bytes(), STATE_MODE)
        .map_err(|e| {
            OcfError::generic(format!(
                "cannot write state file {}: {e}",
                cfg.state.display()
            ))
        })?;
    if dl.expired() {
        ocf::warn!("start finished after its own deadline");
    }
    ocf::info!(
        "{} started (state file {})",
        ctx.instance,
        cfg.state.display()
    );
    Ok(())
}

pub fn stop(cfg: &Config, ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
    op_sleep(cfg);
    let (dir, name) = match state_dir(cfg, false) {
        Ok(d) => d,
        // No directory, no state file: nothing runs.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            ocf::info!("{} was already stopped", ctx.instance);
            return Ok(());
        }
        Err(e) => {
            return Err(OcfError::generic(format!(
                "cannot reach the state file {}: {e}",
                cfg.state.display()
            )));
        }
    };
    match inspect(&dir, &name) {
        State::Absent => {
            ocf::info!("{} was already stopped", ctx.instance);
            return Ok(());
        }
        // Not a state file start made: nothing of ours runs, and
        // whatever it is stays.
        State::Foreign(why) => {
            ocf::warn!(
                "{} is not a state file of ours ({why}): left alone; {} is stopped",
                cfg.state.display(),
                ctx.instance
            );
            return Ok(());
        }
        State::Ours(_) => {}
    }
    dir.remove(&name)
        .map_err(|e| OcfError::generic(format!("cannot remove {}: {e}", cfg.state.display())))?;
    if let State::Ours(_) = inspect(&dir, &name) {
        return Err(OcfError::generic(format!(
            "state file {} is still there",
            cfg.state.display()
        )));
    }
    ocf::info!("{} stopped", ctx.instance);
    Ok(())
}

pub fn monitor(cfg: &Config, ctx: &Context, _dl: &Deadline) -> OcfResult<Status> {
    op_sleep(cfg);
    let content = match state_of(cfg) {
        State::Ours(content) => content,
        State::Absent => return Err(OcfError::not_running("No process state file found")),
        State::Foreign(why) => {
            return Err(OcfError::not_running(format!(
                "{} is not a state file of ours: {why}",
                cfg.state.display()
            )));
        }
    };
    if ctx.effective_check_level(&[0, 10]) >= 10 {
        let content = String::from_utf8_lossy(&content);
        if content.trim() != ctx.instance {
            return Err(OcfError::generic(format!(
                "state file {} belongs to {:?}, not {}",
                cfg.state.display(),
                content.trim(),
                ctx.instance
            )));
        }
    }
    Ok(Status::Success)
}

/// Stop when the parameters do not validate: remove the state file start
/// recorded (or the configured one, when only the environment check failed).
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    let Some(cfg) = config::unconfigured(cfg, rec) else {
        ocf::info!("stop: {}; nothing was started here", why.reason);
        return Ok(());
    };
    ocf::warn!(
        "stop: {}; removing the state file {} start made",
        why.reason,
        cfg.state.display()
    );
    stop(&cfg, ctx, dl)
}

/// A probe when the parameters do not validate: running while that state
/// file is there and ours.
pub fn probe_unconfigured(cfg: Option<&Config>, rec: Option<&Record>) -> Status {
    match config::unconfigured(cfg, rec).map(|c| state_of(&c)) {
        Some(State::Ours(_)) => Status::Success,
        _ => Status::NotRunning,
    }
}

/// Sleep `op_sleep` first, ignoring the deadline on purpose (see the
/// parameter's description).
fn op_sleep(cfg: &Config) {
    if !cfg.op_sleep.is_zero() {
        ocf::deadline::set_phase("op_sleep");
        std::thread::sleep(cfg.op_sleep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "dummy",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = ctx("start", vars);
        let p = ocf::Params::parse(&crate::params::PARAMS, &c.params)?;
        config::configure(&p, &c)
    }

    #[test]
    fn lifecycle_in_a_temp_dir() {
        let dir = std::env::temp_dir().join(format!("ocf-rs-dummy-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let state = dir.join("s.state");
        let vars = [
            ("OCF_RESKEY_state", state.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", "u1"),
        ];
        let cfg = configure(&vars).unwrap();
        let dl = Deadline::after(Duration::from_secs(5));
        let c = ctx("monitor", &vars);
        assert_eq!(
            monitor(&cfg, &c, &dl).unwrap_err().status,
            Status::NotRunning
        );
        start(&cfg, &c, &dl).unwrap();
        start(&cfg, &c, &dl).unwrap();
        assert_eq!(monitor(&cfg, &c, &dl), Ok(Status::Success));
        let deep = ctx("monitor", &[vars[0], vars[1], ("OCF_CHECK_LEVEL", "10")]);
        assert_eq!(monitor(&cfg, &deep, &dl), Ok(Status::Success));
        fs::write(&state, "someone-else\n").unwrap();
        assert_eq!(
            monitor(&cfg, &deep, &dl).unwrap_err().status,
            Status::ErrGeneric
        );
        assert_eq!(
            monitor(&cfg, &c, &dl),
            Ok(Status::Success),
            "depth 0 only checks presence"
        );
        stop(&cfg, &c, &dl).unwrap();
        stop(&cfg, &c, &dl).unwrap();
        assert!(!state.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
