//! `ocf:rust:drbd`: a promotable clone of one DRBD resource (DRBD 8.4 and 9),
//! replacing `ocf:linbit:drbd` with the same parameter names.
//!
//! * State comes from `drbdsetup events2 --now <res>` (9) or
//!   `drbdsetup sh-status <res>` (8.4), parsed into [`state::ResourceState`].
//! * The promotion score follows linbit's table ([`score::decide`]) and is
//!   set on every monitor, probes included, with a bounded `crm_attribute`.
//! * Every drbdadm/drbdsetup call runs under a deadline taken from the
//!   action's own (LINBIT/drbd#51: a frozen drbdsetup).
//! * Stop returns 0 whenever the resource is really down; with an invalid
//!   configuration it still tries `drbdsetup down` (a failed stop fences).
//! * The monitor forks `drbdsetup` once and `crm_attribute` once; the module
//!   version comes from /proc/drbd (no fork) when the module is loaded.

pub mod score;
pub mod state;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ocf::exec::{self, Cmd, ExecError, Output};
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Status,
};

use score::{Decision, Facts, PeerPrimary, ScoreAction, Scores};
use state::{ResourceState, Role};

pub static DRBD_RESOURCE: ParamSpec = ParamSpec::new(
    "drbd_resource",
    "DRBD resource name",
    "The name of the DRBD resource from the DRBD configuration (drbd.conf). \
     Only the characters [-%+./0-9:=@A-Z_a-z] are allowed.",
)
.required()
.unique()
.check(check_drbd_name);

pub static DRBDCONF: ParamSpec = ParamSpec::new(
    "drbdconf",
    "Path to drbd.conf",
    "Full path to the DRBD configuration file, passed to drbdadm as -c. \
     Only the characters [-%+./0-9:=@A-Z_a-z] are allowed; it must be readable \
     on the node (otherwise the node cannot run the resource: exit 5).",
)
.default("/etc/drbd.conf")
.check(check_drbd_name);

pub static ADJUST_MASTER_SCORE: ParamSpec = ParamSpec::new(
    "adjust_master_score",
    "Promotion scores",
    "Four non-decreasing whole numbers: the promotion score when the local data \
     is only Consistent; when only a peer has UpToDate data; when the local data \
     is UpToDate but a peer's disk state is unknown; and when the data is as good \
     as it gets (UpToDate and every peer known, or Primary). A score of 0 or less \
     removes the score (never promoted here). Default 0 10 1000 10000. Unlike \
     linbit's agent, a bad value is a configuration error, not silently replaced.",
)
.default("0 10 1000 10000")
.check(check_scores);

pub static STOP_OUTDATES_SECONDARY: ParamSpec = ParamSpec::new(
    "stop_outdates_secondary",
    "Outdate a stopped Secondary if a peer is Primary",
    "On stop of a Secondary while another node is Primary (seen by DRBD before the \
     stop, or named in Pacemaker's promoted list of a stop notification), mark the \
     local data Outdated with `drbdadm outdate`, so this node cannot be promoted \
     with stale data later.",
)
.boolean()
.default("false");

pub static IGNORE_MISSING_NOTIFICATIONS: ParamSpec = ParamSpec::new(
    "ignore_missing_notifications",
    "Allow a clone without notify=true",
    "Without notifications a restarted peer is not re-connected until the next \
     adjust, so start, promote and notify refuse to run (exit 6, with \
     the pcs command that fixes it in the exit reason) unless the clone has \
     notify=true or this parameter is true.",
)
.boolean()
.default("false");

pub static WFC_TIMEOUT: ParamSpec = ParamSpec::new(
    "wfc_timeout",
    "Seconds to wait for the peers after start",
    "After start, wait up to this many seconds for the connections to come up \
     (drbdsetup wait-connect-resource), always within the start timeout. 0 = do \
     not wait.",
)
.integer(0, 86400)
.default("5");

pub static REMOVE_MASTER_SCORE_IF_PEER_PRIMARY: ParamSpec = ParamSpec::new(
    "remove_master_score_if_peer_primary",
    "Remove the score while a peer is Primary",
    "false: a Primary peer does not change the score. true: while this node is \
     Secondary and connected to a Primary peer with UpToDate data, remove the \
     promotion score. unexpected: do that only if Pacemaker knows of no Primary \
     (a Primary outside the cluster's control), single-Primary setups only.",
)
.default("false")
.check(check_peer_primary);

