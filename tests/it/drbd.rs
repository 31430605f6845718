//! ocf:rust:drbd against the DRBD SIMULATOR (tests/sim/drbd-simulator):
//! there is no DRBD kernel module on these machines, so every test here
//! runs the real agent binary with a simulated drbdadm/drbdsetup (and
//! crm_attribute, which records the promotion score) first on PATH. The
//! simulator prints DRBD 9's `events2 --now` lines and DRBD 8.4's
//! `sh-status` assignments, and keeps per-node state so two simulated nodes
//! connect, resync, lose each other and split brain.

use support::drbd as drbd_sim;

use std::time::Duration;

use drbd_sim::Sim;
use support::{AgentLink, agent_link};

fn agent() -> AgentLink {
    agent_link("drbd")
}

/// Start the resource on every node (Secondary, connected where possible).
fn start_all(sim: &Sim, a: &AgentLink, nodes: &[&str]) {
    for n in nodes {
        let out = sim.run(a, n, "start", &[], &[]);
        assert_eq!(out.code, 0, "start on {n}: {out:?}");
    }
}

#[test]
fn simulator_lifecycle_sets_scores_and_roles() {
    let sim = Sim::new("life", &["node1", "node2"], &[]);
    let a = agent();
    let probe = sim.run(
        &a,
        "node1",
        "monitor",
        &[],
        &[("OCF_RESKEY_CRM_meta_interval", "0")],
    );
    assert_eq!(probe.code, 7, "{probe:?}");
    assert_eq!(
        sim.score("node1"),
        None,
        "a probe of a stopped resource sets no score"
    );

    // node1 alone: UpToDate, peer unknown -> 1000.
    start_all(&sim, &a, &["node1"]);
    assert_eq!(sim.score("node1"), Some(1000));
    // node2 connects: every disk known and UpToDate -> 10000 on both.
    start_all(&sim, &a, &["node2"]);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node1"), Some(10000));
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node2"), Some(10000));

    // Promote node1: 8 there, 0 on node2; start on a started resource: 0.
    let p = sim.run(&a, "node1", "promote", &[], &[]);
    assert_eq!(p.code, 0, "{p:?}");
    assert_eq!(
        sim.run(&a, "node1", "promote", &[], &[]).code,
        0,
        "promote twice"
    );
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 8);
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node2", "start", &[], &[]).code, 0);
    // A probe that finds it running sets the score too (RA#859).
    sim.set("node1", &[]);
    std::fs::remove_file(sim.node("node1").join("attrs.json")).unwrap();
    let probe = sim.run(
        &a,
        "node1",
        "monitor",
        &[],
        &[("OCF_RESKEY_CRM_meta_interval", "0")],
    );
    assert_eq!(probe.code, 8);
    assert_eq!(sim.score("node1"), Some(10000));

    // node2 cannot become a second Primary: DRBD refuses (rc 11), promote
    // retries until its deadline and fails with the reason.
    let two = sim.run(
        &a,
        "node2",
        "promote",
        &[],
        &[("OCF_RESKEY_CRM_meta_timeout", "4000")],
    );
    assert_eq!(two.code, 1, "{two:?}");
    assert!(
        two.reason().unwrap_or("").contains("not Primary"),
        "{two:?}"
    );
    assert!(
        two.elapsed < Duration::from_secs(4),
        "bounded: {:?}",
        two.elapsed
    );

    // Demote twice, stop twice: idempotent; the score goes with the stop.
    assert_eq!(sim.run(&a, "node1", "demote", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "demote", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 0);
    for n in ["node1", "node2"] {
        assert_eq!(sim.run(&a, n, "stop", &[], &[]).code, 0);
        assert_eq!(sim.run(&a, n, "stop", &[], &[]).code, 0);
        assert_eq!(sim.score(n), None, "stop removes the score on {n}");
        assert_eq!(sim.run(&a, n, "monitor", &[], &[]).code, 7);
    }
    assert!(sim.show("node1").contains("\"up\": false"));
    // Demote of a stopped resource: 7; promote of a stopped one: 1.
    assert_eq!(sim.run(&a, "node1", "demote", &[], &[]).code, 7);
    let p = sim.run(
        &a,
        "node1",
        "promote",
        &[],
        &[("OCF_RESKEY_CRM_meta_timeout", "3000")],
    );
    assert_eq!(p.code, 1);
    assert!(p.reason().unwrap().contains("not started"), "{p:?}");
}

