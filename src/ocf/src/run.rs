//! The driver every agent runs under: one [`Agent`] trait, one rule table.
//!
//! * `meta-data` (and `methods`) need no environment, no root, no parameters.
//! * An action the agent does not advertise, or any unknown word: 3.
//! * Parameters are parsed and checked against the agent's table, then the
//!   agent's environment check runs (except for `validate-all` at level 0,
//!   which is syntax only and silent on success).
//! * An invalid configuration or environment gives: stop -> the agent's
//!   [`Agent::stop_unconfigured`] (it stops what start recorded, or what can
//!   still be identified; 0 only when nothing of the resource runs here),
//!   probe -> [`Agent::probe_unconfigured`] (7 only when nothing runs here),
//!   recurring monitor -> 1, anything else -> the error's code.
//! * After a stop that succeeded, the record start left ([`Record`]) is
//!   removed.
//! * A watchdog ends the process before Pacemaker's timeout, whatever the
//!   agent is doing, with an exit reason naming the phase.

use std::io::Write;
use std::time::Instant;

use crate::deadline::{self, Budget, Deadline};
use crate::env::Context;
use crate::exit::{OcfError, OcfResult, Status};
use crate::metadata::{self, AgentInfo};
use crate::params::Params;
use crate::record::Record;

/// What an agent implements. Unimplemented optional actions answer 3; the
/// driver never calls an action the agent does not advertise.
pub trait Agent {
    /// The agent's configuration, built from validated parameters.
    type Config;

    /// Name, descriptions, parameter table and actions.
    fn info() -> &'static AgentInfo;

    /// Turn validated parameters into the configuration. Syntax only: no
    /// files, no network, no tools (validate-all at level 0 runs this alone,
    /// on whatever node the user typed `pcs resource create` on).
    fn configure(params: &Params, ctx: &Context) -> OcfResult<Self::Config>;

    /// Can this resource run on this node at all (software, files, devices)?
    /// Runs before every action but meta-data and level-0 validate-all, so
    /// keep it cheap: it is on the monitor path.
    fn check_environment(_cfg: &Self::Config, _ctx: &Context) -> OcfResult<()> {
        Ok(())
    }

    fn start(cfg: &Self::Config, ctx: &Context, dl: &Deadline) -> OcfResult<()>;
    fn stop(cfg: &Self::Config, ctx: &Context, dl: &Deadline) -> OcfResult<()>;
    /// 0 running, 7 stopped, 8 promoted, or an error.
    fn monitor(cfg: &Self::Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status>;

    fn migrate_to(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("migrate_to is not supported"))
    }
    fn migrate_from(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("migrate_from is not supported"))
    }
    fn promote(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("promote is not supported"))
    }
    fn demote(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("demote is not supported"))
    }
    fn notify(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("notify is not supported"))
    }
    fn reload(_cfg: &Self::Config, _ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
        Err(OcfError::unimplemented("reload is not supported"))
    }

    /// Stop when the configuration or this node's environment does not
    /// validate. `cfg` is the configuration when it parsed (only the
    /// environment check failed); `rec` is what start recorded here. Stop
    /// whatever of the resource still runs on this node, identified by what
    /// cannot change under us (what `rec` names, or what can still be
    /// identified safely), and answer 0 only when nothing of it runs here:
    /// "stopped" over a running resource lets Pacemaker start it twice.
    fn stop_unconfigured(
        cfg: Option<&Self::Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()>;

    /// A probe in the same situation: 7 only when nothing of the resource
    /// runs here; 0 (8 where promoted) when something does, whatever the
    /// configuration says. The recurring monitor that follows fails, and
    /// Pacemaker's stop then takes the path above.
    fn probe_unconfigured(
        cfg: Option<&Self::Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status>;
}

/// Run `action` for agent `A` in this process and return the exit code.
pub fn main<A: Agent>(action: &str) -> i32 {
    let started = Instant::now();
    let info = A::info();
    match action {
        "meta-data" => return print_stdout(&metadata::xml(info)),
        "methods" => {
            let list: String = info
                .actions
                .iter()
                .map(|a| format!("{}\n", a.name))
                .collect();
            return print_stdout(&list);
        }
        _ => {}
    }
    let ctx = Context::from_env(info.name, action);
    crate::log::init(info.name, &ctx.instance);
    let result = if action.is_empty() || !info.supports(action) {
        Err(OcfError::unimplemented(format!(
            "{} does not implement the action '{action}'",
            info.name
        )))
    } else {
        let budget = Budget::new(started, ctx.timeout);
        deadline::arm_watchdog(action, ctx.timeout, budget.hard);
        dispatch::<A>(&ctx, &budget.soft)
    };
    finish(&ctx, result)
}

fn print_stdout(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(_) => i32::from(Status::ErrGeneric.code()),
    }
}