pub static FAIL_PROMOTE_EARLY_IF_PEER_PRIMARY: ParamSpec = ParamSpec::new(
    "fail_promote_early_if_peer_primary",
    "Fail promote at once while a peer is Primary",
    "If a promote attempt fails while DRBD sees a Primary peer (and only one \
     Primary is allowed), give up at once instead of retrying until the timeout.",
)
.boolean()
.default("false");

pub static UNFENCE_IF_ALL_UPTODATE: ParamSpec = ParamSpec::new(
    "unfence_if_all_uptodate",
    "Unfence when everything is UpToDate",
    "When this node is Primary and every disk, local and peer, is UpToDate, call \
     `drbdadm unfence-peer` (the crm-unfence-peer handler) from the monitor.",
)
.boolean()
.default("false");

pub static UNFENCE_EXTRA_ARGS: ParamSpec = ParamSpec::new(
    "unfence_extra_args",
    "Extra arguments for the unfence handler",
    "Passed to the unfence-peer handler in the environment variable \
     OCF_RESKEY_unfence_extra_args.",
)
.default("--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match");

pub static REQUIRE_DRBD_MODULE_VERSION_GE: ParamSpec = ParamSpec::new(
    "require_drbd_module_version_ge",
    "Lowest DRBD module version",
    "The DRBD kernel module must be at least this version (x.y.z), otherwise \
     the node cannot run the resource (exit 5).",
)
.default("8.0.0")
.check(check_version);

pub static REQUIRE_DRBD_MODULE_VERSION_LT: ParamSpec = ParamSpec::new(
    "require_drbd_module_version_lt",
    "Version the DRBD module must be below",
    "The DRBD kernel module must be older than this version (x.y.z), otherwise \
     the node cannot run the resource (exit 5).",
)
.default("10.0.0")
.check(check_version);

pub static CONNECT_ONLY_AFTER_PROMOTE: ParamSpec = ParamSpec::new(
    "connect_only_after_promote",
    "Connect only after promotion",
    "Start attaches the disk but leaves the network down; promote connects. For \
     stacked setups where the lower resource must be Primary first.",
)
.boolean()
.default("false");

pub static DRBDADM: ParamSpec = ParamSpec::new(
    "drbdadm",
    "drbdadm program",
    "The drbdadm program: a name looked up on PATH or an absolute path. Tests \
     point it at a DRBD simulator, since Pacemaker runs agents with its own PATH.",
)
.default("drbdadm")
.check(check_program);

pub static DRBDSETUP: ParamSpec = ParamSpec::new(
    "drbdsetup",
    "drbdsetup program",
    "The drbdsetup program: a name looked up on PATH or an absolute path (see drbdadm).",
)
.default("drbdsetup")
.check(check_program);

pub static PARAMS: [ParamSpec; 15] = [
    DRBD_RESOURCE,
    DRBDCONF,
    ADJUST_MASTER_SCORE,
    STOP_OUTDATES_SECONDARY,
    IGNORE_MISSING_NOTIFICATIONS,
    WFC_TIMEOUT,
    REMOVE_MASTER_SCORE_IF_PEER_PRIMARY,
    FAIL_PROMOTE_EARLY_IF_PEER_PRIMARY,
    UNFENCE_IF_ALL_UPTODATE,
    UNFENCE_EXTRA_ARGS,
    REQUIRE_DRBD_MODULE_VERSION_GE,
    REQUIRE_DRBD_MODULE_VERSION_LT,
    CONNECT_ONLY_AFTER_PROMOTE,
    DRBDADM,
    DRBDSETUP,
];

pub static ACTIONS: [ActionSpec; 9] = [
    ActionSpec::new("start", 240),
    ActionSpec::new("stop", 100),
    ActionSpec::new("promote", 90),
    ActionSpec::new("demote", 90),
    ActionSpec::new("notify", 90),
    ActionSpec::new("monitor", 20)
        .interval(20)
        .role("Unpromoted"),
    ActionSpec::new("monitor", 20).interval(10).role("Promoted"),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "drbd",
    shortdesc: "A DRBD resource as a promotable clone (DRBD 8.4 and 9)",
    longdesc: "Manages one DRBD resource as a promotable clone: start attaches and \
        connects it (Secondary), promote makes it Primary, demote Secondary, stop takes \
        it down. Monitor reports 0 (Secondary), 8 (Primary) or 9 (Primary without quorum \
        or without access to UpToDate data), and sets this node's promotion score from \
        the disk states, as ocf:linbit:drbd does. Create it with notify=true, e.g. \
        `pcs resource create d ocf:rust:drbd drbd_resource=r0 promotable notify=true`. \
        Fencing stays with DRBD: configure `fencing resource-and-stonith` with the \
        crm-fence-peer handlers, or DRBD quorum.",
    params: &PARAMS,
    actions: &ACTIONS,
};