#[test]
fn simulator_every_score_rule() {
    let sim = Sim::new("rules", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1", "node2"]);
    let mon = |n: &str, params: &[(&str, &str)]| sim.run(&a, n, "monitor", params, &[]).code;

    // Peer connected and UpToDate: as good as it gets.
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), Some(10000));

    // The peer goes away: its disk is unknown -> local_ok.
    sim.cluster("cut");
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), Some(1000));
    // Custom adjust_master_score values are used.
    assert_eq!(
        mon("node1", &[("adjust_master_score", "5 20 2000 20000")]),
        0
    );
    assert_eq!(sim.score("node1"), Some(2000));

    // Only Consistent, peer unknown: only_consistent (0 = removed; 5 = 5).
    sim.set("node1", &["disk=Consistent"]);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), None);
    assert_eq!(
        mon("node1", &[("adjust_master_score", "5 20 2000 20000")]),
        0
    );
    assert_eq!(sim.score("node1"), Some(5));

    // A transitional disk state leaves the score as it was.
    sim.set("node1", &["disk_override=Attaching"]);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), Some(5));
    sim.set("node1", &["disk_override=none"]);

    // Outdated, no peer: no good data anywhere -> removed.
    sim.set("node1", &["disk=Outdated"]);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), None);

    // Outdated but the peer is connected and UpToDate: only_remote.
    sim.cluster("heal");
    sim.set("node1", &["disk_override=Outdated"]);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), Some(10));
    sim.set("node1", &["disk_override=none", "disk=UpToDate"]);

    // Quorum lost: removed, even with UpToDate data.
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), Some(10000));
    sim.set("node1", &["quorum=no"]);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(sim.score("node1"), None);
    sim.set("node1", &["quorum=auto"]);

    // remove_master_score_if_peer_primary=true: node2 is a healthy Primary.
    assert_eq!(sim.run(&a, "node2", "promote", &[], &[]).code, 0);
    assert_eq!(mon("node1", &[]), 0);
    assert_eq!(
        sim.score("node1"),
        Some(10000),
        "default: a Primary peer changes nothing"
    );
    assert_eq!(
        mon("node1", &[("remove_master_score_if_peer_primary", "true")]),
        0
    );
    assert_eq!(sim.score("node1"), None);
    // unexpected: only while Pacemaker (crm_resource --locate) knows no Primary.
    let unexpected = [("remove_master_score_if_peer_primary", "unexpected")];
    sim.ctl(&["pcmk-promoted", sim.dir.0.to_str().unwrap(), "node2"]);
    assert_eq!(mon("node1", &unexpected), 0);
    assert_eq!(
        sim.score("node1"),
        Some(10000),
        "node2 is the Primary Pacemaker made"
    );
    sim.ctl(&["pcmk-promoted", sim.dir.0.to_str().unwrap()]);
    assert_eq!(mon("node1", &unexpected), 0);
    assert_eq!(
        sim.score("node1"),
        None,
        "a Primary Pacemaker does not know about"
    );
    assert!(
        sim.calls("node1")
            .contains("crm_resource --output-as=xml --resource=d --locate")
    );
}

#[test]
fn simulator_quorum_and_diskless_client() {
    // DRBD quorum (majority of 3): a node alone loses it.
    let sim = Sim::new(
        "quorum",
        &["node1", "node2", "node3"],
        &["--quorum", "--diskless", "node3"],
    );
    let a = agent();
    start_all(&sim, &a, &["node1", "node2", "node3"]);
    assert_eq!(sim.run(&a, "node3", "monitor", &[], &[]).code, 0);
    assert_eq!(
        sim.score("node3"),
        Some(9999),
        "diskless client, all peers UpToDate"
    );
    sim.set("node2", &["disk=Inconsistent"]);
    assert_eq!(sim.run(&a, "node3", "monitor", &[], &[]).code, 0);
    assert_eq!(
        sim.score("node3"),
        Some(999),
        "diskless client, some peer UpToDate"
    );
    sim.set("node2", &["disk=UpToDate"]);
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 8);
    // The link goes: node1 is alone, without quorum, and still Primary:
    // 8 (it is promoted), without a score so Pacemaker promotes elsewhere,
    // as linbit's agent answers (issue 13: ours said 9).
    sim.cluster("cut");
    let m = sim.run(&a, "node1", "monitor", &[], &[]);
    assert_eq!(m.code, 8, "Primary without quorum is still promoted: {m:?}");
    assert!(m.stderr.contains("without quorum"), "{m:?}");
    assert_eq!(sim.score("node1"), None);
    let m3 = sim.run(&a, "node3", "monitor", &[], &[]);
    assert_eq!(m3.code, 0);
    assert_eq!(sim.score("node3"), None, "no quorum and no data");
}

#[test]
fn simulator_split_brain_and_resync() {
    let sim = Sim::new("sb", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1", "node2"]);
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);

    // Lose the peer, then a resync: node2 comes back behind node1.
    sim.cluster("cut");
    sim.ctl(&["write", sim.node("node1").to_str().unwrap()]);
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node2"), Some(1000), "peer unknown");
    sim.cluster("heal");
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(
        sim.score("node2"),
        Some(10),
        "SyncTarget: only the peer is UpToDate"
    );
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 8);
    assert_eq!(sim.score("node1"), Some(10000));
    sim.cluster("sync");
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node2"), Some(10000), "resync done");

    // Split brain: both Primary while apart, then the link returns.
    sim.cluster("cut");
    assert_eq!(sim.run(&a, "node2", "promote", &[], &[]).code, 0);
    sim.ctl(&["write", sim.node("node2").to_str().unwrap()]);
    sim.cluster("heal");
    let m = sim.run(&a, "node1", "monitor", &[], &[]);
    assert_eq!(m.code, 8, "{m:?}");
    assert!(
        m.stderr.contains("StandAlone") && m.stderr.contains("split brain"),
        "split brain is logged: {m:?}"
    );
    assert!(sim.show("node1").contains("\"standalone\": true"));
    // Demote and stop node2 (the victim): stop outdates it when asked to.
    assert_eq!(sim.run(&a, "node2", "demote", &[], &[]).code, 0);
    let stop = sim.run(
        &a,
        "node2",
        "stop",
        &[("stop_outdates_secondary", "true")],
        &[
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            ("OCF_RESKEY_CRM_meta_notify_master_uname", "node1"),
            ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node2"),
        ],
    );
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        sim.calls("node2").contains("outdate r0"),
        "{}",
        sim.calls("node2")
    );
    assert!(sim.show("node2").contains("Outdated"));
}

