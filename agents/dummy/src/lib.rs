//! `ocf:rust:dummy`: the equivalent of `ocf:pacemaker:Dummy`, and the
//! reference every other agent copies its shape from:
//!
//! 1. a parameter table (`PARAMS`) and an action table (`ACTIONS`);
//! 2. a `Config` built from validated parameters, syntax only;
//! 3. an `Agent` impl: environment check, then start/stop/monitor/...
//!
//! The resource is a state file: present means running. `op_sleep` makes
//! every action sleep first, ignoring its deadline on purpose, so tests and
//! users can watch what a timeout does (our watchdog ends the action before
//! Pacemaker's SIGKILL, with an exit reason naming the phase).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::files::TrustedDir;
use ocf::params::checks;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Record,
    Status,
};

pub static STATE: ParamSpec = ParamSpec::new(
    "state",
    "State file",
    "Location of the state file whose presence means the resource is running. \
     Default: $HA_RSCTMP/dummy-<instance>.state, with HA_RSCTMP=/run/resource-agents \
     and the :N suffix of an anonymous clone instance left out.",
)
.unique()
.check(checks::absolute_path);

pub static FAKE: ParamSpec = ParamSpec::new(
    "fake",
    "Fake attribute",
    "A parameter that does nothing; change it to see how the cluster reacts to a \
     parameter change (a restart, since this agent has no reload-agent).",
)
.default("dummy");

pub static OP_SLEEP: ParamSpec = ParamSpec::new(
    "op_sleep",
    "Seconds to sleep in each action",
    "Number of seconds (decimals allowed) every action sleeps before doing its work. \
     The sleep ignores the action's deadline on purpose: it shows how a timeout is \
     handled (the action ends with exit code 1 and a reason naming the phase \
     'op_sleep' just before the operation timeout).",
)
.default("0")
.check(check_seconds);

pub static PARAMS: [ParamSpec; 3] = [STATE, FAKE, OP_SLEEP];

pub static ACTIONS: [ActionSpec; 8] = [
    ActionSpec::new("start", 20),
    ActionSpec::new("stop", 20),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("monitor", 20).interval(60).depth(10),
    ActionSpec::new("migrate_to", 20),
    ActionSpec::new("migrate_from", 20),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "dummy",
    shortdesc: "Example stateless resource agent (a state file)",
    longdesc: "An agent that does nothing but remember whether it runs, in a state file. \
        It is the equivalent of ocf:pacemaker:Dummy, for testing a cluster and as the \
        reference shape of every ocf-rs agent. Monitor depth 10 also checks that the \
        state file names this resource.",
    params: &PARAMS,
    actions: &ACTIONS,
};

fn check_seconds(v: &str) -> Result<(), String> {
    match v.trim().parse::<f64>() {
        Ok(s) if (0.0..=86400.0).contains(&s) => Ok(()),
        _ => Err("must be a number of seconds from 0 to 86400".into()),
    }
}

/// The dummy resource: where its state lives and how long each action naps.
#[derive(Clone, Debug)]
pub struct Config {
    pub state: PathBuf,
    /// True when `state` is the default under HA_RSCTMP (we may create the dir).
    pub default_state: bool,
    pub op_sleep: Duration,
}

pub struct Dummy;