/// Report the result the way Pacemaker reads it and return the exit code.
fn finish(ctx: &Context, result: OcfResult<Status>) -> i32 {
    let status = match result {
        Ok(s) => s,
        Err(e) if e.status == Status::NotRunning => {
            // Not an error: the reason shows next to "not running" in crm_mon.
            crate::info!("{}", e.reason);
            eprintln!(
                "{}",
                crate::exit::exit_reason_line(&crate::secret::redact(&e.reason))
            );
            e.status
        }
        Err(e) => {
            crate::log::exit_reason_raw(&e.reason);
            e.status
        }
    };
    crate::debug!("{} {}: {}", ctx.instance, ctx.action, status);
    i32::from(status.code())
}

/// Parse and check, then run the action (exposed for tests of the table).
pub fn dispatch<A: Agent>(ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let action = ctx.action.as_str();
    deadline::set_phase("checking parameters");
    let cfg = match Params::parse(A::info().params, &ctx.params).and_then(|p| A::configure(&p, ctx))
    {
        Ok(cfg) => cfg,
        Err(e) if action == "validate-all" => return Err(e),
        Err(e) => return invalid_environment::<A>(None, ctx, e, dl),
    };
    if action == "validate-all" && ctx.check_level < 10 {
        return Ok(Status::Success);
    }
    deadline::set_phase("checking the environment");
    if let Err(e) = A::check_environment(&cfg, ctx) {
        return match action {
            "validate-all" | "start" => Err(e),
            _ => invalid_environment::<A>(Some(&cfg), ctx, e, dl),
        };
    }
    deadline::set_phase(action);
    let done = |r: OcfResult<()>| r.map(|()| Status::Success);
    match action {
        "validate-all" => Ok(Status::Success),
        "start" => done(A::start(&cfg, ctx, dl)),
        "stop" => match A::stop(&cfg, ctx, dl) {
            // Stop never answers 7: "not running" is what stop wanted.
            Ok(()) => stopped(ctx),
            Err(e) if e.status == Status::NotRunning => stopped(ctx),
            Err(e) => Err(e),
        },
        "monitor" => A::monitor(&cfg, ctx, dl),
        "migrate_to" => done(A::migrate_to(&cfg, ctx, dl)),
        "migrate_from" => done(A::migrate_from(&cfg, ctx, dl)),
        "promote" => done(A::promote(&cfg, ctx, dl)),
        "demote" => done(A::demote(&cfg, ctx, dl)),
        "notify" => match A::notify(&cfg, ctx, dl) {
            // Pacemaker ignores notify failures; the spec says return 0.
            Err(e) if e.status != Status::ErrUnimplemented => {
                crate::warn!("notify: {}", e.reason);
                Ok(Status::Success)
            }
            r => done(r),
        },
        "reload" => done(A::reload(&cfg, ctx, dl)),
        other => Err(OcfError::unimplemented(format!(
            "{} does not implement the action '{other}'",
            ctx.agent
        ))),
    }
}

/// A stop succeeded: nothing of the resource runs here, so what start
/// recorded is history.
fn stopped(ctx: &Context) -> OcfResult<Status> {
    Record::forget(ctx);
    Ok(Status::Success)
}