#[test]
fn simulator_hung_drbdsetup_is_bounded() {
    let sim = Sim::new("hang", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    sim.set("node1", &["hang=drbdsetup"]);
    let t = [("OCF_RESKEY_CRM_meta_timeout", "6000")];
    let m = sim.run(&a, "node1", "monitor", &[], &t);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains("hung"), "{m:?}");
    assert!(
        m.elapsed < Duration::from_secs(6),
        "before the 6 s timeout: {:?}",
        m.elapsed
    );
    // Stop cannot see the device go down: it fails, but in time, with a reason.
    let s = sim.run(&a, "node1", "stop", &[], &t);
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.elapsed < Duration::from_secs(6), "{:?}", s.elapsed);
    assert!(s.reason().unwrap().contains("hung"), "{s:?}");
    // No simulated drbdsetup is left behind.
    let (_, ps) = support::sh("pgrep", &["-f", sim.node("node1").to_str().unwrap()]);
    assert!(ps.trim().is_empty(), "leftover processes: {ps}");
    // (drbdadm still worked: the stop took it down without seeing it.)
    assert!(sim.show("node1").contains("\"up\": false"));
    // A hung `drbdadm primary`: promote fails in time, too.
    sim.set("node1", &["hang=none"]);
    start_all(&sim, &a, &["node1"]);
    sim.set("node1", &["hang=drbdadm:primary"]);
    let p = sim.run(&a, "node1", "promote", &[], &t);
    assert_eq!(p.code, 1, "{p:?}");
    assert!(p.elapsed < Duration::from_secs(6), "{:?}", p.elapsed);
    assert!(p.stderr.contains("hung"), "{p:?}");
    sim.set("node1", &["hang=none"]);
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
}

#[test]
fn simulator_missing_notify_settings() {
    let sim = Sim::new("notifyoff", &["node1"], &[]);
    let a = agent();
    let off = [("OCF_RESKEY_CRM_meta_notify", "false")];
    let s = sim.run(&a, "node1", "start", &[], &off);
    assert_eq!(s.code, 6, "{s:?}");
    let why = s.reason().unwrap();
    assert!(
        why.contains("notify=true") && why.contains("ignore_missing_notifications"),
        "{why}"
    );
    // Monitor and stop never need notifications.
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &off).code, 7);
    assert_eq!(sim.run(&a, "node1", "stop", &[], &off).code, 0);
    // ignore_missing_notifications=true lets it run.
    let ignore = [("ignore_missing_notifications", "true")];
    assert_eq!(sim.run(&a, "node1", "start", &ignore, &off).code, 0);
    assert_eq!(sim.run(&a, "node1", "promote", &ignore, &off).code, 0);
    // Demote never refuses: it is the way back to safety.
    assert_eq!(sim.run(&a, "node1", "demote", &[], &off).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &off).code, 0);
    // Bad clone meta: a precise 6 as well.
    let m = sim.run(
        &a,
        "node1",
        "promote",
        &[],
        &[("OCF_RESKEY_CRM_meta_promoted_max", "3")],
    );
    assert_eq!(m.code, 6);
    assert!(m.reason().unwrap().contains("promoted-max"), "{m:?}");
    // promoted-max=2 without allow-two-primaries in drbd.conf: 6 on start.
    let m = sim.run(
        &a,
        "node1",
        "start",
        &[],
        &[("OCF_RESKEY_CRM_meta_promoted_max", "2")],
    );
    assert_eq!(m.code, 6);
    assert!(m.reason().unwrap().contains("allow-two-primaries"), "{m:?}");
}