impl ocf::Agent for Dummy {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        let op_sleep = p
            .string(&OP_SLEEP)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let (state, default_state) = match p.string(&STATE) {
            Some(s) => (PathBuf::from(s), false),
            None => (default_state_path(ctx), true),
        };
        ocf::debug!("fake={}", p.string(&FAKE).unwrap_or(""));
        Ok(Config {
            state,
            default_state,
            op_sleep: Duration::from_secs_f64(op_sleep),
        })
    }

    fn check_environment(cfg: &Config, _ctx: &Context) -> OcfResult<()> {
        if cfg.default_state {
            return Ok(()); // HA_RSCTMP is created on start if it is missing
        }
        let dir = cfg.state.parent().unwrap_or(Path::new("/"));
        if !dir.is_dir() {
            return Err(OcfError::args(format!(
                "directory {} of the state file does not exist",
                dir.display()
            )));
        }
        Ok(())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        op_sleep(cfg);
        if cfg.default_state
            && let Some(parent) = cfg.state.parent().and_then(Path::parent)
        {
            fs::create_dir_all(parent).map_err(|e| {
                OcfError::generic(format!("cannot create {}: {e}", parent.display()))
            })?;
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

    fn stop(cfg: &Config, ctx: &Context, _dl: &Deadline) -> OcfResult<()> {
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
        dir.remove(&name).map_err(|e| {
            OcfError::generic(format!("cannot remove {}: {e}", cfg.state.display()))
        })?;
        if let State::Ours(_) = inspect(&dir, &name) {
            return Err(OcfError::generic(format!(
                "state file {} is still there",
                cfg.state.display()
            )));
        }
        ocf::info!("{} stopped", ctx.instance);
        Ok(())
    }

    fn monitor(cfg: &Config, ctx: &Context, _dl: &Deadline) -> OcfResult<Status> {
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

    /// The state file is the resource: remove the one start recorded (or
    /// the configured one, when only the environment check failed).
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        let Some(state) = state_file(cfg, rec) else {
            ocf::info!("stop: {}; nothing was started here", why.reason);
            return Ok(());
        };
        ocf::warn!(
            "stop: {}; removing the state file {} start made",
            why.reason,
            state.display()
        );
        let cfg = Config {
            state,
            default_state: false,
            op_sleep: Duration::ZERO,
        };
        Self::stop(&cfg, ctx, dl)
    }

    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&Record>,
        _ctx: &Context,
        _why: &OcfError,
        _dl: &Deadline,
    ) -> OcfResult<Status> {
        let Some(state) = state_file(cfg, rec) else {
            return Ok(Status::NotRunning);
        };
        let cfg = Config {
            state,
            default_state: false,
            op_sleep: Duration::ZERO,
        };
        Ok(match state_of(&cfg) {
            State::Ours(_) => Status::Success,
            _ => Status::NotRunning,
        })
    }

    fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        ocf::info!(
            "Migrating {} to {}.",
            ctx.instance,
            ctx.migrate_target().unwrap_or("(no target given)")
        );
        Self::stop(cfg, ctx, dl)
    }

    fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        ocf::info!(
            "Migrating {} from {}.",
            ctx.instance,
            ctx.migrate_source().unwrap_or("(no source given)")
        );
        Self::start(cfg, ctx, dl)
    }
}

/// `$HA_RSCTMP/dummy-<instance>.state`; an anonymous clone's instances share
/// one name per node, so the `:N` suffix is dropped unless globally unique.
fn default_state_path(ctx: &Context) -> PathBuf {
    let unique = ctx.clone_info().is_some_and(|c| c.globally_unique);
    let name = if unique {
        ctx.instance.as_str()
    } else {
        ctx.instance_base()
    };
    let safe: String = name
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    ctx.rsc_tmp.join(format!("dummy-{safe}.state"))
}

/// The state file of an instance whose parameters do not validate: the one
/// start recorded (what it really made), else the configured one.
fn state_file(cfg: Option<&Config>, rec: Option<&Record>) -> Option<PathBuf> {
    rec.and_then(|r| r.get_os("state"))
        .map(PathBuf::from)
        .or_else(|| cfg.map(|c| c.state.clone()))
}

/// The state file's mode, set when it is created.
const STATE_MODE: u32 = 0o644;
/// A state file holds an instance name; anything longer is not ours.
const STATE_LIMIT: u64 = 4096;

/// What is at the state file's place.
enum State {
    /// A regular file of ours (root's), with its (bounded) content.
    Ours(Vec<u8>),
    Absent,
    /// Something start never makes: a link, a FIFO, a directory, a device,
    /// another user's file. Never followed, opened for writing or read from
    /// in a way that could block.
    Foreign(String),
}

/// The state file's directory, held by a descriptor, and the file's name.
/// The default directory (HA_RSCTMP) must be ours: root's, writable by
/// nobody else (created on start). A `state` the user chose may sit in a
/// directory others write to (/tmp): its last component is never a link,
/// and every file in it is opened without following links and checked, so
/// those users can remove our file (stop the dummy), never make us write,
/// read or remove anything else.
fn state_dir(cfg: &Config, create: bool) -> std::io::Result<(TrustedDir, String)> {
    let bad = |what: &str| {
        std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{} {what}", cfg.state.display()),
        )
    };
    let name = cfg
        .state
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("does not end in a file name"))?
        .to_string();
    let parent = cfg.state.parent().unwrap_or(Path::new("/"));
    let parent = if parent.as_os_str().is_empty() {
        Path::new("/")
    } else {
        parent
    };
    let dir = if cfg.default_state {
        TrustedDir::open(parent, create.then_some(0o755))?
    } else {
        TrustedDir::open_any(parent)?
    };
    Ok((dir, name))
}