fn check_drbd_name(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-%+./:=@_".contains(c))
    {
        Ok(())
    } else {
        Err("must only contain the characters [-%+./0-9:=@A-Z_a-z]".into())
    }
}

fn check_program(v: &str) -> Result<(), String> {
    if v.contains('/') && !v.starts_with('/') {
        return Err("must be a program name or an absolute path".into());
    }
    check_drbd_name(v)
}

fn parse_scores(v: &str) -> Result<Scores, String> {
    let nums: Vec<i64> = v
        .split_whitespace()
        .map(|w| {
            w.parse::<i64>()
                .ok()
                .filter(|n| (0..=1_000_000).contains(n))
        })
        .collect::<Option<_>>()
        .ok_or("must be four whole numbers from 0 to 1000000")?;
    if nums.len() != 4 {
        return Err(format!("must be four numbers, not {}", nums.len()));
    }
    if nums.windows(2).any(|w| w[0] > w[1]) {
        return Err("must not decrease from left to right".into());
    }
    Ok(Scores {
        only_consistent: nums[0],
        only_remote: nums[1],
        local_ok: nums[2],
        best: nums[3],
    })
}

fn check_scores(v: &str) -> Result<(), String> {
    parse_scores(v).map(drop)
}

fn check_version(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        && state::version_code(v).is_some()
    {
        Ok(())
    } else {
        Err("must be a version x.y.z".into())
    }
}

fn parse_peer_primary(v: &str) -> Option<PeerPrimary> {
    if v == "unexpected" {
        return Some(PeerPrimary::RemoveIfUnexpected);
    }
    match ocf::params::parse_bool(v)? {
        true => Some(PeerPrimary::Remove),
        false => Some(PeerPrimary::Keep),
    }
}

fn check_peer_primary(v: &str) -> Result<(), String> {
    parse_peer_primary(v)
        .map(drop)
        .ok_or_else(|| "must be true, false or unexpected".into())
}

/// The validated parameters.
#[derive(Clone, Debug)]
pub struct Config {
    pub resource: String,
    pub drbdconf: String,
    pub scores: Scores,
    pub stop_outdates_secondary: bool,
    pub ignore_missing_notifications: bool,
    pub wfc_timeout: Duration,
    pub peer_primary: PeerPrimary,
    pub fail_promote_early: bool,
    pub unfence_if_all_uptodate: bool,
    pub unfence_extra_args: String,
    pub version_ge: u32,
    pub version_lt: u32,
    pub connect_only_after_promote: bool,
    pub drbdadm: String,
    pub drbdsetup: String,
}

/// Environment variable (a test hook, documented in docs/agents/drbd.md):
/// read the module version from this file instead of /proc/drbd.
pub const PROC_DRBD_HOOK: &str = "OCF_RS_DRBD_PROC";

/// The longest one drbdadm/drbdsetup call may take, whatever the budget.
const CALL_CAP: Duration = Duration::from_secs(30);
/// What a state read may take: a healthy drbdsetup answers in milliseconds.
const READ_CAP: Duration = Duration::from_secs(10);
/// Time kept back for the score update after reading the state.
const SCORE_RESERVE: Duration = Duration::from_secs(2);
/// Pause before re-reading the state after a command that worked...
const SETTLE: Duration = Duration::from_millis(50);
/// ... and after one that failed.
const RETRY: Duration = Duration::from_secs(1);
/// linbit's anti-loop: a failed promote returns no sooner than this.
const PROMOTE_MIN_FAIL: Duration = Duration::from_secs(15);

pub struct Drbd;