#[test]
fn simulator_notifications() {
    let sim = Sim::new("notify", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    // ocf-tester's notify: no type at all -> 0.
    assert_eq!(sim.run(&a, "node1", "notify", &[], &[]).code, 0);
    // pre-start of the peer: adjust (re-connect).
    sim.clear_calls("node1");
    let pre = [
        ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
        ("OCF_RESKEY_CRM_meta_notify_start_uname", "node2"),
    ];
    assert_eq!(sim.run(&a, "node1", "notify", &[], &pre).code, 0);
    assert!(
        sim.calls("node1").contains("adjust r0"),
        "{}",
        sim.calls("node1")
    );
    // post-promote with the legacy names only: the score is recomputed.
    start_all(&sim, &a, &["node2"]);
    std::fs::remove_file(sim.node("node1").join("attrs.json")).unwrap();
    let post = [
        ("OCF_RESKEY_CRM_meta_notify_type", "post"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
        ("OCF_RESKEY_CRM_meta_notify_promote_uname", "node2"),
        ("OCF_RESKEY_CRM_meta_notify_master_uname", "node2"),
        ("OCF_RESKEY_CRM_meta_notify_slave_uname", "node1"),
    ];
    assert_eq!(sim.run(&a, "node1", "notify", &[], &post).code, 0);
    assert_eq!(sim.score("node1"), Some(10000));
    // With connect_only_after_promote, a start notification does not connect.
    sim.clear_calls("node1");
    let only = [("connect_only_after_promote", "true")];
    assert_eq!(sim.run(&a, "node1", "notify", &only, &pre).code, 0);
    assert!(!sim.calls("node1").contains("adjust r0"));
}

#[test]
fn simulator_promote_needs_good_data_and_monitor_says_9_without_it() {
    let sim = Sim::new("nodata", &["node1", "node2"], &["--disk", "Inconsistent"]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    assert_eq!(sim.score("node1"), None, "Inconsistent and alone: no score");
    let p = sim.run(
        &a,
        "node1",
        "promote",
        &[],
        &[("OCF_RESKEY_CRM_meta_timeout", "3000")],
    );
    assert_eq!(p.code, 1, "{p:?}");
    assert!(p.reason().unwrap().contains("UpToDate"), "{p:?}");
    assert!(
        sim.calls("node1").matches(" primary r0").count() == 1,
        "rc 17 is not retried"
    );
    // A Primary whose disk failed with no peer to read from: 9.
    sim.set("node1", &["disk=UpToDate"]);
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    sim.set("node1", &["disk_override=Failed"]);
    let m = sim.run(&a, "node1", "monitor", &[], &[]);
    assert_eq!(m.code, 9, "{m:?}");
    assert!(m.reason().unwrap().contains("UpToDate"), "{m:?}");
}

#[test]
fn simulator_drbd84_uses_sh_status() {
    let sim = Sim::new("v84", &["node1", "node2"], &["--version", "8.4.11"]);
    let a = agent();
    start_all(&sim, &a, &["node1", "node2"]);
    let calls = sim.calls("node1");
    assert!(
        calls.contains("new-resource r0") && calls.contains("attach r0"),
        "{calls}"
    );
    assert!(
        calls.contains("sh-status r0") && !calls.contains("events2"),
        "{calls}"
    );
    assert!(calls.contains("wait-connect 0"), "{calls}");
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node1"), Some(10000));
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 8);
    sim.cluster("cut");
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node2"), Some(1000));
    // A module version outside the required range: 5 on start.
    let s = sim.run(
        &a,
        "node2",
        "start",
        &[("require_drbd_module_version_ge", "9.0.0")],
        &[],
    );
    assert_eq!(s.code, 5, "{s:?}");
    for n in ["node1", "node2"] {
        assert_eq!(sim.run(&a, n, "stop", &[], &[]).code, 0);
        assert_eq!(sim.run(&a, n, "monitor", &[], &[]).code, 7);
    }
}

#[test]
fn simulator_stop_and_probe_with_a_broken_setup() {
    let sim = Sim::new("broken", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    // drbd.conf vanished while the resource runs: stop still takes it down
    // with drbdsetup directly (linbit's fallback) and answers 0.
    let missing = sim.dir.path("gone.conf");
    let gone = [("drbdconf", missing.to_str().unwrap())];
    // Monitor needs no configuration: it still reports the truth.
    assert_eq!(sim.run(&a, "node1", "monitor", &gone, &[]).code, 0);
    let probe0 = [("OCF_RESKEY_CRM_meta_interval", "0")];
    assert_eq!(sim.run(&a, "node1", "monitor", &gone, &probe0).code, 0);
    let s = sim.run(&a, "node1", "stop", &gone, &[]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(sim.calls("node1").contains("drbdsetup down r0"));
    assert!(sim.show("node1").contains("\"up\": false"));
    // With the config missing: a probe says 7, start says 5 (node-local).
    let probe = [("OCF_RESKEY_CRM_meta_interval", "0")];
    assert_eq!(sim.run(&a, "node1", "monitor", &gone, &probe).code, 7);
    assert_eq!(sim.run(&a, "node1", "start", &gone, &[]).code, 5);
    // A resource this node's config does not define: 5 on start, 7 on probe.
    let other = [("drbd_resource", "r9")];
    assert_eq!(sim.run(&a, "node1", "start", &other, &[]).code, 5);
    assert_eq!(sim.run(&a, "node1", "monitor", &other, &probe).code, 7);
    // An invalid parameter on stop: 0 (nothing named like that can run).
    assert_eq!(
        sim.run(&a, "node1", "stop", &[("drbd_resource", "r0;x")], &[])
            .code,
        0
    );
    // Module not loaded: stop 0, probe 7; start loads it (modprobe).
    sim.set("node1", &["module=unloaded"]);
    std::fs::remove_file(sim.node("node1").join("proc-drbd")).unwrap();
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &probe).code, 7);
    assert_eq!(sim.run(&a, "node1", "start", &[], &[]).code, 0);
    assert!(sim.calls("node1").contains("modprobe -s drbd"));
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
    // udev never creates the device node: start fails in time, saying so.
    let dev = sim.node("node1").join("dev/drbd0");
    std::fs::remove_file(&dev).unwrap();
    let s = sim.run(
        &a,
        "node1",
        "start",
        &[],
        &[("OCF_RESKEY_CRM_meta_timeout", "5000")],
    );
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.reason().unwrap().contains("udev"), "{s:?}");
    assert!(s.elapsed < Duration::from_secs(5), "{:?}", s.elapsed);
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
    // A module that cannot be loaded: 5 on start.
    sim.set("node1", &["module=missing"]);
    let s = sim.run(&a, "node1", "start", &[], &[]);
    assert_eq!(s.code, 5, "{s:?}");
    assert!(s.reason().unwrap().contains("drbd module"), "{s:?}");
}

#[test]
fn simulator_validate_all_levels() {
    let sim = Sim::new("validate", &["node1"], &[]);
    let a = agent();
    let v = sim.run(&a, "node1", "validate-all", &[], &[]);
    assert_eq!(v.code, 0, "{v:?}");
    assert!(v.stderr.is_empty(), "silent on success: {v:?}");
    let bad = sim.run(&a, "node1", "validate-all", &[("wfc_timeout", "soon")], &[]);
    assert_eq!(bad.code, 6);
    // As linbit's agent: malformed scores fall back to the default, said
    // in the log, and validate.
    let scores = sim.run(
        &a,
        "node1",
        "validate-all",
        &[("adjust_master_score", "1 2 3")],
        &[],
    );
    assert_eq!(scores.code, 0, "{scores:?}");
    assert!(
        scores
            .stderr
            .contains("falling back to the default 0 10 1000 10000"),
        "{scores:?}"
    );
    let deep = [("OCF_CHECK_LEVEL", "10")];
    assert_eq!(sim.run(&a, "node1", "validate-all", &[], &deep).code, 0);
    let r9 = sim.run(
        &a,
        "node1",
        "validate-all",
        &[("drbd_resource", "r9")],
        &deep,
    );
    assert_eq!(r9.code, 5, "{r9:?}");
    // Level 0 looks at syntax only, whatever the node has.
    assert_eq!(
        sim.run(&a, "node1", "validate-all", &[("drbd_resource", "r9")], &[])
            .code,
        0
    );
}

#[test]
fn simulator_stop_outdates_with_the_new_notify_names() {
    let sim = Sim::new("outdate", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1", "node2"]);
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    // DRBD on node2 no longer sees node1; Pacemaker's list still names it.
    // What Pacemaker passes to the stop itself of a clone with notify=true:
    // the notify lists, but no notify_type or notify_operation (those are
    // set on notify actions only; issue 13: ours needed them, so it never
    // outdated).
    sim.cluster("cut");
    let opt = [("stop_outdates_secondary", "true")];
    let notify = [
        ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "node1"),
        ("OCF_RESKEY_CRM_meta_notify_master_uname", "node1"),
        ("OCF_RESKEY_CRM_meta_notify_unpromoted_uname", "node2"),
        ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node2"),
    ];
    // Without the option: no outdate.
    assert_eq!(sim.run(&a, "node2", "stop", &[], &notify).code, 0);
    assert!(!sim.calls("node2").contains("outdate r0"));
    start_all(&sim, &a, &["node2"]);
    // Without a Primary anywhere: no outdate either.
    assert_eq!(sim.run(&a, "node2", "stop", &opt, &[]).code, 0);
    assert!(!sim.calls("node2").contains("outdate r0"));
    start_all(&sim, &a, &["node2"]);
    assert_eq!(sim.run(&a, "node2", "stop", &opt, &notify).code, 0);
    assert!(
        sim.calls("node2").contains("outdate r0"),
        "{}",
        sim.calls("node2")
    );
    assert!(sim.show("node2").contains("Outdated"));
    // Outdated and alone: no score, and promote is refused by DRBD.
    start_all(&sim, &a, &["node2"]);
    assert_eq!(sim.score("node2"), None);
    // The Primary named is being stopped too (a stale list): no outdate.
    sim.set("node2", &["disk=UpToDate"]);
    sim.clear_calls("node2");
    let both = [
        ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "node1"),
        ("OCF_RESKEY_CRM_meta_notify_stop_uname", "node1 node2"),
    ];
    assert_eq!(sim.run(&a, "node2", "stop", &opt, &both).code, 0);
    assert!(!sim.calls("node2").contains("outdate r0"));
}

