//! The parameter table of `ocf:rust:drbd` and the checks of each value:
//! every name and path handed to drbdadm or drbdsetup is one they read as a
//! name, never as an option.

use ocf::ParamSpec;

use crate::score::{PeerPrimary, Scores};
use crate::state;

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
     removes the score (never promoted here). Default 0 10 1000 10000. As with \
     linbit's agent, a malformed value falls back to the default, logged as an error.",
)
.default("0 10 1000 10000");

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
pub fn check_resource_name(v: &str) -> Result<(), String> {
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
pub fn check_drbdconf(v: &str) -> Result<(), String> {
    if !v.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    check_drbd_name(v)
}

pub fn check_program(v: &str) -> Result<(), String> {
    if v.contains('/') && !v.starts_with('/') {
        return Err("must be a program name or an absolute path".into());
    }
    check_drbd_name(v)
}

pub fn parse_scores(v: &str) -> Result<Scores, String> {
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

pub fn parse_peer_primary(v: &str) -> Option<PeerPrimary> {
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
