//! The seed's Xen farm configuration (`primitive sentinel ocf:heartbeat:Xen
//! params xmfile=... shutdown_timeout=5 op monitor interval=10s op start
//! timeout=60 op stop timeout=40s`) re-created with ocf:rust:xen in the
//! one-node Pacemaker cluster, with crmsh as the seed did, against a host of
//! the xl SIMULATOR (there is no Xen hypervisor on the test machines).

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::xen::{SimHost, domain_config};
use common::{Scratch, provider, sh, system_install, wait_for};

#[test]
fn seed_configuration_starts_and_stops_within_40s_on_the_xl_simulator() {
    system_install();
    let c = Cluster::up();
    let dir = Scratch::new("cluster-xen");
    let host = SimHost::new(&dir.0, "node1");
    let cfg = domain_config(&dir, "sentinel");
    let (rc, out) = sh(
        "crm",
        &[
            "configure",
            "primitive",
            "sentinel",
            &format!("ocf:{}:xen", provider()),
            "params",
            &format!("xmfile={}", cfg.display()),
            "shutdown_timeout=5",
            &format!("binary={}", host.xl.display()),
            "autoset_utilization_cpu=true",
            "autoset_utilization_hv_memory=true",
            "op",
            "monitor",
            "interval=10s",
            "op",
            "start",
            "timeout=60",
            "op",
            "stop",
            "timeout=40s",
        ],
    );
    assert_eq!(rc, 0, "crm configure failed: {out}");
    assert!(
        c.wait_role("sentinel", "Started", Duration::from_secs(60)),
        "{}",
        c.crm_mon()
    );
    assert!(
        host.has("sentinel"),
        "the domain runs: {}",
        host.xl(&["list"]).1
    );
    println!("{}", c.crm_mon());

    // Utilization from `xl list -l`: 2 vCPUs and 256 MiB in the config.
    let util = |name: &str| {
        sh(
            "crm_resource",
            &[
                "--resource",
                "sentinel",
                "--utilization",
                "--get-parameter",
                name,
            ],
        )
        .1
    };
    assert!(
        wait_for(Duration::from_secs(20), || util("cpu").trim() == "2"),
        "cpu: {}",
        util("cpu")
    );
    assert_eq!(util("hv_memory").trim(), "256");

    // The guest ignores the shutdown request: stop destroys it after
    // shutdown_timeout, well inside the 40 s stop timeout.
    host.set("sentinel", &["ignore_shutdown=1"]);
    let t = Instant::now();
    c.pcs(&["resource", "disable", "sentinel"]);
    assert!(
        c.wait_role("sentinel", "Stopped", Duration::from_secs(45)),
        "{}",
        c.crm_mon()
    );
    let took = t.elapsed();
    println!(
        "stop of a guest that ignores shutdown took {:.1}s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(40), "took {took:?}");
    assert!(!host.has("sentinel"));
    let calls = host.calls();
    assert!(
        calls.contains("shutdown -- sentinel") && calls.contains("destroy -- sentinel"),
        "{calls}"
    );
    assert!(
        !c.crm_mon().contains("Failed Resource Actions"),
        "{}",
        c.crm_mon()
    );
    c.pcs(&["resource", "delete", "sentinel"]);
}
