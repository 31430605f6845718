//! The seed's Xen farm configuration (`primitive sentinel ocf:heartbeat:Xen
//! params xmfile=... shutdown_timeout=5 op monitor interval=10s op start
//! timeout=60 op stop timeout=40s`) re-created with ocf:rust:xen in the
//! one-node Pacemaker cluster, with crmsh as the seed did, against a host of
//! the xl SIMULATOR (there is no Xen hypervisor on the test machines).

use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::xen::{SimHost, domain_config};
use support::{Scratch, provider, sh, system_install, wait_for};

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

/// Issue 14: `node_ip_attribute` names a node attribute whose value xl puts
/// into `exec ssh VALUE xl migrate-receive` and runs through a shell. Set
/// in the real CIB to shell syntax or an ssh option, it never reaches
/// `xl migrate` (the xl SIMULATOR runs what reaches it as xl does):
/// migrate_to answers 2 and says which attribute is wrong.
#[test]
fn a_hostile_migration_address_in_a_node_attribute_never_reaches_xl_simulator() {
    let _c = Cluster::up();
    let dir = Scratch::new("cluster-xen-attr");
    let host = SimHost::new(&dir.0, "node1");
    let cfg = domain_config(&dir, "sentinel");
    let marker = dir.path("pwned");
    let evil = dir.path("evil");
    std::fs::write(&evil, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    sh("chmod", &["755", evil.to_str().unwrap()]);
    let agent = support::agent_link("xen");
    let rsctmp = dir.path("rsctmp").display().to_string();
    let params = [
        ("xmfile", cfg.to_str().unwrap()),
        ("binary", host.xl.to_str().unwrap()),
        ("node_ip_attribute", "vma-mig-ip"),
    ];
    let run = |action: &str| {
        support::ocf(
            &agent,
            action,
            &params,
            &[
                ("OCF_RESOURCE_INSTANCE", "sentinel"),
                ("HA_RSCTMP", rsctmp.as_str()),
                ("OCF_RESKEY_CRM_meta_migrate_target", "node1"),
            ],
        )
    };
    assert_eq!(run("start").code, 0);
    for value in [
        format!("node2|{}", evil.display()),
        format!("-oProxyCommand={}", evil.display()),
        format!("$({})", evil.display()),
    ] {
        // `--update=VALUE`: crm_attribute would read `-o...` as options.
        let (rc, out) = sh(
            "crm_attribute",
            &[
                "--type",
                "nodes",
                "--node",
                "node1",
                "--name",
                "vma-mig-ip",
                &format!("--update={value}"),
            ],
        );
        assert_eq!(rc, 0, "{out}");
        let out = run("migrate_to");
        assert_eq!(out.code, 2, "{value:?}: {out:?}");
        let reason = out.reason().unwrap();
        assert!(
            reason.contains("node attribute vma-mig-ip") && reason.contains("neither an IP"),
            "{reason}"
        );
        assert!(!marker.exists(), "{value:?} ran a command");
        assert!(host.has("sentinel"));
    }
    assert!(
        host.argv()
            .iter()
            .all(|a| !a.iter().any(|w| w == "migrate")),
        "{:?}",
        host.argv()
    );
    let _ = sh(
        "crm_attribute",
        &[
            "--type",
            "nodes",
            "--node",
            "node1",
            "--name",
            "vma-mig-ip",
            "--delete",
        ],
    );
    assert_eq!(run("stop").code, 0);
    assert!(!host.has("sentinel"));
}