/// PATH with the node's simulated tools and /usr/bin:/bin only: without
/// /usr/sbin, where drbd-utils installs the real drbdadm and drbdsetup, a
/// tool removed from the node's bin/ is really missing.
fn path_without_sbin(sim: &Sim, n: &str) -> String {
    format!("{}:/usr/bin:/bin", sim.bin(n).display())
}

#[test]
fn simulator_resource_all_and_option_like_names_are_refused() {
    let sim = Sim::new("all", &["node1", "node2"], &["--resource", "r0,r1"]);
    let a = agent();
    for bad in ["all", "-r0", "--force"] {
        let v = sim.run(&a, "node1", "validate-all", &[("drbd_resource", bad)], &[]);
        assert_eq!(v.code, 6, "{bad}: {v:?}");
        assert!(v.reason().unwrap().contains("drbd_resource"), "{v:?}");
        let s = sim.run(&a, "node1", "start", &[("drbd_resource", bad)], &[]);
        assert_eq!(s.code, 6, "{bad}: {s:?}");
    }
    assert!(
        !sim.calls("node1").contains("adjust"),
        "nothing started: {}",
        sim.calls("node1")
    );
    // r0 is ours, r1 another DRBD resource of the node (up by hand).
    start_all(&sim, &a, &["node1"]);
    let conf = sim.conf.to_str().unwrap().to_string();
    let adm = sim.bin("node1").join("drbdadm");
    let (code, out) = support::sh(adm.to_str().unwrap(), &["-c", &conf, "up", "r1"]);
    assert_eq!(code, 0, "{out}");
    // drbd_resource changed to `all` while r0 runs: the probe sees r0 (what
    // start recorded), stop takes down r0 and leaves r1 alone.
    let all = [("drbd_resource", "all")];
    let probe = sim.run(
        &a,
        "node1",
        "monitor",
        &all,
        &[("OCF_RESKEY_CRM_meta_interval", "0")],
    );
    assert_eq!(probe.code, 0, "{probe:?}");
    let stop = sim.run(&a, "node1", "stop", &all, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    let st = sim.show("node1");
    let r1 = &st[st.find("\"r1\"").unwrap()..];
    assert!(r1.contains("\"up\": true"), "r1 is not ours: {st}");
    let r0 = &st[st.find("\"r0\"").unwrap()..st.find("\"r1\"").unwrap()];
    assert!(r0.contains("\"up\": false"), "r0 is down: {st}");
    assert!(
        !sim.calls("node1").contains(" all"),
        "{}",
        sim.calls("node1")
    );
    assert!(
        sim.record("node1").is_none(),
        "the record goes with a stop that answered 0"
    );
}

#[test]
fn simulator_stop_falls_back_to_drbdsetup_when_drbdadm_fails() {
    let sim = Sim::new("admfails", &["node1", "node2"], &[]);
    let a = agent();
    // Before the fix stop retried drbdadm until this timeout, then said 1.
    let t = [("OCF_RESKEY_CRM_meta_timeout", "20000")];
    // A syntax error in drbd.conf while r0 runs as Primary.
    start_all(&sim, &a, &["node1"]);
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    std::fs::write(&sim.conf, "resource r0 {\n  on node1 {\n").unwrap();
    let s = sim.run(&a, "node1", "stop", &[], &t);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(
        s.elapsed < Duration::from_secs(10),
        "no retrying until the timeout: {:?}",
        s.elapsed
    );
    let calls = sim.calls("node1");
    assert!(
        calls.contains("drbdsetup secondary r0") && calls.contains("drbdsetup down r0"),
        "{calls}"
    );
    assert!(sim.show("node1").contains("\"up\": false"));
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 7);
    // The resource removed from drbd.conf (another one declared) while up.
    std::fs::write(&sim.conf, "# r0 left\nresource r1 { }\n").unwrap();
    let (code, out) = support::sh(
        sim.bin("node1").join("drbdadm").to_str().unwrap(),
        &["adjust", "r0"],
    );
    assert_eq!(code, 0, "up by hand: {out}");
    let s = sim.run(&a, "node1", "stop", &[], &t);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(sim.show("node1").contains("\"up\": false"));
    // drbdsetup cannot take it down either (held open): 1, in time, never 0.
    assert_eq!(
        support::sh(
            sim.bin("node1").join("drbdadm").to_str().unwrap(),
            &["adjust", "r0"]
        )
        .0,
        0
    );
    sim.set("node1", &["held_open=yes"]);
    let s = sim.run(
        &a,
        "node1",
        "stop",
        &[],
        &[("OCF_RESKEY_CRM_meta_timeout", "10000")],
    );
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.elapsed < Duration::from_secs(10), "{:?}", s.elapsed);
    assert!(s.reason().unwrap().contains("held open"), "{s:?}");
    sim.set("node1", &["held_open=no"]);
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
}

