//! The promotion score rules of `ocf:linbit:drbd` (`drbd_update_master_score`),
//! as a pure function of the typed state, so each rule has a unit test.

use crate::state::{Disk, ResourceState, Role};

/// The four `adjust_master_score` values, lowest to highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scores {
    /// All local disks only Consistent (after a cluster crash).
    pub only_consistent: i64,
    /// Local data not UpToDate, but a peer's is.
    pub only_remote: i64,
    /// Local data UpToDate, a peer's disk state unknown.
    pub local_ok: i64,
    /// Local data UpToDate and every peer known, or Primary.
    pub best: i64,
}

impl Default for Scores {
    fn default() -> Scores {
        Scores {
            only_consistent: 0,
            only_remote: 10,
            local_ok: 1000,
            best: 10000,
        }
    }
}

/// `remove_master_score_if_peer_primary`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerPrimary {
    /// `false`: a Primary peer does not change the score.
    Keep,
    /// `true`: drop the score while connected to a healthy Primary peer.
    Remove,
    /// `unexpected`: only when Pacemaker knows of no Primary (single-Primary).
    RemoveIfUnexpected,
}

/// What to do with this node's promotion score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreAction {
    Set(i64),
    Remove,
    /// A transitional disk state (Attaching, Negotiating): leave it alone.
    Unchanged,
}

/// The decision and the rule that made it (for the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: ScoreAction,
    pub rule: &'static str,
    /// Primary with everything UpToDate: time to call `drbdadm unfence-peer`.
    pub all_up_to_date: bool,
}

/// The facts linbit's shell derives from the state (`status_*` variables).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub primary: bool,
    pub some_peer_primary: bool,
    pub diskless_client: bool,
    pub quorum: bool,
    pub disk_all_up_to_date: bool,
    pub disk_all_consistent: bool,
    pub disk_transitional: bool,
    pub some_peer_all_up_to_date: bool,
    pub some_peer_not_all_up_to_date: bool,
    pub pdsk_any_unknown: bool,
    pub pdsk_all_up_to_date: bool,
}

impl Facts {
    pub fn of(st: &ResourceState) -> Facts {
        let data: Vec<&Disk> = st
            .volumes
            .iter()
            .filter(|v| !(v.client && v.disk == Disk::Diskless))
            .map(|v| &v.disk)
            .collect();
        let n = st.volumes.len();
        let mut f = Facts {
            primary: st.role == Role::Primary,
            some_peer_primary: st.peers.iter().any(|p| p.role == Role::Primary),
            diskless_client: n > 0 && data.is_empty(),
            quorum: st.quorum,
            disk_all_up_to_date: data.iter().all(|d| **d == Disk::UpToDate),
            disk_all_consistent: data.iter().all(|d| {
                !matches!(
                    d,
                    Disk::Diskless
                        | Disk::Failed
                        | Disk::Inconsistent
                        | Disk::Outdated
                        | Disk::Detaching
                )
            }),
            disk_transitional: data
                .iter()
                .any(|d| matches!(d, Disk::Attaching | Disk::Negotiating)),
            ..Facts::default()
        };
        for p in &st.peers {
            let count = |pred: &dyn Fn(&crate::state::PeerVolume) -> bool| {
                p.volumes.iter().filter(|v| pred(v)).count()
            };
            if n > 0 && count(&|v| v.client) == n {
                continue; // a diskless client peer has no data to judge
            }
            if n > 0 && count(&|v| v.disk == Disk::UpToDate) == n {
                f.some_peer_all_up_to_date = true;
            } else {
                f.some_peer_not_all_up_to_date = true;
            }
            if count(&|v| v.disk != Disk::DUnknown) != n {
                f.pdsk_any_unknown = true;
            }
        }
        f.pdsk_all_up_to_date = f.some_peer_all_up_to_date && !f.some_peer_not_all_up_to_date;
        f
    }

    /// Can this node read good data at all (local or through a peer)?
    pub fn has_good_data(&self) -> bool {
        (self.disk_all_up_to_date && !self.diskless_client) || self.some_peer_all_up_to_date
    }
}

