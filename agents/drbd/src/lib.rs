//! `ocf:rust:drbd`: a promotable clone of one DRBD resource (DRBD 8.4 and 9),
//! replacing `ocf:linbit:drbd` with the same parameter names.
//!
//! * State comes from `drbdsetup events2 --now <res>` (9) or
//!   `drbdsetup sh-status <res>` (8.4), parsed into [`state::ResourceState`].
//! * The promotion score follows linbit's table ([`score::decide`]) and is
//!   set on every monitor, probes included, with a bounded `crm_attribute`.
//! * Every drbdadm/drbdsetup call runs under a deadline taken from the
//!   action's own (LINBIT/drbd#51: a frozen drbdsetup).
//! * Start records (`ocf::Record`) the resource, its minors and the
//!   drbdsetup it uses before it creates anything.
//! * Stop answers 0 only once drbdsetup shows the resource gone (or no DRBD
//!   module is loaded): drbdadm first, drbdsetup when drbdadm fails; with an
//!   unusable configuration, drbdsetup alone on what start recorded. A
//!   changed `drbd_resource` or a renamed resource does not hide what runs.
//! * The monitor forks `drbdsetup` once and `crm_attribute` once; the module
//!   version comes from /proc/drbd (no fork) when the module is loaded.

pub mod score;
pub mod state;

use std::path::PathBuf;
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
    "The name of one DRBD resource from the DRBD configuration (drbd.conf). \
     Only the characters [-%+./0-9:=@A-Z_a-z] are allowed; `all` and names \
     beginning with `-` are refused (stop would take down every DRBD resource \
     of the node, or the tools would read an option).",
)
.required()
.unique()
.check(check_resource_name);

pub static DRBDCONF: ParamSpec = ParamSpec::new(
    "drbdconf",
    "Path to drbd.conf",
    "Full path to the DRBD configuration file, passed to drbdadm as -c: an \
     absolute path of the characters [-%+./0-9:=@A-Z_a-z]. It must be readable \
     on the node (otherwise the node cannot run the resource: exit 5).",
)
.default("/etc/drbd.conf")
.check(check_drbdconf);

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
     stop, or named in Pacemaker's promoted list, which Pacemaker passes to the stop \
     of a clone with notify=true, and not being stopped itself), mark the local data \
     Outdated with `drbdadm outdate`, so this node cannot be promoted with stale \
     data later.",
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

/// One resource, named so that drbdadm and drbdsetup read it as a name:
/// `all` is drbdadm's word for every resource, `-x` an option.
fn check_resource_name(v: &str) -> Result<(), String> {
    check_drbd_name(v)?;
    if v == "all" {
        return Err(
            "must name one DRBD resource, not `all` (stop would take down \
                    every DRBD resource on the node)"
                .into(),
        );
    }
    if v.starts_with('-') {
        return Err("must not begin with '-' (drbdadm and drbdsetup would read an option)".into());
    }
    Ok(())
}