#[test]
fn simulator_start_fails_when_the_disk_does_not_attach() {
    let sim = Sim::new("attach", &["node1", "node2"], &[]);
    let a = agent();
    // DRBD 9: `adjust --skip-net` creates the resource, then cannot open
    // the backing device. Start must not answer 0 with a Diskless disk.
    sim.set("node1", &["attach_error=yes"]);
    let s = sim.run(&a, "node1", "start", &[], &[]);
    assert_eq!(s.code, 1, "{s:?}");
    assert!(s.reason().unwrap().contains("attach"), "{s:?}");
    assert_eq!(
        sim.calls("node1").matches("adjust --skip-net r0").count(),
        2,
        "one retry"
    );
    // What stop needs is there: the record, and the resource it created.
    assert!(sim.record("node1").unwrap().contains("resource=r0"));
    assert!(sim.show("node1").contains("\"up\": true"));
    assert_eq!(
        sim.run(
            &a,
            "node1",
            "monitor",
            &[],
            &[("OCF_RESKEY_CRM_meta_interval", "0")]
        )
        .code,
        0
    );
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
    assert!(sim.show("node1").contains("\"up\": false"));
    // The same on DRBD 8.4 (new-resource, new-minor, attach).
    let old = Sim::new("attach84", &["node1", "node2"], &["--version", "8.4.11"]);
    old.set("node1", &["attach_error=yes"]);
    let s = old.run(&a, "node1", "start", &[], &[]);
    assert_eq!(s.code, 1, "{s:?}");
    assert_eq!(old.run(&a, "node1", "stop", &[], &[]).code, 0);
    assert!(old.show("node1").contains("\"up\": false"));
    // Once the disk can be opened, start works.
    old.set("node1", &["attach_error=no"]);
    assert_eq!(old.run(&a, "node1", "start", &[], &[]).code, 0);
    assert_eq!(old.run(&a, "node1", "stop", &[], &[]).code, 0);
}

#[test]
fn simulator_start_records_what_stop_and_probe_need() {
    let sim = Sim::new("record", &["node1", "node2"], &["--volumes", "2"]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    let rec = sim.record("node1").expect("start records");
    let setup = sim.bin("node1").join("drbdsetup");
    for line in [
        "resource=r0".to_string(),
        "minors=0,1".to_string(),
        format!("drbdsetup={}", setup.display()),
    ] {
        assert!(rec.lines().any(|l| l == line), "{line} in {rec}");
    }
    assert_eq!(sim.run(&a, "node1", "promote", &[], &[]).code, 0);
    let probe0 = [("OCF_RESKEY_CRM_meta_interval", "0")];
    // The drbdsetup parameter changed to a program that does not exist (the
    // environment check fails): the probe reads the kernel through the
    // recorded drbdsetup and sees the Primary.
    let gone = [("drbdsetup", "/nonexistent/drbdsetup")];
    let p = sim.run(&a, "node1", "monitor", &gone, &probe0);
    assert_eq!(p.code, 8, "{p:?}");
    // drbdadm gone too, and drbd_resource refused: still the record's r0.
    let worse = [
        ("drbdadm", "/nonexistent/drbdadm"),
        ("drbdsetup", "/nonexistent/drbdsetup"),
        ("drbd_resource", "r0;x"),
    ];
    assert_eq!(sim.run(&a, "node1", "monitor", &worse, &probe0).code, 8);
    let s = sim.run(&a, "node1", "stop", &worse, &[]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(sim.show("node1").contains("\"up\": false"));
    assert!(sim.record("node1").is_none());
    assert_eq!(sim.run(&a, "node1", "monitor", &worse, &probe0).code, 7);
}

#[test]
fn simulator_a_changed_resource_name_does_not_hide_what_runs() {
    let sim = Sim::new("rename", &["node1", "node2"], &["--resource", "r0,r1"]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    let probe0 = [("OCF_RESKEY_CRM_meta_interval", "0")];
    // drbd_resource changed to r1 (valid, defined, not running): the probe
    // and monitor still see r0, stop takes down both.
    let r1 = [("drbd_resource", "r1")];
    assert_eq!(sim.run(&a, "node1", "monitor", &r1, &probe0).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &r1, &[]).code, 0);
    assert_eq!(sim.run(&a, "node1", "stop", &r1, &[]).code, 0);
    assert!(
        !sim.show("node1").contains("\"up\": true"),
        "{}",
        sim.show("node1")
    );
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &probe0).code, 7);
    // Changed to r1 with a value refused elsewhere, while r1 runs but was
    // not started by this instance: the record (r0) decides, r1 is left.
    start_all(&sim, &a, &["node1"]);
    let adm = sim.bin("node1").join("drbdadm");
    assert_eq!(support::sh(adm.to_str().unwrap(), &["up", "r1"]).0, 0);
    let bad = [("drbd_resource", "r1"), ("wfc_timeout", "soon")];
    sim.clear_calls("node1");
    assert_eq!(sim.run(&a, "node1", "stop", &bad, &[]).code, 0);
    let st = sim.show("node1");
    let r0 = &st[st.find("\"r0\"").unwrap()..st.find("\"r1\"").unwrap()];
    assert!(r0.contains("\"up\": false"), "{st}");
    assert!(
        st[st.find("\"r1\"").unwrap()..].contains("\"up\": true"),
        "{st}"
    );
    assert!(sim.calls("node1").lines().all(|l| !l.contains("down r1")));
    assert_eq!(support::sh(adm.to_str().unwrap(), &["down", "r1"]).0, 0);
    // Renamed in the kernel (drbdsetup rename-resource r0 r5) while
    // drbd_resource still says r0: found again by the recorded minors.
    start_all(&sim, &a, &["node1"]);
    let setup = sim.bin("node1").join("drbdsetup");
    let (code, out) = support::sh(setup.to_str().unwrap(), &["rename-resource", "r0", "r5"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &probe0).code, 0);
    let s = sim.run(&a, "node1", "stop", &[], &[]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(
        sim.calls("node1").contains("down r5"),
        "{}",
        sim.calls("node1")
    );
    assert!(
        !sim.show("node1").contains("\"up\": true"),
        "{}",
        sim.show("node1")
    );
}

#[test]
fn simulator_drbdsetup_missing_is_never_stopped() {
    let sim = Sim::new("nosetup", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    // An upgrade removed drbd-utils' drbdsetup; the module stays loaded.
    let bin_setup = sim.bin("node1").join("drbdsetup");
    std::fs::remove_file(&bin_setup).unwrap();
    let path = path_without_sbin(&sim, "node1");
    let env = [("PATH", path.as_str())];
    let probe = [
        ("PATH", path.as_str()),
        ("OCF_RESKEY_CRM_meta_interval", "0"),
    ];
    let p = sim.run(&a, "node1", "monitor", &[], &probe);
    assert_eq!(p.code, 1, "cannot see, never 7: {p:?}");
    assert!(p.reason().unwrap().contains("drbdsetup"), "{p:?}");
    let s = sim.run(&a, "node1", "stop", &[], &env);
    assert_eq!(s.code, 1, "cannot stop, never 0: {s:?}");
    assert!(sim.show("node1").contains("\"up\": true"));
    // Put back: stop works. Removed again while stopped: 7 and 0.
    std::os::unix::fs::symlink(sim.dir.path("drbd-simulator"), &bin_setup).unwrap();
    assert_eq!(sim.run(&a, "node1", "stop", &[], &env).code, 0);
    std::fs::remove_file(&bin_setup).unwrap();
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &probe).code, 7);
    assert_eq!(sim.run(&a, "node1", "stop", &[], &env).code, 0);
}