/// Look at `name` in `dir` without following a link or blocking on a FIFO.
fn inspect(dir: &TrustedDir, name: &str) -> State {
    match dir.read(name, STATE_LIMIT) {
        Ok(content) => State::Ours(content),
        Err(e) if e.kind() == ErrorKind::NotFound => State::Absent,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            State::Foreign("it is a symbolic link".into())
        }
        Err(e) => State::Foreign(e.to_string()),
    }
}

/// [`inspect`] from the configured path; a missing directory means absent.
fn state_of(cfg: &Config) -> State {
    match state_dir(cfg, false) {
        Ok((dir, name)) => inspect(&dir, &name),
        Err(e) if e.kind() == ErrorKind::NotFound => State::Absent,
        Err(e) => State::Foreign(format!("its directory: {e}")),
    }
}

fn op_sleep(cfg: &Config) {
    if !cfg.op_sleep.is_zero() {
        ocf::deadline::set_phase("op_sleep");
        std::thread::sleep(cfg.op_sleep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::Agent;

    fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "dummy",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = ctx("start", vars);
        let p = Params::parse(&PARAMS, &c.params)?;
        Dummy::configure(&p, &c)
    }

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
    }

    #[test]
    fn default_state_path_follows_ha_rsctmp_and_clones() {
        let cfg = configure(&[("OCF_RESOURCE_INSTANCE", "d1:2"), ("HA_RSCTMP", "/tmp/r")]).unwrap();
        assert_eq!(cfg.state, PathBuf::from("/tmp/r/dummy-d1.state"));
        assert!(cfg.default_state);
        let unique = configure(&[
            ("OCF_RESOURCE_INSTANCE", "d1:2"),
            ("HA_RSCTMP", "/tmp/r"),
            ("OCF_RESKEY_CRM_meta_clone", "2"),
            ("OCF_RESKEY_CRM_meta_globally_unique", "true"),
        ])
        .unwrap();
        assert_eq!(unique.state, PathBuf::from("/tmp/r/dummy-d1:2.state"));
    }

    #[test]
    fn bad_values_are_rejected() {
        for (k, v) in [
            ("OCF_RESKEY_state", "relative/x"),
            ("OCF_RESKEY_op_sleep", "-1"),
            ("OCF_RESKEY_op_sleep", "soon"),
        ] {
            assert_eq!(
                configure(&[(k, v)]).unwrap_err().status,
                Status::ErrConfigured,
                "{k}={v}"
            );
        }
        assert_eq!(
            configure(&[("OCF_RESKEY_op_sleep", "0.25")])
                .unwrap()
                .op_sleep,
            Duration::from_millis(250)
        );
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
            Dummy::monitor(&cfg, &c, &dl).unwrap_err().status,
            Status::NotRunning
        );
        Dummy::start(&cfg, &c, &dl).unwrap();
        Dummy::start(&cfg, &c, &dl).unwrap();
        assert_eq!(Dummy::monitor(&cfg, &c, &dl), Ok(Status::Success));
        let deep = ctx("monitor", &[vars[0], vars[1], ("OCF_CHECK_LEVEL", "10")]);
        assert_eq!(Dummy::monitor(&cfg, &deep, &dl), Ok(Status::Success));
        fs::write(&state, "someone-else\n").unwrap();
        assert_eq!(
            Dummy::monitor(&cfg, &deep, &dl).unwrap_err().status,
            Status::ErrGeneric
        );
        assert_eq!(
            Dummy::monitor(&cfg, &c, &dl),
            Ok(Status::Success),
            "depth 0 only checks presence"
        );
        Dummy::stop(&cfg, &c, &dl).unwrap();
        Dummy::stop(&cfg, &c, &dl).unwrap();
        assert!(!state.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
