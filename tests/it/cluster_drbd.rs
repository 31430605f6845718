//! ocf:<provider>:drbd as a promotable clone in a real one-node Corosync +
//! Pacemaker cluster, against the DRBD SIMULATOR (tests/sim/drbd-simulator): there is
//! no DRBD kernel module here. Pacemaker runs agents with its own PATH and
//! environment, so the resource's `drbdadm`/`drbdsetup` parameters point at
//! the simulated node's tools (the simulator finds its state from its own
//! path). crm_attribute is Pacemaker's real one: the promotion score lands
//! in the real CIB, and Pacemaker promotes on it; a failed Primary (monitor
//! 9) is recovered and not promoted again without good data.

use support::drbd as drbd_sim;

use std::time::Duration;

use drbd_sim::Sim;
use support::cluster::Cluster;
use support::{provider, sh, system_install, wait_for};

fn promotion_score() -> Option<String> {
    let (code, out) = sh(
        "crm_attribute",
        &[
            "--promotion=d",
            "--lifetime=reboot",
            "--node",
            "node1",
            "--query",
            "--quiet",
        ],
    );
    (code == 0).then(|| out.trim().to_string())
}

#[test]
fn pcs_promotable_clone_gets_promoted_on_the_simulator() {
    system_install();
    // Two simulated nodes, only node1 in the cluster: node2's disk is
    // unknown, so node1's score is 1000 (linbit's "local data UpToDate").
    let sim = Sim::new("cluster", &["node1", "node2"], &[]);
    let c = Cluster::up();
    let adm = format!("drbdadm={}", sim.bin("node1").join("drbdadm").display());
    let setup = format!("drbdsetup={}", sim.bin("node1").join("drbdsetup").display());
    let conf = format!("drbdconf={}", sim.conf.display());
    c.pcs(&[
        "resource",
        "create",
        "d",
        &format!("ocf:{}:drbd", provider()),
        "drbd_resource=r0",
        &conf,
        &adm,
        &setup,
        "wfc_timeout=1",
        "promotable",
        "notify=true",
    ]);
    assert!(
        c.wait_role("d", "Promoted", Duration::from_secs(60)),
        "not promoted:\n{}\n{}",
        c.crm_mon(),
        sim.calls("node1")
    );
    println!("{}", c.crm_mon());
    assert!(sim.show("node1").contains("\"role\": \"Primary\""));
    assert!(
        wait_for(Duration::from_secs(30), || promotion_score().as_deref()
            == Some("10000")),
        "the promoted node's score is 10000: {:?}",
        promotion_score()
    );
    // remove_master_score_if_peer_primary=unexpected reads Pacemaker's view
    // from `crm_resource --locate` XML: check our reading of the real thing.
    let (code, locate) = sh(
        "crm_resource",
        &["--output-as=xml", "--resource", "d", "--locate"],
    );
    assert_eq!(code, 0, "{locate}");
    println!("{locate}");
    assert!(drbd::promoted_elsewhere(&locate, Some("node2")), "{locate}");
    assert!(
        !drbd::promoted_elsewhere(&locate, Some("node1")),
        "{locate}"
    );
    let calls = sim.calls("node1");
    assert!(
        calls.contains("adjust --skip-net r0") && calls.contains("primary r0"),
        "{calls}"
    );

    // The Primary's disk fails (no peer to read from): the promoted monitor
    // says 9, Pacemaker recovers the instance (demote, stop, start), and
    // without good data there is no score, so it stays Unpromoted.
    sim.set("node1", &["disk_override=Failed"]);
    assert!(
        wait_for(Duration::from_secs(90), || c.fail_count("d") >= 1
            && c.resource("d")
                .is_some_and(|r| r.role == "Unpromoted" && !r.failed)),
        "no recovery to Unpromoted:\n{}",
        c.crm_mon()
    );
    println!("{}", c.crm_mon());
    assert!(sim.show("node1").contains("\"role\": \"Secondary\""));
    assert_eq!(promotion_score(), None, "no score without good data");
    let mon = c.crm_mon();
    assert!(
        mon.contains("promoted (failed)") && mon.contains("without access to UpToDate data"),
        "the failed monitor and its reason are shown:\n{mon}"
    );

    // Disable the clone: Pacemaker demotes (drbdadm secondary), then stops
    // (drbdadm down), and the stop removes the promotion score.
    c.pcs(&["resource", "disable", "d-clone"]);
    assert!(
        wait_for(Duration::from_secs(60), || sim
            .show("node1")
            .contains("\"up\": false")),
        "not stopped:\n{}",
        c.crm_mon()
    );
    assert!(
        sim.calls("node1").contains("secondary r0"),
        "demoted before the stop"
    );
    assert!(
        wait_for(Duration::from_secs(20), || promotion_score().is_none()),
        "stop removed the score: {:?}",
        promotion_score()
    );
    c.pcs(&["resource", "delete", "d-clone"]);
}