impl ocf::Agent for Drbd {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
        let s = |spec: &ParamSpec| p.string(spec).unwrap_or_default().to_string();
        let version = |spec: &ParamSpec| {
            state::version_code(&s(spec))
                .ok_or_else(|| OcfError::configured(format!("{} is not a version", spec.name)))
        };
        Ok(Config {
            resource: s(&DRBD_RESOURCE),
            drbdconf: s(&DRBDCONF),
            scores: parse_scores(&s(&ADJUST_MASTER_SCORE)).map_err(OcfError::configured)?,
            stop_outdates_secondary: p.boolean(&STOP_OUTDATES_SECONDARY),
            ignore_missing_notifications: p.boolean(&IGNORE_MISSING_NOTIFICATIONS),
            wfc_timeout: Duration::from_secs(p.integer(&WFC_TIMEOUT).unwrap_or(5).max(0) as u64),
            peer_primary: parse_peer_primary(&s(&REMOVE_MASTER_SCORE_IF_PEER_PRIMARY))
                .unwrap_or(PeerPrimary::Keep),
            fail_promote_early: p.boolean(&FAIL_PROMOTE_EARLY_IF_PEER_PRIMARY),
            unfence_if_all_uptodate: p.boolean(&UNFENCE_IF_ALL_UPTODATE),
            unfence_extra_args: s(&UNFENCE_EXTRA_ARGS),
            version_ge: version(&REQUIRE_DRBD_MODULE_VERSION_GE)?,
            version_lt: version(&REQUIRE_DRBD_MODULE_VERSION_LT)?,
            connect_only_after_promote: p.boolean(&CONNECT_ONLY_AFTER_PROMOTE),
            drbdadm: s(&DRBDADM),
            drbdsetup: s(&DRBDSETUP),
        })
    }

    /// Cheap checks on every action: the tools exist, drbd.conf is readable
    /// (not for monitor: the kernel's state needs no configuration, and a
    /// running resource must not be reported stopped because the file went
    /// away). validate-all at level 10 also checks the module and the resource.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        for tool in [&cfg.drbdadm, &cfg.drbdsetup] {
            if exec::which(tool).is_none() {
                return Err(OcfError::installed(format!("{tool} is not installed")));
            }
        }
        if ctx.action != "monitor" && std::fs::File::open(&cfg.drbdconf).is_err() {
            return Err(OcfError::installed(format!(
                "configuration file {} does not exist or is not readable",
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

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        check_clone_meta(cfg, ctx)?;
        let version = ensure_module(cfg, dl)?;
        check_version_bounds(cfg, version)?;
        let devices = resource_in_config(cfg, dl)?;
        check_two_primaries(cfg, ctx, dl)?;
        let v9 = version >= 0x090000;
        let mut attach_failures = 0;
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
        wait_for_devices(&devices, &dl.keep_back(SCORE_RESERVE))?;
        ocf::info!("{} started: {}", cfg.resource, describe(&st));
        update_score(cfg, ctx, &st, dl);
        Ok(())
    }

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let Some(version) = module_version(cfg, dl) else {
            ocf::info!("the DRBD module is not loaded: {} is stopped", cfg.resource);
            remove_score(ctx, dl);
            return Ok(());
        };
        let v9 = version >= 0x090000;
        let mut before: Option<ResourceState> = None;
        let mut last_error = String::new();
        let mut first = true;
        let mut pause = SETTLE;
        loop {
            if !first && !dl.sleep(std::mem::replace(&mut pause, SETTLE)) {
                return Err(OcfError::generic(format!(
                    "{} is still up at the stop timeout: {last_error}",
                    cfg.resource
                )));
            }
            first = false;
            let st = match read_state(cfg, v9, &dl.share(0.5)) {
                Ok(st) => st,
                Err(e) => {
                    // Cannot see it: try to take it down anyway.
                    last_error = e.reason;
                    pause = RETRY;
                    if let Err(e) = adm(cfg, &["down", &cfg.resource], dl) {
                        last_error = format!("{last_error}; {e}");
                        pause = RETRY;
                    }
                    continue;
                }
            };
            if !st.configured {
                // Deconfigured but maybe not yet removed: down it anyway.
                let _ = adm(
                    cfg,
                    &["down", &cfg.resource],
                    &dl.cap(Duration::from_secs(10)),
                );
                break;
            }
            if st.role == Role::Primary {
                ocf::warn!("{} is still Primary, demoting it", cfg.resource);
                if let Err(e) = adm(cfg, &["secondary", &cfg.resource], dl) {
                    last_error = e.to_string();
                    pause = RETRY;
                    continue;
                }
            }
            before.get_or_insert(st);
            if let Err(e) = adm(cfg, &["down", &cfg.resource], dl) {
                last_error = e.to_string();
                pause = RETRY;
            }
        }
        if let Some(st) = before {
            maybe_outdate_self(cfg, ctx, &st, dl);
        }
        remove_score(ctx, dl);
        ocf::info!("{} stopped", cfg.resource);
        Ok(())
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let Some(version) = module_version(cfg, dl) else {
            if !ctx.is_probe() {
                remove_score(ctx, dl);
            }
            return Err(OcfError::not_running("the DRBD module is not loaded"));
        };
        let st = read_state(cfg, version >= 0x090000, &dl.keep_back(SCORE_RESERVE))?;
        if !st.configured {
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
            return Err(OcfError::new(
                Status::FailedPromoted,
                format!("{} is Primary without quorum", cfg.resource),
            ));
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

    fn promote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
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
    fn demote(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
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

    fn notify(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
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

    fn stop_unconfigured(
        cfg: Option<&Config>,
        _rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        let resource = cfg
            .map(|c| c.resource.clone())
            .or_else(|| ctx.params.get(DRBD_RESOURCE.name).cloned())
            .filter(|r| !r.is_empty() && check_drbd_name(r).is_ok());
        let Some(resource) = resource else {
            ocf::info!(
                "stop: {}; no valid resource name, so nothing of ours can be running",
                why.reason
            );
            return Ok(());
        };
        let drbdsetup = cfg
            .map(|c| c.drbdsetup.clone())
            .or_else(|| ctx.params.get(DRBDSETUP.name).cloned())
            .filter(|p| check_program(p).is_ok())
            .unwrap_or_else(|| "drbdsetup".into());
        if exec::which(&drbdsetup).is_none() {
            ocf::info!(
                "stop: {}; {drbdsetup} is not installed, so DRBD is not running",
                why.reason
            );
            return Ok(());
        }
        ocf::err!(
            "stop with an invalid setup ({}): trying '{drbdsetup} down {resource}' directly to avoid fencing",
            why.reason
        );
        let cmd = Cmd::new(&drbdsetup).args(["down", resource.as_str()]);
        match exec::run(&cmd, &dl.cap(CALL_CAP)) {
            Ok(out) if out.success() => {
                ocf::err!("{resource} is down; fencing of this node avoided. Fix the setup!");
                Ok(())
            }
            Ok(out) if !proc_drbd_exists() && out.code == Some(20) => {
                ocf::info!("the DRBD module is not loaded: {resource} is stopped");
                Ok(())
            }
            Ok(out) => Err(OcfError::generic(format!(
                "stop with an invalid setup ({}), and '{drbdsetup} down {resource}' failed: {}",
                why.reason,
                out.describe()
            ))),
            Err(e) => Err(OcfError::generic(format!(
                "stop with an invalid setup ({}), and {e}",
                why.reason
            ))),
        }
    }

    // PLACEHOLDER(issue 13): the old driver rule; must become truthful.
    fn probe_unconfigured(
        _cfg: Option<&Config>,
        _rec: Option<&ocf::Record>,
        _ctx: &Context,
        _why: &OcfError,
        _dl: &Deadline,
    ) -> OcfResult<Status> {
        Ok(Status::NotRunning)
    }
}

// ------------------------------------------------------------------ tools

/// Why a drbdadm/drbdsetup call failed, with DRBD's exit code when it ran.
#[derive(Debug)]
pub struct ToolError {
    pub code: Option<i32>,
    pub message: String,
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn run_tool(cmd: Cmd, dl: &Deadline) -> Result<Output, ToolError> {
    let shown = cmd.to_string();
    match exec::run(&cmd, &dl.cap(CALL_CAP)) {
        Ok(out) if out.success() => Ok(out),
        Ok(out) => Err(ToolError {
            code: out.code,
            message: format!("{shown}: {}", out.describe()),
        }),
        Err(ExecError::Timeout { elapsed, .. }) if elapsed < Duration::from_millis(10) => {
            Err(ToolError {
                code: None,
                message: format!("{shown}: not run, the action's time is used up"),
            })
        }
        Err(e @ ExecError::Timeout { .. }) => Err(ToolError {
            code: None,
            message: format!("{e} (a hung DRBD tool)"),
        }),
        Err(e) => Err(ToolError {
            code: None,
            message: e.to_string(),
        }),
    }
}

/// `drbdadm -c <drbdconf> <args>`, bounded.
fn adm(cfg: &Config, args: &[&str], dl: &Deadline) -> Result<Output, ToolError> {
    run_tool(
        Cmd::new(&cfg.drbdadm)
            .args(["-c", cfg.drbdconf.as_str()])
            .args(args),
        dl,
    )
}

/// `drbdsetup <args>`, bounded.
fn setup(cfg: &Config, args: &[&str], dl: &Deadline) -> Result<Output, ToolError> {
    run_tool(Cmd::new(&cfg.drbdsetup).args(args), dl)
}

fn proc_drbd_path() -> PathBuf {
    std::env::var_os(PROC_DRBD_HOOK)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/drbd"))
}

fn proc_drbd_exists() -> bool {
    proc_drbd_path().exists() || Path::new("/sys/module/drbd").exists()
}

/// The loaded module's version code, `None` when it is not loaded. Read from
/// /proc/drbd (or /sys/module/drbd/version) without a fork; only when
/// neither exists, `drbdadm --version` decides (it knows other ways).
fn module_version(cfg: &Config, dl: &Deadline) -> Option<u32> {
    if let Ok(text) = std::fs::read_to_string(proc_drbd_path())
        && let Some(v) = state::version_from_proc(&text)
    {
        return Some(v);
    }
    if let Ok(v) = std::fs::read_to_string("/sys/module/drbd/version")
        && let Some(code) = state::version_code(v.trim())
    {
        return Some(code);
    }
    let out = run_tool(Cmd::new(&cfg.drbdadm).arg("--version"), &dl.cap(READ_CAP));
    match out {
        Ok(o) => state::version_from_drbdadm(&o.stdout_str()),
        Err(e) => {
            ocf::debug!("drbdadm --version: {e}");
            None
        }
    }
}

/// Load the module on start if needed (linbit: `modprobe -s drbd`).
fn ensure_module(cfg: &Config, dl: &Deadline) -> OcfResult<u32> {
    if let Some(v) = module_version(cfg, dl) {
        return Ok(v);
    }
    let parms = adm(cfg, &["sh-mod-parms"], dl)
        .map(|o| o.stdout_str())
        .unwrap_or_default();
    let mut cmd = Cmd::new("modprobe").args(["-s", "drbd"]);
    for p in parms.split_whitespace() {
        cmd = cmd.arg(p);
    }
    run_tool(cmd, dl)
        .map_err(|e| OcfError::installed(format!("cannot load the drbd module: {e}")))?;
    module_version(cfg, dl).ok_or_else(|| {
        OcfError::installed("the drbd module does not report a version after modprobe")
    })
}

fn check_version_bounds(cfg: &Config, v: u32) -> OcfResult<()> {
    let show = |c: u32| format!("{}.{}.{}", c >> 16, (c >> 8) & 0xff, c & 0xff);
    if v < cfg.version_ge || v >= cfg.version_lt {
        return Err(OcfError::installed(format!(
            "DRBD kernel module {} is outside the required range [{}, {})",
            show(v),
            show(cfg.version_ge),
            show(cfg.version_lt)
        )));
    }
    Ok(())
}

/// Is the resource defined for this host? (`drbdadm sh-dev`; node-local: 5.)
/// Its device paths (one per volume) on success.
fn resource_in_config(cfg: &Config, dl: &Deadline) -> OcfResult<Vec<PathBuf>> {
    adm(cfg, &["sh-dev", &cfg.resource], dl)
        .map(|o| {
            o.stdout_str()
                .split_whitespace()
                .filter(|w| w.starts_with('/'))
                .map(PathBuf::from)
                .collect()
        })
        .map_err(|e| {
            OcfError::installed(format!(
                "DRBD resource {} is not defined for this node in {}: {e}",
                cfg.resource, cfg.drbdconf
            ))
        })
}

/// Wait (bounded) until udev has created every device node, so resources
/// ordered after this one (a Filesystem on /dev/drbd0) find it.
fn wait_for_devices(devices: &[PathBuf], dl: &Deadline) -> OcfResult<()> {
    use std::os::unix::fs::FileTypeExt;
    let is_block =
        |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device());
    let missing = || devices.iter().find(|p| !is_block(p));
    if dl
        .poll(Duration::from_millis(100), || {
            missing().is_none().then_some(())
        })
        .is_some()
    {
        return Ok(());
    }
    Err(OcfError::generic(format!(
        "device {} did not appear (udev) before the start timeout",
        missing()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )))
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
fn check_clone_meta(cfg: &Config, ctx: &Context) -> OcfResult<()> {
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

/// The resource's state, bounded by `dl` (and [`READ_CAP`]).
fn read_state(cfg: &Config, v9: bool, dl: &Deadline) -> OcfResult<ResourceState> {
    let dl = dl.cap(READ_CAP);
    let args: &[&str] = if v9 {
        &["events2", "--now", &cfg.resource]
    } else {
        &["sh-status", &cfg.resource]
    };
    match setup(cfg, args, &dl) {
        Ok(out) => {
            let text = out.stdout_str();
            Ok(if v9 {
                state::parse_events2(&text, &cfg.resource)
            } else {
                state::parse_sh_status(&text)
            })
        }
        // 10: "No such resource" (also 8.4's sh-status on a down resource).
        Err(e) if e.code == Some(10) => Ok(ResourceState::unconfigured()),
        Err(e) => Err(OcfError::generic(format!(
            "cannot read the state of {}: {e}",
            cfg.resource
        ))),
    }
}

/// Create the resource and attach its disks, network still down.
fn attach(cfg: &Config, v9: bool, dl: &Deadline) -> Result<(), ToolError> {
    if v9 {
        adm(cfg, &["adjust", "--skip-net", &cfg.resource], dl).map(drop)
    } else {
        adm(cfg, &["new-resource", &cfg.resource], dl)?;
        adm(cfg, &["new-minor", &cfg.resource], dl)?;
        adm(cfg, &["attach", &cfg.resource], dl).map(drop)
    }
}

/// Bring the network up and wait (bounded) for the peers.
fn connect(cfg: &Config, st: &ResourceState, v9: bool, dl: &Deadline) {
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

/// After a stop: mark our data Outdated if a peer is Primary (opt-in).
fn maybe_outdate_self(cfg: &Config, ctx: &Context, before: &ResourceState, dl: &Deadline) {
    if !cfg.stop_outdates_secondary || before.role == Role::Primary {
        return;
    }
    let me = ctx.on_node();
    let drbd_says = before.peers.iter().any(|p| p.role == Role::Primary);
    let pacemaker_says = ctx.notification().is_some_and(|n| {
        let stopping = n.unames(ocf::env::NotifyList::Stop);
        n.unames(ocf::env::NotifyList::Promoted)
            .into_iter()
            .any(|h| Some(h) != me && !stopping.contains(&h))
    });
    if !(drbd_says || pacemaker_says) {
        return;
    }
    ocf::info!("outdating {}: another node is Primary", cfg.resource);
    if let Err(e) = adm(
        cfg,
        &["outdate", &cfg.resource],
        &dl.cap(Duration::from_secs(10)),
    ) {
        ocf::warn!("outdate: {e}");
    }
}

// ------------------------------------------------------------ the score

/// Apply the score rules to `st`: bounded and best effort.
fn update_score(cfg: &Config, ctx: &Context, st: &ResourceState, dl: &Deadline) {
    let promoted_max = ctx.clone_info().and_then(|c| c.promoted_max).unwrap_or(1);
    let mut knows = || pacemaker_knows_a_primary(ctx, dl);
    let d: Decision = score::decide(st, &cfg.scores, cfg.peer_primary, promoted_max, &mut knows);
    ocf::debug!("score: {:?} ({})", d.action, d.rule);
    let result = match d.action {
        ScoreAction::Set(n) => ocf::cluster::set_promotion_score(ctx, n, dl),
        ScoreAction::Remove => ocf::cluster::delete_promotion_score(ctx, dl),
        ScoreAction::Unchanged => Ok(()),
    };
    if let Err(e) = result {
        ocf::warn!("cannot update the promotion score ({}): {e}", d.rule);
    }
    if d.all_up_to_date && cfg.unfence_if_all_uptodate {
        let cmd = Cmd::new(&cfg.drbdadm)
            .args([
                "-c",
                cfg.drbdconf.as_str(),
                "unfence-peer",
                cfg.resource.as_str(),
            ])
            .env("OCF_RESKEY_unfence_extra_args", &cfg.unfence_extra_args);
        if let Err(e) = run_tool(cmd, &dl.cap(Duration::from_secs(10))) {
            ocf::warn!("unfence-peer: {e}");
        }
    }
}

fn remove_score(ctx: &Context, dl: &Deadline) {
    if let Err(e) = ocf::cluster::delete_promotion_score(ctx, dl) {
        ocf::warn!("cannot remove the promotion score: {e}");
    }
}

/// Does Pacemaker report a promoted instance of this clone on another node?
/// `crm_resource --locate --output-as=xml`, never its human text (0a014f29).
fn pacemaker_knows_a_primary(ctx: &Context, dl: &Deadline) -> bool {
    let cmd = Cmd::new("crm_resource").args([
        "--output-as=xml",
        "--resource",
        ctx.instance_base(),
        "--locate",
    ]);
    match exec::run(&cmd, &dl.cap(Duration::from_secs(5))) {
        Ok(out) if out.success() => promoted_elsewhere(&out.stdout_str(), ctx.on_node()),
        Ok(out) => {
            ocf::warn!("crm_resource --locate: {}", out.describe());
            true // unknown: do not take the score away
        }
        Err(e) => {
            ocf::warn!("crm_resource --locate: {e}");
            true
        }
    }
}

/// Does a `crm_resource --locate --output-as=xml` answer name a promoted
/// instance on a node other than `me`? Pacemaker 2.1.5 writes
/// `<node state="promoted">node1</node>` (seen in tests/cluster_drbd.rs);
/// a `name=`/`role="Promoted"` (or legacy `Master`) form is read as well.
pub fn promoted_elsewhere(xml: &str, me: Option<&str>) -> bool {
    let mut rest = xml;
    while let Some(at) = rest.find("<node") {
        rest = &rest[at + 5..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        let lower = tag.to_ascii_lowercase();
        let promoted = lower.contains("\"promoted\"") || lower.contains("\"master\"");
        let name = ocf::cluster::attribute(tag, "name").or_else(|| {
            let body = &rest[end + 1..];
            body.find('<').map(|e| body[..e].trim().to_string())
        });
        if promoted && name.as_deref() != me {
            return true;
        }
    }
    false
}

/// One line for logs: role, disks, peers.
fn describe(st: &ResourceState) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::Agent;

    fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "drbd",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = ctx("start", vars);
        let p = Params::parse(&PARAMS, &c.params)?;
        Drbd::configure(&p, &c)
    }

    const RES: (&str, &str) = ("OCF_RESKEY_drbd_resource", "r0");
    const CLONE: (&str, &str) = ("OCF_RESKEY_CRM_meta_clone_max", "2");

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
    }

    #[test]
    fn defaults_are_linbits() {
        let c = configure(&[RES]).unwrap();
        assert_eq!(c.scores, Scores::default());
        assert_eq!(c.drbdconf, "/etc/drbd.conf");
        assert_eq!(c.wfc_timeout, Duration::from_secs(5));
        assert_eq!(c.peer_primary, PeerPrimary::Keep);
        assert_eq!((c.version_ge, c.version_lt), (0x080000, 0x0a0000));
        assert_eq!(
            (c.drbdadm.as_str(), c.drbdsetup.as_str()),
            ("drbdadm", "drbdsetup")
        );
    }

    #[test]
    fn bad_values_are_configuration_errors() {
        for (k, v) in [
            ("OCF_RESKEY_drbd_resource", "r0;reboot"),
            ("OCF_RESKEY_drbd_resource", "r 0"),
            ("OCF_RESKEY_drbdconf", "/etc/drbd conf"),
            ("OCF_RESKEY_adjust_master_score", "0 10 1000"),
            ("OCF_RESKEY_adjust_master_score", "0 10 5 10000"),
            ("OCF_RESKEY_adjust_master_score", "0 10 x 10000"),
            ("OCF_RESKEY_wfc_timeout", "soon"),
            (
                "OCF_RESKEY_remove_master_score_if_peer_primary",
                "sometimes",
            ),
            ("OCF_RESKEY_require_drbd_module_version_ge", "9.1"),
            ("OCF_RESKEY_require_drbd_module_version_lt", "10.0.x"),
            ("OCF_RESKEY_drbdadm", "bin/drbdadm"),
            ("OCF_RESKEY_stop_outdates_secondary", "perhaps"),
        ] {
            let e = configure(&[RES, (k, v)]).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{k}={v}");
        }
        assert_eq!(
            configure(&[]).unwrap_err().status,
            Status::ErrConfigured,
            "drbd_resource is required"
        );
        let c = configure(&[
            RES,
            ("OCF_RESKEY_adjust_master_score", "1 2 3 4"),
            (
                "OCF_RESKEY_remove_master_score_if_peer_primary",
                "unexpected",
            ),
            ("OCF_RESKEY_wfc_timeout", "0"),
        ])
        .unwrap();
        assert_eq!(c.scores.best, 4);
        assert_eq!(c.peer_primary, PeerPrimary::RemoveIfUnexpected);
        assert!(c.wfc_timeout.is_zero());
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

    #[test]
    fn locate_xml() {
        let xml = r#"<pacemaker-result api-version="2.25" request="crm_resource --locate">
  <nodes resource="d-clone" threshold="5">
    <node name="node1" id="1" cached="true" role="Unpromoted"/>
    <node name="node2" id="2" cached="true" role="Promoted"/>
  </nodes>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        assert!(promoted_elsewhere(xml, Some("node1")));
        assert!(!promoted_elsewhere(xml, Some("node2")));
        let text_form = r#"<nodes resource="d"><node state="promoted">node2</node></nodes>"#;
        assert!(promoted_elsewhere(text_form, Some("node1")));
        assert!(!promoted_elsewhere("<nodes/>", Some("node1")));
    }

    #[test]
    fn version_bounds() {
        let cfg =
            configure(&[RES, ("OCF_RESKEY_require_drbd_module_version_ge", "9.0.0")]).unwrap();
        assert!(check_version_bounds(&cfg, 0x090208).is_ok());
        let e = check_version_bounds(&cfg, 0x08040b).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        assert!(e.reason.contains("8.4.11"), "{}", e.reason);
        assert!(check_version_bounds(&cfg, 0x0a0000).is_err());
    }
}