/// The score rules, in linbit's order. `pacemaker_knows_a_primary` is asked
/// only for `remove_master_score_if_peer_primary=unexpected`, since it costs
/// a `crm_resource --locate` call.
pub fn decide(
    st: &ResourceState,
    scores: &Scores,
    peer_primary: PeerPrimary,
    promoted_max: u64,
    pacemaker_knows_a_primary: &mut dyn FnMut() -> bool,
) -> Decision {
    let f = Facts::of(st);
    let d = |action, rule| Decision {
        action: match action {
            ScoreAction::Set(n) if n <= 0 => ScoreAction::Remove,
            a => a,
        },
        rule,
        all_up_to_date: false,
    };
    if !st.configured {
        return d(ScoreAction::Remove, "not running");
    }
    if !f.quorum {
        return d(ScoreAction::Remove, "no quorum");
    }
    if st.volumes.is_empty() {
        // Between new-resource and new-minor/attach: nothing to judge yet.
        return d(ScoreAction::Unchanged, "no volumes yet");
    }
    if peer_primary != PeerPrimary::Keep
        && !f.primary
        && f.some_peer_primary
        && f.some_peer_all_up_to_date
    {
        match peer_primary {
            PeerPrimary::Remove => {
                return d(ScoreAction::Remove, "connected to a healthy Primary peer");
            }
            _ => {
                if promoted_max == 1 && !pacemaker_knows_a_primary() {
                    return d(
                        ScoreAction::Remove,
                        "connected to a Primary that Pacemaker does not know about",
                    );
                }
            }
        }
    }
    if f.diskless_client {
        return if (f.primary && f.some_peer_all_up_to_date) || f.pdsk_all_up_to_date {
            d(
                ScoreAction::Set(scores.best - 1),
                "diskless client with all peers UpToDate",
            )
        } else if f.some_peer_all_up_to_date {
            d(
                ScoreAction::Set(scores.local_ok - 1),
                "diskless client with some peer UpToDate",
            )
        } else {
            d(
                ScoreAction::Remove,
                "diskless client without access to good data",
            )
        };
    }
    if f.disk_all_up_to_date {
        if f.primary {
            let mut dec = d(ScoreAction::Set(scores.best), "Primary with UpToDate data");
            dec.all_up_to_date = f.pdsk_all_up_to_date;
            return dec;
        }
        if f.pdsk_any_unknown {
            return d(
                ScoreAction::Set(scores.local_ok),
                "UpToDate, some peer disk unknown",
            );
        }
        return d(
            ScoreAction::Set(scores.best),
            "UpToDate, every peer disk known",
        );
    }
    if f.some_peer_all_up_to_date {
        return d(
            ScoreAction::Set(scores.only_remote),
            "only a peer has UpToDate data",
        );
    }
    if f.disk_transitional {
        return d(ScoreAction::Unchanged, "disk state in transition");
    }
    if f.disk_all_consistent {
        return d(
            ScoreAction::Set(scores.only_consistent),
            "local data only Consistent",
        );
    }
    d(ScoreAction::Remove, "no access to good data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_events2;

    /// A state from events2 lines: `me` = role and disks of this node,
    /// then one peer per (connection, role, disks).
    fn state(
        role: &str,
        disks: &[&str],
        peers: &[(&str, &str, &[&str])],
        quorum: bool,
    ) -> ResourceState {
        let mut t = format!("exists resource name:r0 role:{role} suspended:no\n");
        for (i, (conn, prole, _)) in peers.iter().enumerate() {
            t += &format!(
                "exists connection name:r0 peer-node-id:{} conn-name:p{i} connection:{conn} role:{prole}\n",
                i + 1
            );
        }
        for (v, disk) in disks.iter().enumerate() {
            let (disk, client) = match *disk {
                "client" => ("Diskless", "yes"),
                d => (d, "no"),
            };
            let q = if quorum { "yes" } else { "no" };
            t += &format!(
                "exists device name:r0 volume:{v} minor:{v} disk:{disk} client:{client} quorum:{q}\n"
            );
        }
        for (i, (_, _, pdisks)) in peers.iter().enumerate() {
            for (v, pd) in pdisks.iter().enumerate() {
                let (pd, pc) = match *pd {
                    "client" => ("Diskless", "yes"),
                    d => (d, "no"),
                };
                t += &format!(
                    "exists peer-device name:r0 peer-node-id:{} conn-name:p{i} volume:{v} replication:Established peer-disk:{pd} peer-client:{pc}\n",
                    i + 1
                );
            }
        }
        t += "exists -\n";
        parse_events2(&t, "r0")
    }

    fn score(st: &ResourceState) -> ScoreAction {
        decide(st, &Scores::default(), PeerPrimary::Keep, 1, &mut || true).action
    }

    const UP: &[&str] = &["UpToDate"];
    const UNKNOWN: &[&str] = &["DUnknown"];

    #[test]
    fn every_rule_of_the_table() {
        use ScoreAction::*;
        // Primary with UpToDate data: as good as it gets, peers or not.
        assert_eq!(
            score(&state(
                "Primary",
                UP,
                &[("Connected", "Secondary", UP)],
                true
            )),
            Set(10000)
        );
        assert_eq!(
            score(&state(
                "Primary",
                UP,
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Set(10000)
        );
        // Secondary UpToDate: peers all known -> 10000; a peer unknown -> 1000.
        assert_eq!(
            score(&state(
                "Secondary",
                UP,
                &[("Connected", "Primary", UP)],
                true
            )),
            Set(10000)
        );
        assert_eq!(
            score(&state(
                "Secondary",
                UP,
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Set(1000)
        );
        assert_eq!(
            score(&state("Secondary", UP, &[], true)),
            Set(10000),
            "no peers configured"
        );
        // Two volumes, one peer volume unknown: unknown.
        assert_eq!(
            score(&state(
                "Secondary",
                &["UpToDate", "UpToDate"],
                &[("Connected", "Secondary", &["UpToDate", "DUnknown"])],
                true
            )),
            Set(1000)
        );
        // Local Inconsistent (SyncTarget), peer UpToDate: only remote -> 10.
        assert_eq!(
            score(&state(
                "Secondary",
                &["Inconsistent"],
                &[("Connected", "Primary", UP)],
                true
            )),
            Set(10)
        );
        // Outdated locally, peer UpToDate: 10 as well.
        assert_eq!(
            score(&state(
                "Secondary",
                &["Outdated"],
                &[("Connected", "Secondary", UP)],
                true
            )),
            Set(10)
        );
        // Transitional states leave the score alone.
        assert_eq!(
            score(&state(
                "Secondary",
                &["Attaching"],
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Unchanged
        );
        assert_eq!(
            score(&state("Secondary", &["Negotiating"], &[], true)),
            Unchanged
        );
        // Only Consistent: only_consistent = 0, which means removed.
        assert_eq!(
            score(&state(
                "Secondary",
                &["Consistent"],
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Remove
        );
        let custom = Scores {
            only_consistent: 5,
            ..Scores::default()
        };
        let st = state("Secondary", &["Consistent"], &[], true);
        assert_eq!(
            decide(&st, &custom, PeerPrimary::Keep, 1, &mut || true).action,
            Set(5)
        );
        // No good data anywhere: removed.
        assert_eq!(
            score(&state(
                "Secondary",
                &["Inconsistent"],
                &[("Connected", "Secondary", &["Inconsistent"])],
                true
            )),
            Remove
        );
        assert_eq!(
            score(&state(
                "Secondary",
                &["Outdated"],
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Remove
        );
        assert_eq!(score(&state("Secondary", &["Failed"], &[], true)), Remove);
        // Quorum lost: removed, whatever the data.
        assert_eq!(
            score(&state(
                "Primary",
                UP,
                &[("Connecting", "Unknown", UNKNOWN)],
                false
            )),
            Remove
        );
        assert_eq!(score(&state("Secondary", UP, &[], false)), Remove);
        // Not running: removed.
        assert_eq!(score(&ResourceState::unconfigured()), Remove);
        // A resource without volumes yet (being created): left alone.
        assert_eq!(score(&state("Secondary", &[], &[], true)), Unchanged);
    }

    #[test]
    fn diskless_clients() {
        use ScoreAction::*;
        let client: &[&str] = &["client"];
        assert_eq!(
            score(&state(
                "Primary",
                client,
                &[("Connected", "Secondary", UP)],
                true
            )),
            Set(9999)
        );
        assert_eq!(
            score(&state(
                "Secondary",
                client,
                &[("Connected", "Secondary", UP)],
                true
            )),
            Set(9999)
        );
        assert_eq!(
            score(&state(
                "Secondary",
                client,
                &[
                    ("Connected", "Secondary", UP),
                    ("Connected", "Secondary", &["Inconsistent"])
                ],
                true
            )),
            Set(999)
        );
        assert_eq!(
            score(&state(
                "Secondary",
                client,
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            )),
            Remove
        );
        // A diskless peer client does not count as a peer with data.
        assert_eq!(
            score(&state(
                "Secondary",
                UP,
                &[("Connected", "Secondary", client)],
                true
            )),
            Set(10000)
        );
    }

    #[test]
    fn peer_primary_policies() {
        use ScoreAction::*;
        let st = state("Secondary", UP, &[("Connected", "Primary", UP)], true);
        let run = |p, knows: bool| decide(&st, &Scores::default(), p, 1, &mut || knows).action;
        assert_eq!(run(PeerPrimary::Keep, false), Set(10000));
        assert_eq!(run(PeerPrimary::Remove, true), Remove);
        assert_eq!(run(PeerPrimary::RemoveIfUnexpected, false), Remove);
        assert_eq!(run(PeerPrimary::RemoveIfUnexpected, true), Set(10000));
        // With two promoted instances allowed, a Primary peer is expected.
        let two = decide(
            &st,
            &Scores::default(),
            PeerPrimary::RemoveIfUnexpected,
            2,
            &mut || false,
        );
        assert_eq!(two.action, Set(10000));
        // An unhealthy Primary peer does not take the score away.
        let sick = state(
            "Secondary",
            UP,
            &[("Connected", "Primary", &["Inconsistent"])],
            true,
        );
        assert_eq!(
            decide(
                &sick,
                &Scores::default(),
                PeerPrimary::Remove,
                1,
                &mut || true
            )
            .action,
            Set(10000)
        );
        // Pacemaker is asked only when it matters.
        let mut asked = false;
        decide(
            &state("Primary", UP, &[], true),
            &Scores::default(),
            PeerPrimary::RemoveIfUnexpected,
            1,
            &mut || {
                asked = true;
                true
            },
        );
        assert!(!asked);
    }

    #[test]
    fn unfence_only_when_everything_is_up_to_date() {
        let all = state("Primary", UP, &[("Connected", "Secondary", UP)], true);
        assert!(
            decide(&all, &Scores::default(), PeerPrimary::Keep, 1, &mut || true).all_up_to_date
        );
        let one = state(
            "Primary",
            UP,
            &[("Connected", "Secondary", &["Inconsistent"])],
            true,
        );
        assert!(
            !decide(&one, &Scores::default(), PeerPrimary::Keep, 1, &mut || true).all_up_to_date
        );
    }

    #[test]
    fn good_data() {
        assert!(Facts::of(&state("Primary", UP, &[], true)).has_good_data());
        assert!(
            Facts::of(&state(
                "Primary",
                &["Failed"],
                &[("Connected", "Secondary", UP)],
                true
            ))
            .has_good_data()
        );
        assert!(
            !Facts::of(&state(
                "Primary",
                &["Failed"],
                &[("Connecting", "Unknown", UNKNOWN)],
                true
            ))
            .has_good_data()
        );
    }
}