/// ocf-rarun's `handle_invalid_env`, made truthful: stop and probe are
/// delegated to the agent with what start recorded.
fn invalid_environment<A: Agent>(
    cfg: Option<&A::Config>,
    ctx: &Context,
    e: OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    match ctx.action.as_str() {
        "stop" => {
            deadline::set_phase("stop with an invalid configuration");
            let rec = Record::load(ctx);
            A::stop_unconfigured(cfg, rec.as_ref(), ctx, &e, dl)?;
            stopped(ctx)
        }
        "monitor" if ctx.is_probe() => {
            deadline::set_phase("probe with an invalid configuration");
            let rec = Record::load(ctx);
            match A::probe_unconfigured(cfg, rec.as_ref(), ctx, &e, dl) {
                Ok(Status::NotRunning) => {
                    crate::info!("probe: {}; nothing of the resource runs here", e.reason);
                    Ok(Status::NotRunning)
                }
                Ok(s) => {
                    crate::warn!(
                        "probe: {}; but the resource runs here (answering {})",
                        e.reason,
                        s.code()
                    );
                    Ok(s)
                }
                Err(err) if err.status == Status::NotRunning => Ok(Status::NotRunning),
                Err(err) => Err(err),
            }
        }
        "monitor" => Err(OcfError::generic(e.reason)),
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ActionSpec;
    use crate::params::ParamSpec;
    use std::time::Duration;

    static PARAMS: [ParamSpec; 2] = [
        ParamSpec::new("n", "n", "A number.").integer(0, 9),
        ParamSpec::new("env_ok", "env", "Whether the environment check passes.")
            .boolean()
            .default("true"),
    ];
    static ACTIONS: [ActionSpec; 6] = [
        ActionSpec::new("start", 20),
        ActionSpec::new("stop", 20),
        ActionSpec::new("monitor", 20).interval(10),
        ActionSpec::new("notify", 20),
        ActionSpec::new("validate-all", 20),
        ActionSpec::new("meta-data", 5),
    ];
    static INFO: AgentInfo = AgentInfo {
        name: "t",
        shortdesc: "t",
        longdesc: "t",
        params: &PARAMS,
        actions: &ACTIONS,
    };

    struct T;
    impl Agent for T {
        type Config = bool;
        fn info() -> &'static AgentInfo {
            &INFO
        }
        fn configure(p: &Params, _: &Context) -> OcfResult<bool> {
            Ok(p.boolean(&PARAMS[1]))
        }
        fn check_environment(ok: &bool, _: &Context) -> OcfResult<()> {
            if *ok {
                Ok(())
            } else {
                Err(OcfError::installed("no tool"))
            }
        }
        fn start(_: &bool, _: &Context, _: &Deadline) -> OcfResult<()> {
            Ok(())
        }
        fn stop(_: &bool, _: &Context, _: &Deadline) -> OcfResult<()> {
            Err(OcfError::not_running("already stopped"))
        }
        fn monitor(_: &bool, _: &Context, _: &Deadline) -> OcfResult<Status> {
            Ok(Status::Success)
        }
        fn notify(_: &bool, _: &Context, _: &Deadline) -> OcfResult<()> {
            Err(OcfError::generic("peer unknown"))
        }
        /// The test agent "runs" when the record says so.
        fn stop_unconfigured(
            _: Option<&bool>,
            rec: Option<&Record>,
            _: &Context,
            _: &OcfError,
            _: &Deadline,
        ) -> OcfResult<()> {
            match rec.and_then(|r| r.get("stuck")) {
                Some(_) => Err(OcfError::generic("cannot stop it")),
                None => Ok(()),
            }
        }
        fn probe_unconfigured(
            _: Option<&bool>,
            rec: Option<&Record>,
            _: &Context,
            _: &OcfError,
            _: &Deadline,
        ) -> OcfResult<Status> {
            Ok(if rec.is_some() {
                Status::Success
            } else {
                Status::NotRunning
            })
        }
    }

    fn run(action: &str, vars: &[(&str, &str)]) -> OcfResult<Status> {
        let ctx = Context::from_vars(
            "t",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        dispatch::<T>(&ctx, &Deadline::after(Duration::from_secs(5)))
    }

    const BAD: (&str, &str) = ("OCF_RESKEY_n", "99");
    const NO_ENV: (&str, &str) = ("OCF_RESKEY_env_ok", "false");
    const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

    #[test]
    fn invalid_configuration_table() {
        assert_eq!(run("stop", &[BAD]), Ok(Status::Success));
        assert_eq!(run("monitor", &[BAD]), Ok(Status::NotRunning), "probe");
        assert_eq!(
            run("monitor", &[BAD, RECURRING]).unwrap_err().status,
            Status::ErrGeneric
        );
        assert_eq!(
            run("start", &[BAD]).unwrap_err().status,
            Status::ErrConfigured
        );
        assert_eq!(
            run("validate-all", &[BAD]).unwrap_err().status,
            Status::ErrConfigured
        );
    }

    #[test]
    fn invalid_environment_table() {
        assert_eq!(run("stop", &[NO_ENV]), Ok(Status::Success));
        assert_eq!(run("monitor", &[NO_ENV]), Ok(Status::NotRunning));
        assert_eq!(
            run("monitor", &[NO_ENV, RECURRING]).unwrap_err().status,
            Status::ErrGeneric
        );
        assert_eq!(
            run("start", &[NO_ENV]).unwrap_err().status,
            Status::ErrInstalled
        );
        // validate-all at level 0 checks syntax only; at 10 the environment too.
        assert_eq!(run("validate-all", &[NO_ENV]), Ok(Status::Success));
        let level10 = ("OCF_CHECK_LEVEL", "10");
        assert_eq!(
            run("validate-all", &[NO_ENV, level10]).unwrap_err().status,
            Status::ErrInstalled
        );
    }

    #[test]
    fn stop_never_answers_7_and_notify_never_fails() {
        assert_eq!(run("stop", &[]), Ok(Status::Success));
        assert_eq!(run("notify", &[]), Ok(Status::Success));
        assert_eq!(run("monitor", &[RECURRING]), Ok(Status::Success));
    }

    /// With a record, the probe sees the resource and a stuck stop is not
    /// reported as stopped; a successful stop removes the record.
    #[test]
    fn invalid_configuration_consults_the_record() {
        let dir = std::env::temp_dir().join(format!("ocf-run-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let tmp = dir.display().to_string();
        let rsctmp = ("HA_RSCTMP", tmp.as_str());
        let c = Context::from_vars("t", "start", [("HA_RSCTMP", tmp.as_str())]);
        Record::new().with("stuck", "1").save(&c);
        assert_eq!(run("monitor", &[BAD, rsctmp]), Ok(Status::Success));
        assert_eq!(
            run("stop", &[BAD, rsctmp]).unwrap_err().status,
            Status::ErrGeneric
        );
        assert!(Record::load(&c).is_some(), "kept after a failed stop");
        Record::new().with("started", "1").save(&c);
        assert_eq!(run("stop", &[BAD, rsctmp]), Ok(Status::Success));
        assert!(Record::load(&c).is_none(), "removed after the stop");
        assert_eq!(run("monitor", &[BAD, rsctmp]), Ok(Status::NotRunning));
        Record::new().with("started", "1").save(&c);
        assert_eq!(run("stop", &[rsctmp]), Ok(Status::Success));
        assert!(Record::load(&c).is_none(), "removed after a valid stop");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unadvertised_actions_are_3() {
        assert_eq!(
            run("promote", &[]).unwrap_err().status,
            Status::ErrUnimplemented
        );
        assert_eq!(
            run("bogus", &[]).unwrap_err().status,
            Status::ErrUnimplemented
        );
    }
}
