//! ocf:rust:dummy in a real one-node Corosync + Pacemaker cluster, driven by
//! pcs as a user would: created and Started, a failed monitor recovered by
//! Pacemaker (fail-count 1), disabled and stopped.

use std::fs;
use std::time::Duration;

use support::cluster::Cluster;
use support::{Scratch, provider, system_install, wait_for};

#[test]
fn pcs_creates_recovers_and_disables_a_dummy() {
    system_install();
    let c = Cluster::up();
    let s = Scratch::new("cluster-dummy");
    let state = s.path("d.state");
    let st = format!("state={}", state.display());
    c.pcs(&[
        "resource",
        "create",
        "d",
        &format!("ocf:{}:dummy", provider()),
        &st,
        "op",
        "monitor",
        "interval=3s",
        "timeout=20s",
    ]);
    assert!(
        c.wait_role("d", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    assert!(state.is_file(), "Pacemaker's start wrote the state file");
    println!("{}", c.crm_mon());

    // The state file vanishes behind the cluster's back: the next monitor
    // says 7, Pacemaker records a failure and starts the resource again.
    fs::remove_file(&state).unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || c.fail_count("d") == 1
            && state.is_file()),
        "no recovery:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("d", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    let mon = c.crm_mon();
    println!("{mon}");
    assert!(
        mon.contains("not running"),
        "the failed monitor is shown:\n{mon}"
    );

    check_cluster_tool_calls(&c);

    c.pcs(&["resource", "disable", "d"]);
    assert!(
        c.wait_role("d", "Stopped", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    assert!(!state.exists(), "stop removed the state file");
    c.pcs(&["resource", "delete", "d"]);
}

/// The shared library's bounded calls to crm_attribute/crm_resource against
/// the live CIB: what drbd (promotion scores) and vm (utilization, target-role)
/// rely on.
fn check_cluster_tool_calls(c: &Cluster) {
    use ocf::cluster;
    let ctx = ocf::Context::from_vars(
        "dummy",
        "monitor",
        [
            ("OCF_RESOURCE_INSTANCE", "d"),
            ("OCF_RESKEY_CRM_meta_on_node", "node1"),
        ],
    );
    let dl = ocf::Deadline::after(Duration::from_secs(20));
    assert_eq!(cluster::promotion_score(&ctx, &dl), Ok(None));
    cluster::set_promotion_score(&ctx, 10000, &dl).unwrap();
    assert_eq!(cluster::promotion_score(&ctx, &dl), Ok(Some(10000)));
    cluster::delete_promotion_score(&ctx, &dl).unwrap();
    assert_eq!(cluster::promotion_score(&ctx, &dl), Ok(None));

    assert_eq!(cluster::resource_utilization("d", "cpu", &dl), Ok(None));
    cluster::set_resource_utilization("d", "cpu", "2", &dl).unwrap();
    assert_eq!(
        cluster::resource_utilization("d", "cpu", &dl),
        Ok(Some("2".to_string()))
    );
    let cib = c.pcs(&["resource", "config", "d"]);
    assert!(cib.contains("cpu=2"), "utilization is in the CIB:\n{cib}");

    cluster::set_resource_meta("d", "target-role", "Stopped", &dl).unwrap();
    assert!(
        c.wait_role("d", "Stopped", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    c.pcs(&["resource", "enable", "d"]);
    assert!(
        c.wait_role("d", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
}