/// drbd.conf: an absolute path, so it can never read as an option.
fn check_drbdconf(v: &str) -> Result<(), String> {
    if !v.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    check_drbd_name(v)
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
        if ctx.action != "monitor" && !readable_file(&cfg.drbdconf) {
            return Err(OcfError::installed(format!(
                "configuration file {} does not exist, is not readable or is not a regular file",
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
        // Before anything is created: what stop and probe need if this
        // start fails half-way or the configuration changes later.
        let mut rec = record_intent(cfg, ctx, v9, dl);
        let mut attach_failures = 0;
        let mut reattached = false;
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
            record_minors(ctx, &mut rec, &st);
            if attach_failures > 0 && !reattached && !unattached_disks(&st).is_empty() {
                // The failed attach created the resource (DRBD 9's adjust
                // --skip-net, 8.4's new-minor): it is up, Diskless. One more
                // attach, as linbit's agent does, then give up.
                reattached = true;
                if let Err(e) = attach_disk(cfg, v9, dl) {
                    return Err(OcfError::generic(format!(
                        "cannot attach {}: {e}",
                        cfg.resource
                    )));
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
        let unattached = unattached_disks(&st);
        if attach_failures > 0 && !unattached.is_empty() {
            // Never "started" with a disk that failed to attach: the node
            // would look healthy and serve nothing of its own.
            return Err(OcfError::generic(format!(
                "{} is up, but volume {} is not attached after a failed attach ({})",
                cfg.resource,
                unattached.join(", "),
                describe(&st)
            )));
        }
        wait_for_devices(&devices, &dl.keep_back(SCORE_RESERVE))?;
        ocf::info!("{} started: {}", cfg.resource, describe(&st));
        update_score(cfg, ctx, &st, dl);
        Ok(())
    }

    /// Takes down `drbd_resource` and, when start recorded another name (a
    /// parameter changed while it ran, or the resource renamed in the
    /// kernel), that one too; 0 only once drbdsetup shows them gone.
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
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

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
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

    /// The configuration or this node's setup does not validate (drbd.conf
    /// unreadable, drbdadm or drbdsetup missing, a parameter refused). Take
    /// down, with drbdsetup alone, what start recorded here (or, without a
    /// record, the resource the raw parameter still names safely); 0 only
    /// when the kernel shows none of it, or has no DRBD at all.
    fn stop_unconfigured(
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

    /// A probe in the same situation: the kernel's view (drbdsetup) of what
    /// start recorded (or, without a record, of the resource the raw
    /// parameter names): 0 or 8 when it exists, 7 only when it does not (or
    /// no DRBD module is loaded), 1 when it cannot be seen.
    fn probe_unconfigured(
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

/// Can drbd.conf be read? Opened without blocking (a FIFO put in its place
/// would hold the action until its timeout, a stop until fencing) and
/// checked to be a regular file (a link to one is fine: drbdadm follows it).
fn readable_file(path: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file())
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

/// Environment variable (a test hook, documented in docs/agents/drbd.md):
/// the directory that stands for /sys/block (one `drbd<minor>` entry per
/// minor the kernel has), for the SIMULATOR.
pub const SYS_BLOCK_HOOK: &str = "OCF_RS_DRBD_SYS_BLOCK";

fn sys_block_path() -> PathBuf {
    std::env::var_os(SYS_BLOCK_HOOK)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys/block"))
}

/// The loaded module's version code, `None` when it is not loaded. Read from
/// /proc/drbd (or /sys/module/drbd/version) without a fork; only when
/// neither exists, `drbdadm --version` decides (it knows other ways).
fn module_version(cfg: &Config, dl: &Deadline) -> Option<u32> {
    module_version_with(Some(&cfg.drbdadm), dl)
}

/// [`module_version`] with the drbdadm to ask, if any. The kernel module
/// cannot be unloaded while a resource exists (rmmod: in use), so "not
/// loaded" means that no DRBD resource runs on this node.
fn module_version_with(drbdadm: Option<&str>, dl: &Deadline) -> Option<u32> {
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
    let out = run_tool(Cmd::new(drbdadm?).arg("--version"), &dl.cap(READ_CAP));
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
    for p in module_parameters(&parms) {
        cmd = cmd.arg(p);
    }
    run_tool(cmd, dl)
        .map_err(|e| OcfError::installed(format!("cannot load the drbd module: {e}")))?;
    module_version(cfg, dl).ok_or_else(|| {
        OcfError::installed("the drbd module does not report a version after modprobe")
    })
}

/// The `name=value` words of `drbdadm sh-mod-parms` (`usermode_helper=...`)
/// that modprobe may get after the module name. Anything else, a word
/// beginning with `-` above all (modprobe reads options after the module
/// name too), is left out with a warning.
pub fn module_parameters(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|w| {
            let ok = is_module_parameter(w);
            if !ok {
                ocf::warn!("drbdadm sh-mod-parms: ignoring {w:?}, not a module parameter");
            }
            ok
        })
        .collect()
}

/// `name=value` with a parameter name of `[A-Za-z0-9_.]` (never `-x`).
pub fn is_module_parameter(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
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

fn read_state(cfg: &Config, v9: bool, dl: &Deadline) -> OcfResult<ResourceState> {
    read_state_with(&cfg.drbdsetup, &cfg.resource, v9, dl)
        .map_err(|e| OcfError::generic(format!("cannot read the state of {}: {e}", cfg.resource)))
}

/// The kernel's state of resource `name`, through the drbdsetup `setup`,
/// bounded by `dl` (and [`READ_CAP`]).
fn read_state_with(
    setup: &str,
    name: &str,
    v9: bool,
    dl: &Deadline,
) -> Result<ResourceState, ToolError> {
    let dl = dl.cap(READ_CAP);
    let args: &[&str] = if v9 {
        &["events2", "--now", name]
    } else {
        &["sh-status", name]
    };
    match run_tool(Cmd::new(setup).args(args), &dl) {
        Ok(out) => {
            let text = out.stdout_str();
            Ok(if v9 {
                state::parse_events2(&text, name)
            } else {
                state::parse_sh_status(&text)
            })
        }
        // 10: "No such resource" (also 8.4's sh-status on a down resource).
        Err(e) if e.code == Some(10) => Ok(ResourceState::unconfigured()),
        Err(e) => Err(e),
    }
}

/// 0 for a Secondary, 8 for a Primary (what a probe answers for it).
fn running_status(st: &ResourceState) -> Status {
    if st.role == Role::Primary {
        Status::RunningPromoted
    } else {
        Status::Success
    }
}

/// Volumes with a backing disk configured that is not attached (Diskless or
/// Failed, and not an intentionally diskless client).
fn unattached_disks(st: &ResourceState) -> Vec<String> {
    st.volumes
        .iter()
        .filter(|v| !v.client && matches!(v.disk, state::Disk::Diskless | state::Disk::Failed))
        .map(|v| format!("{} ({:?})", v.number, v.disk))
        .collect()
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

// ------------------------------------------------------------ the record

/// What start recorded here (`ocf::Record`): the resource name, its minors
/// and the drbdsetup it used.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Recorded {
    resource: String,
    drbdsetup: Option<String>,
    minors: Vec<u32>,
    v9: Option<bool>,
}

impl Recorded {
    fn load(ctx: &Context) -> Option<Recorded> {
        Recorded::from(&ocf::Record::load(ctx)?)
    }

    /// A record whose resource name we would refuse is not ours.
    fn from(rec: &ocf::Record) -> Option<Recorded> {
        let resource = rec.get("resource")?.to_string();
        check_resource_name(&resource).ok()?;
        Some(Recorded {
            resource,
            drbdsetup: rec
                .get("drbdsetup")
                .filter(|p| check_program(p).is_ok())
                .map(str::to_string),
            minors: parse_minors(rec.get("minors").unwrap_or("")),
            v9: rec.get("v9").map(|v| v == "yes"),
        })
    }
}

/// Minor numbers, one per word (`drbdadm sh-minor` lines, the record's list).
pub fn parse_minors(text: &str) -> Vec<u32> {
    let mut m: Vec<u32> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|w| w.parse().ok())
        .collect();
    m.sort_unstable();
    m.dedup();
    m
}

fn show_minors(m: &[u32]) -> String {
    m.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Record, before start creates anything, the resource, its minors (from
/// drbd.conf: `drbdadm sh-minor`) and the drbdsetup that can take it down.
fn record_intent(cfg: &Config, ctx: &Context, v9: bool, dl: &Deadline) -> ocf::Record {
    let minors = adm(cfg, &["sh-minor", &cfg.resource], &dl.cap(READ_CAP))
        .map(|o| parse_minors(&o.stdout_str()))
        .unwrap_or_default();
    let setup = exec::which(&cfg.drbdsetup)
        .map(|p| p.into_os_string())
        .unwrap_or_else(|| cfg.drbdsetup.clone().into());
    let mut rec = ocf::Record::new()
        .with("resource", &cfg.resource)
        .with("drbdsetup", setup)
        .with("v9", if v9 { "yes" } else { "no" });
    if !minors.is_empty() {
        rec.set("minors", show_minors(&minors));
    }
    rec.save(ctx);
    rec
}

/// Complete the record with the minors the kernel reports (they are what a
/// renamed resource keeps).
fn record_minors(ctx: &Context, rec: &mut ocf::Record, st: &ResourceState) {
    let minors: Vec<u32> = parse_minors(
        &st.volumes
            .iter()
            .filter_map(|v| v.minor.map(|m| m.to_string()))
            .collect::<Vec<_>>()
            .join(","),
    );
    if !minors.is_empty() && rec.get("minors") != Some(show_minors(&minors).as_str()) {
        rec.set("minors", show_minors(&minors));
        rec.save(ctx);
    }
}

/// DRBD 9: the resource other than `known` that holds exactly the minors
/// start recorded (`drbdsetup rename-resource` keeps them). One
/// `events2 --now all`, only when the recorded name is gone.
fn renamed(
    setup: &str,
    rec: &Recorded,
    known: &[String],
    v9: bool,
    dl: &Deadline,
) -> OcfResult<Option<String>> {
    if !v9 || rec.minors.is_empty() {
        return Ok(None);
    }
    let cmd = Cmd::new(setup).args(["events2", "--now", "all"]);
    let Ok(out) = run_tool(cmd, &dl.cap(READ_CAP)) else {
        return Ok(None);
    };
    let Some((name, _)) = state::minors_by_resource(&out.stdout_str())
        .into_iter()
        .find(|(name, minors)| *minors == rec.minors && !known.contains(name))
    else {
        return Ok(None);
    };
    // A name from the kernel goes back to drbdadm/drbdsetup only when it
    // cannot read as an option (or as `all`); otherwise it is never passed
    // on, and what runs is not called stopped either.
    check_resource_name(&name).map_err(|why| {
        OcfError::generic(format!(
            "DRBD resource {name:?} holds the minors {} start recorded for {}, but its name {why}: \
             take it down by hand",
            show_minors(&rec.minors),
            rec.resource
        ))
    })?;
    Ok(Some(name))
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

/// Stop and probe without a usable configuration: what can still be
/// identified safely.
struct Unconfigured {
    /// The recorded resource; without a record (nothing started here since
    /// the last stop or reboot, or started by linbit's agent before a
    /// switch), the one the parameter names when it is a name we accept.
    /// Never both: with a record, another resource the parameter now names
    /// was not started by this instance.
    names: Vec<String>,
    rec: Option<Recorded>,
    /// The first usable drbdsetup: the recorded one, the parameter's, PATH's.
    drbdsetup: Option<String>,
    drbdadm: Option<String>,
    /// drbd.conf, for `drbdadm sh-minor` when nothing was recorded.
    drbdconf: Option<String>,
}

impl Unconfigured {
    fn new(cfg: Option<&Config>, rec: Option<&ocf::Record>, ctx: &Context) -> Unconfigured {
        let rec = rec.and_then(Recorded::from);
        let raw = |spec: &ParamSpec| ctx.params.get(spec.name).cloned();
        let param = cfg
            .map(|c| c.resource.clone())
            .or_else(|| raw(&DRBD_RESOURCE))
            .filter(|r| check_resource_name(r).is_ok());
        let names: Vec<String> = match &rec {
            Some(r) => vec![r.resource.clone()],
            None => param.into_iter().collect(),
        };
        let program = |spec: &ParamSpec, from_cfg: Option<String>, fallback: &str| {
            let mut candidates: Vec<String> = vec![];
            candidates.extend(from_cfg.or_else(|| raw(spec)));
            candidates.push(fallback.to_string());
            candidates
        };
        let mut setups: Vec<String> = rec.iter().filter_map(|r| r.drbdsetup.clone()).collect();
        setups.extend(program(
            &DRBDSETUP,
            cfg.map(|c| c.drbdsetup.clone()),
            "drbdsetup",
        ));
        let usable = |list: Vec<String>| {
            list.into_iter()
                .filter(|p| check_program(p).is_ok())
                .find(|p| exec::which(p).is_some())
        };
        Unconfigured {
            names,
            rec,
            drbdsetup: usable(setups),
            drbdadm: usable(program(&DRBDADM, cfg.map(|c| c.drbdadm.clone()), "drbdadm")),
            drbdconf: cfg
                .map(|c| c.drbdconf.clone())
                .or_else(|| raw(&DRBDCONF))
                .or_else(|| DRBDCONF.default.map(str::to_string))
                .filter(|c| check_drbdconf(c).is_ok()),
        }
    }

    fn module_version(&self, dl: &Deadline) -> Option<u32> {
        module_version_with(self.drbdadm.as_deref(), dl)
    }

    /// The resource's minors: recorded, or else from drbd.conf (`drbdadm
    /// sh-minor`, when drbdadm and drbd.conf still work).
    fn minors(&self, dl: &Deadline) -> Vec<u32> {
        if let Some(r) = self.rec.as_ref().filter(|r| !r.minors.is_empty()) {
            return r.minors.clone();
        }
        let (Some(adm), Some(conf), Some(name)) =
            (&self.drbdadm, &self.drbdconf, self.names.first())
        else {
            return vec![];
        };
        let cmd = Cmd::new(adm).args(["-c", conf.as_str(), "sh-minor", name.as_str()]);
        run_tool(cmd, &dl.cap(READ_CAP))
            .map(|o| parse_minors(&o.stdout_str()))
            .unwrap_or_default()
    }

    /// Without drbdsetup, /sys/block says whether minors exist: Some(true)
    /// when one of the resource's minors does (or, when they are unknown,
    /// any DRBD minor), Some(false) when none does, None when /sys/block
    /// cannot be read.
    fn minors_in_kernel(&self, dl: &Deadline) -> Option<bool> {
        let dir = sys_block_path();
        let entries = std::fs::read_dir(&dir).ok()?;
        let names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let minors = self.minors(dl);
        Some(if minors.is_empty() {
            names.iter().any(|n| {
                n.strip_prefix("drbd")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
        } else {
            minors.iter().any(|m| names.contains(&format!("drbd{m}")))
        })
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

/// Attach the disks of a resource that exists already (the second try).
fn attach_disk(cfg: &Config, v9: bool, dl: &Deadline) -> Result<(), ToolError> {
    if v9 {
        adm(cfg, &["adjust", "--skip-net", &cfg.resource], dl).map(drop)
    } else {
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
    let resource = format!("--resource={}", ctx.instance_base());
    let cmd = Cmd::new("crm_resource").args(["--output-as=xml", resource.as_str(), "--locate"]);
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
/// Only `<node>` elements count (not `<nodes>`), and only their `state` or
/// `role` says promoted (a node or resource *named* "promoted" does not).
pub fn promoted_elsewhere(text: &str, me: Option<&str>) -> bool {
    // An answer we cannot read is no reason to take a score away: count it
    // as "promoted elsewhere", as a failed crm_resource call does.
    let Ok(doc) = ocf::xml::parse(text) else {
        return true;
    };
    ocf::xml::elements(&doc, "node").any(|node| {
        let says_promoted = |key: &str| {
            node.attribute(key).is_some_and(|v| {
                v.eq_ignore_ascii_case("promoted") || v.eq_ignore_ascii_case("master")
            })
        };
        let name = node
            .attribute("name")
            .map(str::to_string)
            .unwrap_or_else(|| ocf::xml::text(node));
        (says_promoted("state") || says_promoted("role")) && Some(name.as_str()) != me
    })
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
            ("OCF_RESKEY_drbdconf", "-x"),
            ("OCF_RESKEY_drbdconf", "etc/drbd.conf"),
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
    fn one_resource_by_name_only() {
        for bad in ["all", "-r0", "--force", "-"] {
            let e = configure(&[("OCF_RESKEY_drbd_resource", bad)]).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{bad}");
            assert!(e.reason.contains("drbd_resource"), "{}", e.reason);
        }
        for good in ["r0", "all-data", "ALL", "r-0", "data.all"] {
            assert!(
                configure(&[("OCF_RESKEY_drbd_resource", good)]).is_ok(),
                "{good}"
            );
        }
    }

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

    #[test]
    fn records_are_read_defensively() {
        let rec = ocf::Record::new()
            .with("resource", "r0")
            .with("drbdsetup", "/usr/sbin/drbdsetup")
            .with("minors", "3,1, 2")
            .with("v9", "yes");
        let r = Recorded::from(&rec).unwrap();
        assert_eq!(r.resource, "r0");
        assert_eq!(r.minors, [1, 2, 3]);
        assert_eq!(r.drbdsetup.as_deref(), Some("/usr/sbin/drbdsetup"));
        assert_eq!(r.v9, Some(true));
        // A name we would refuse is never acted on; a bad program is dropped.
        assert!(Recorded::from(&rec.clone().with("resource", "all")).is_none());
        assert!(Recorded::from(&rec.clone().with("resource", "-x")).is_none());
        let odd = Recorded::from(&rec.clone().with("drbdsetup", "bin/x;y")).unwrap();
        assert_eq!(odd.drbdsetup, None);
        assert_eq!(parse_minors("0\n1\n\n"), [0, 1]);
        assert!(parse_minors("").is_empty());
    }

    #[test]
    fn unattached_disks_are_found() {
        let st = state::parse_events2(
            "exists resource name:r0 role:Secondary\n\
             exists device name:r0 volume:0 minor:0 disk:UpToDate client:no\n\
             exists device name:r0 volume:1 minor:1 disk:Diskless client:no\n\
             exists -\n",
            "r0",
        );
        assert_eq!(unattached_disks(&st), ["1 (Diskless)"]);
        let client = state::parse_events2(
            "exists resource name:r0 role:Secondary\n\
             exists device name:r0 volume:0 minor:0 disk:Diskless client:yes\n\
             exists -\n",
            "r0",
        );
        assert!(
            unattached_disks(&client).is_empty(),
            "a diskless client is meant to be"
        );
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
        assert!(!promoted_elsewhere(
            "<nodes><node state=\"promoted\" name=\"node1\"/></nodes>",
            Some("node1")
        ));
        // `<nodes>` is not a `<node>`, and a name is not a role: the first
        // reader took `<nodes resource="promoted">` for a promoted node
        // named by the text up to the next tag.
        let named =
            r#"<nodes resource="promoted"><node state="unpromoted">promoted</node></nodes>"#;
        assert!(!promoted_elsewhere(named, Some("node1")));
        let escaped = r#"<nodes resource="d"><node state="promoted">n&amp;1</node></nodes>"#;
        assert!(!promoted_elsewhere(escaped, Some("n&1")));
        assert!(promoted_elsewhere(escaped, Some("n1")));
        // Cut short before the name: a promoted instance somewhere, as
        // when crm_resource fails (the score is not taken away on a guess).
        assert!(promoted_elsewhere(
            "<node state=\"promoted\">me",
            Some("me")
        ));
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

    fn xml_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A `crm_resource --locate` answer in either form, with any node
        /// names: "promoted elsewhere" is exactly what the list says.
        #[test]
        fn locate_answers_are_read_exactly(
            nodes in proptest::collection::vec(("\\PC{1,12}", proptest::prelude::any::<bool>(), proptest::prelude::any::<bool>()), 0..5),
            me in "\\PC{1,12}",
            resource in "\\PC{0,12}",
        ) {
            proptest::prop_assume!(nodes.iter().all(|(n, ..)| n.trim() == n && !n.is_empty()));
            let mut xml = format!("<pacemaker-result><nodes resource=\"{}\">", xml_escape(&resource));
            for (name, promoted, attr_form) in &nodes {
                if *attr_form {
                    let role = if *promoted { "Promoted" } else { "Unpromoted" };
                    xml += &format!("<node name=\"{}\" id=\"1\" role=\"{role}\"/>", xml_escape(name));
                } else if *promoted {
                    xml += &format!("<node state=\"promoted\">{}</node>", xml_escape(name));
                } else {
                    xml += &format!("<node>{}</node>", xml_escape(name));
                }
            }
            xml += "</nodes><status code=\"0\" message=\"OK\"/></pacemaker-result>";
            let want = nodes.iter().any(|(n, p, _)| *p && *n != me);
            proptest::prop_assert_eq!(promoted_elsewhere(&xml, Some(&me)), want, "{}", xml);
        }

        /// Any text as a locate answer or sh-mod-parms output: no panic, and
        /// no word handed to modprobe can read as an option.
        #[test]
        fn any_tool_output_is_read_safely(text in "(<|>|node|nodes|state=|\"|promoted|&|;|#|x|-|=|_| |\n|[ -~]){0,120}") {
            let _ = promoted_elsewhere(&text, Some("n1"));
            let _ = promoted_elsewhere(&text, None);
            for w in text.split_whitespace().filter(|w| is_module_parameter(w)) {
                proptest::prop_assert!(!w.starts_with('-') && !w.starts_with('='), "{}", w);
            }
            let minors = parse_minors(&text);
            proptest::prop_assert!(minors.windows(2).all(|m| m[0] < m[1]));
        }
    }
}
