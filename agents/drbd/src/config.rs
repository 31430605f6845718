//! `Config`: the validated parameters, built by [`configure`] (syntax only),
//! and the time limits every action shares.

use std::time::Duration;

use ocf::{Context, OcfError, OcfResult, ParamSpec, Params};

use crate::params::*;
use crate::score::{PeerPrimary, Scores};
use crate::state;

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

/// The longest one drbdadm/drbdsetup call may take, whatever the budget.
pub const CALL_CAP: Duration = Duration::from_secs(30);
/// What a state read may take: a healthy drbdsetup answers in milliseconds.
pub const READ_CAP: Duration = Duration::from_secs(10);
/// Time kept back for the score update after reading the state.
pub const SCORE_RESERVE: Duration = Duration::from_secs(2);
/// Pause before re-reading the state after a command that worked...
pub const SETTLE: Duration = Duration::from_millis(50);
/// ... and after one that failed.
pub const RETRY: Duration = Duration::from_secs(1);
/// linbit's anti-loop: a failed promote returns no sooner than this.
pub const PROMOTE_MIN_FAIL: Duration = Duration::from_secs(15);

/// The `Config` of validated parameters (syntax only: nothing here looks
/// at the node).
pub fn configure(p: &Params, _ctx: &Context) -> OcfResult<Config> {
    let s = |spec: &ParamSpec| p.string(spec).unwrap_or_default().to_string();
    let version = |spec: &ParamSpec| {
        state::version_code(&s(spec))
            .ok_or_else(|| OcfError::configured(format!("{} is not a version", spec.name)))
    };
    Ok(Config {
        resource: s(&DRBD_RESOURCE),
        drbdconf: s(&DRBDCONF),
        // As linbit's agent: a malformed value falls back to the default,
        // with an error in the log (a refusal would stop the resource).
        scores: parse_scores(&s(&ADJUST_MASTER_SCORE)).unwrap_or_else(|why| {
            let default = ADJUST_MASTER_SCORE.default.unwrap_or_default();
            ocf::err!(
                "adjust_master_score {:?} {why}: falling back to the default {default}",
                s(&ADJUST_MASTER_SCORE)
            );
            parse_scores(default).expect("the default parses")
        }),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ocf::Status;

    pub(crate) fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "drbd",
            action,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    pub(crate) fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
        let c = ctx("start", vars);
        let p = Params::parse(&PARAMS, &c.params)?;
        super::configure(&p, &c)
    }

    pub(crate) const RES: (&str, &str) = ("OCF_RESKEY_drbd_resource", "r0");
    pub(crate) const CLONE: (&str, &str) = ("OCF_RESKEY_CRM_meta_clone_max", "2");

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
    fn malformed_scores_fall_back_to_the_default_as_linbits_agent_does() {
        let default = parse_scores("0 10 1000 10000").unwrap();
        for v in ["0 10 1000", "0 10 5 10000", "0 10 x 10000", "-5 0 1 2"] {
            let c = configure(&[RES, ("OCF_RESKEY_adjust_master_score", v)]).unwrap();
            assert_eq!(c.scores, default, "{v}");
        }
        let c = configure(&[RES, ("OCF_RESKEY_adjust_master_score", "5 20 2000 20000")]).unwrap();
        assert_eq!(c.scores.best, 20000);
    }

    #[test]
    fn bad_values_are_configuration_errors() {
        for (k, v) in [
            ("OCF_RESKEY_drbd_resource", "r0;reboot"),
            ("OCF_RESKEY_drbd_resource", "r 0"),
            ("OCF_RESKEY_drbdconf", "/etc/drbd conf"),
            ("OCF_RESKEY_drbdconf", "-x"),
            ("OCF_RESKEY_drbdconf", "etc/drbd.conf"),
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
}