#[test]
fn simulator_optional_behaviours() {
    let sim = Sim::new("options", &["node1", "node2"], &[]);
    let a = agent();
    // connect_only_after_promote: start leaves the network down, promote connects.
    let only = [("connect_only_after_promote", "true")];
    assert_eq!(sim.run(&a, "node1", "start", &only, &[]).code, 0);
    assert!(
        !sim.calls("node1").contains("adjust r0"),
        "{}",
        sim.calls("node1")
    );
    assert!(sim.show("node1").contains("\"net\": false"));
    assert_eq!(sim.run(&a, "node1", "promote", &only, &[]).code, 0);
    assert!(sim.calls("node1").contains("adjust r0"));
    assert!(sim.show("node1").contains("\"net\": true"));

    // unfence_if_all_uptodate: Primary and every disk UpToDate -> unfence-peer.
    // node2 connects behind node1 (which became Primary alone): resync first.
    start_all(&sim, &a, &["node2"]);
    let unfence = [("unfence_if_all_uptodate", "true")];
    assert_eq!(sim.run(&a, "node1", "monitor", &unfence, &[]).code, 8);
    assert!(
        !sim.calls("node1").contains("unfence-peer"),
        "peer still SyncTarget"
    );
    sim.cluster("sync");
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 8);
    assert!(
        !sim.calls("node1").contains("unfence-peer"),
        "off by default"
    );
    assert_eq!(sim.run(&a, "node1", "monitor", &unfence, &[]).code, 8);
    assert!(sim.calls("node1").contains("unfence-peer r0"));

    // fail_promote_early_if_peer_primary: give up after the first refusal
    // and drop the score, instead of retrying until the timeout.
    let early = [("fail_promote_early_if_peer_primary", "true")];
    assert_eq!(sim.run(&a, "node2", "monitor", &[], &[]).code, 0);
    assert_eq!(sim.score("node2"), Some(10000));
    sim.clear_calls("node2");
    let p = sim.run(
        &a,
        "node2",
        "promote",
        &early,
        &[("OCF_RESKEY_CRM_meta_timeout", "5000")],
    );
    assert_eq!(p.code, 1, "{p:?}");
    assert!(
        p.reason().unwrap().contains("already (or still) Primary"),
        "{p:?}"
    );
    assert_eq!(sim.calls("node2").matches(" primary r0").count(), 1);
    assert_eq!(sim.score("node2"), None);
}

/// No value the agent hands drbdadm, drbdsetup, modprobe, crm_attribute or
/// crm_resource can read as an option: checked on the argv each simulated
/// tool really got. Before the fix `drbdadm sh-mod-parms` output went to
/// modprobe word for word (`--force` included), a relative `drbdconf`
/// passed validation, and a resource renamed in the kernel to `-d` (found
/// by the minors start recorded) went to drbdadm as its --dry-run option,
/// and to drbdsetup, until stop's timeout.
#[test]
fn simulator_no_value_reaches_a_tool_as_an_option() {
    let sim = Sim::new("options", &["node1", "node2"], &[]);
    let a = agent();
    let probe0 = [("OCF_RESKEY_CRM_meta_interval", "0")];
    // Whatever reads as an option after the tool's own words.
    let options_after = |argv: &[String], fixed: usize| -> Vec<String> {
        argv.iter()
            .skip(fixed)
            .filter(|w| w.starts_with('-'))
            .cloned()
            .collect()
    };

    // drbdconf must be an absolute path: `-x` or a relative name is refused
    // before any tool runs.
    for bad in ["-x", "--config-file=/x", "drbd.conf"] {
        let v = sim.run(&a, "node1", "validate-all", &[("drbdconf", bad)], &[]);
        assert_eq!(v.code, 6, "{bad}: {v:?}");
        assert!(v.reason().unwrap().contains("drbdconf"), "{v:?}");
    }
    assert!(sim.argv("node1").is_empty(), "{:?}", sim.argv("node1"));

    // modprobe gets only name=value words of sh-mod-parms.
    sim.set("node1", &["module=unloaded"]);
    std::fs::remove_file(sim.node("node1").join("proc-drbd")).unwrap();
    sim.set(
        "node1",
        &["mod_parms=minor_count=8 --force -v usermode_helper=/bin/true =x -"],
    );
    let s = sim.run(&a, "node1", "start", &[], &[]);
    assert_eq!(s.code, 0, "{s:?}");
    let modprobe: Vec<Vec<String>> = sim
        .argv("node1")
        .into_iter()
        .filter(|c| c[0] == "modprobe")
        .collect();
    assert_eq!(
        modprobe,
        [[
            "modprobe",
            "-s",
            "drbd",
            "minor_count=8",
            "usermode_helper=/bin/true"
        ]
        .map(String::from)
        .to_vec()],
    );
    // A monitor, a notify and a stop: every drbdadm/drbdsetup call names
    // the resource or a minor as a word, crm_resource --resource= joined.
    let notify = [
        ("OCF_RESKEY_CRM_meta_notify_type", "post"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
        ("OCF_RESKEY_CRM_meta_notify_start_uname", "-x --force"),
        ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "-n"),
    ];
    assert_eq!(sim.run(&a, "node1", "notify", &[], &notify).code, 0);
    assert_eq!(sim.run(&a, "node1", "monitor", &[], &[]).code, 0);
    for call in sim.argv("node1") {
        let allowed: &[&str] = match call[0].as_str() {
            "drbdadm" => &["-c", "--skip-net", "--version"],
            "drbdsetup" => &[
                "--now",
                "--wfc-timeout",
                "--degr-wfc-timeout",
                "--outdated-wfc-timeout",
            ],
            "crm_attribute" => &[
                "--output-as",
                "--promotion",
                "--lifetime",
                "--node",
                "--update",
                "--delete",
                "--query",
            ],
            "crm_resource" => &["--output-as", "--resource", "--locate"],
            "modprobe" => &["-s"],
            other => panic!("unexpected tool {other}: {call:?}"),
        };
        let extra: Vec<String> = options_after(&call, 1)
            .into_iter()
            .filter(|o| !allowed.contains(&o.split('=').next().unwrap_or("")))
            .collect();
        assert!(extra.is_empty(), "{extra:?} in {call:?}");
        assert!(!call.iter().any(|w| w == "-x" || w == "-n"), "{call:?}");
    }

    // The kernel's resource renamed to `-d` (it keeps the minors start
    // recorded): never passed on; stop and probe say they cannot tell
    // rather than "stopped".
    let setup = sim.bin("node1").join("drbdsetup");
    let (code, out) = support::sh(
        setup.to_str().unwrap(),
        &["rename-resource", "r0", "--", "-d"],
    );
    assert_eq!(code, 0, "{out}");
    sim.clear_calls("node1");
    let t = [("OCF_RESKEY_CRM_meta_timeout", "10000")];
    let stop = sim.run(&a, "node1", "stop", &[], &t);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(
        stop.reason().unwrap().contains("take it down by hand"),
        "{stop:?}"
    );
    assert!(stop.elapsed < Duration::from_secs(5), "{stop:?}");
    let probe = sim.run(&a, "node1", "monitor", &[], &[probe0[0], t[0]]);
    assert_eq!(probe.code, 1, "{probe:?}");
    let bad = [("drbd_resource", "r0;x")];
    assert_eq!(sim.run(&a, "node1", "stop", &bad, &t).code, 1);
    assert_eq!(
        sim.run(&a, "node1", "monitor", &bad, &[probe0[0], t[0]])
            .code,
        1
    );
    for call in sim.argv("node1") {
        assert!(!call.iter().any(|w| w == "-d"), "{call:?}");
    }
    assert!(sim.show("node1").contains("\"up\": true"), "left alone");
    // Renamed back by hand: stop takes it down.
    let (code, out) = support::sh(
        setup.to_str().unwrap(),
        &["rename-resource", "--", "-d", "r0"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(sim.run(&a, "node1", "stop", &[], &[]).code, 0);
}

/// A FIFO in place of drbd.conf (say, `drbdconf` in a directory a user can
/// write to): no action waits on it. Start answers 5 at once, and stop takes
/// down what start recorded with drbdsetup, as with drbd.conf gone. Before
/// the fix the environment check's open() waited for a writer until the
/// timeout: a stop that times out gets the node fenced.
#[test]
fn simulator_a_fifo_as_drbdconf_never_blocks() {
    let sim = Sim::new("conffifo", &["node1", "node2"], &[]);
    let a = agent();
    start_all(&sim, &a, &["node1"]);
    let fifo = sim.dir.path("fifo.conf");
    let (code, out) = support::sh("mkfifo", &[fifo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let p = [("drbdconf", fifo.to_str().unwrap())];
    let t = [("OCF_RESKEY_CRM_meta_timeout", "10000")];
    let quick = |o: &support::Outcome| o.elapsed < Duration::from_secs(5);
    let v = sim.run(
        &a,
        "node1",
        "validate-all",
        &p,
        &[t[0], ("OCF_CHECK_LEVEL", "10")],
    );
    assert!(quick(&v) && v.code == 5, "{v:?}");
    let s = sim.run(&a, "node1", "start", &p, &t);
    assert!(quick(&s) && s.code == 5, "{s:?}");
    let stop = sim.run(&a, "node1", "stop", &p, &t);
    assert!(quick(&stop) && stop.code == 0, "{stop:?}");
    assert!(sim.show("node1").contains("\"up\": false"));
}
