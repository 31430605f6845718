//! Issue 8 through ocf:rust:vm: Xen natively (`xmfile` selects the xl
//! backend, here against the xl SIMULATOR, tests/sim/xl, since there is no
//! Xen hypervisor on the test machines) and through libvirt's libxl driver
//! (`hypervisor=xen:///system`, against this machine's real libvirtd, which
//! has no active libxl driver, and the real xl, which finds no hypervisor:
//! exactly what a node without Xen looks like).

use std::os::unix::fs::symlink;
use std::time::Duration;

use support::xen::{SimHost, domain_config};
use support::{Outcome, Scratch, agent_link, ocf};

/// A simulated Xen host reached as `xl` on the agent's PATH.
struct XenNode {
    host: SimHost,
    path: String,
    rsctmp: String,
}

fn node(dir: &Scratch, name: &str) -> XenNode {
    let host = SimHost::new(&dir.0, name);
    let bin = dir.path(&format!("bin-{name}"));
    std::fs::create_dir_all(&bin).unwrap();
    symlink(&host.xl, bin.join("xl")).unwrap();
    XenNode {
        host,
        path: format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        rsctmp: dir
            .path(&format!("rsctmp-{name}"))
            .to_string_lossy()
            .into_owned(),
    }
}

fn vm(n: &XenNode, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
    let a = agent_link("vm");
    let mut e = vec![
        ("PATH", n.path.as_str()),
        ("HA_RSCTMP", n.rsctmp.as_str()),
        ("OCF_RESOURCE_INSTANCE", "farm1"),
    ];
    e.extend_from_slice(env);
    ocf(&a, action, params, &e)
}

#[test]
fn vm_with_xmfile_runs_and_migrates_a_domain_on_the_xl_simulator() {
    let dir = Scratch::new("vm-xen-native");
    let (n1, n2) = (node(&dir, "node1"), node(&dir, "node2"));
    let cfg = domain_config(&dir, "farm1");
    let p = [("xmfile", cfg.to_str().unwrap())];
    assert_eq!(vm(&n1, "monitor", &p, &[]).code, 7, "probe");
    let s = vm(&n1, "start", &p, &[]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(n1.host.has("farm1"));
    assert_eq!(
        vm(
            &n1,
            "monitor",
            &p,
            &[("OCF_RESKEY_CRM_meta_interval", "10000")]
        )
        .code,
        0
    );

    let to = vm(
        &n1,
        "migrate_to",
        &p,
        &[("OCF_RESKEY_CRM_meta_migrate_target", "node2")],
    );
    assert_eq!(to.code, 0, "{to:?}");
    let from = vm(
        &n2,
        "migrate_from",
        &p,
        &[("OCF_RESKEY_CRM_meta_migrate_source", "node1")],
    );
    assert_eq!(from.code, 0, "{from:?}");
    assert_eq!(vm(&n1, "stop", &p, &[]).code, 0);
    assert!(n2.host.has("farm1") && !n1.host.has("farm1"));

    // force_stop: straight to destroy, no shutdown request.
    let forced = [p[0], ("force_stop", "true")];
    assert_eq!(vm(&n2, "stop", &forced, &[]).code, 0);
    let calls = n2.host.calls();
    assert!(
        calls.contains("destroy -- farm1") && !calls.contains("shutdown -- farm1"),
        "{calls}"
    );
    assert_eq!(vm(&n2, "monitor", &p, &[]).code, 7);
}

#[test]
fn vm_with_xmfile_maps_shutdown_mode_and_refuses_libvirt_only_settings() {
    let dir = Scratch::new("vm-xen-params");
    let n1 = node(&dir, "node1");
    let cfg = domain_config(&dir, "farm1");
    let x = cfg.to_str().unwrap();
    let acpi = [("xmfile", x), ("shutdown_mode", "acpi")];
    assert_eq!(vm(&n1, "start", &acpi, &[]).code, 0);
    assert_eq!(vm(&n1, "stop", &acpi, &[]).code, 0);
    assert!(
        n1.host.calls().contains("trigger -- farm1 power"),
        "{}",
        n1.host.calls()
    );

    for (params, needle) in [
        (
            vec![("xmfile", x), ("config", "/etc/libvirt/qemu/farm1.xml")],
            "not both",
        ),
        (vec![], "'config' is not set"),
        (
            vec![("xmfile", x), ("snapshot", "/var/lib/snap")],
            "'snapshot' needs libvirt",
        ),
        (
            vec![("xmfile", x), ("respect_guest_shutdown", "true")],
            "needs libvirt",
        ),
        (vec![("xmfile", x), ("shutdown_mode", "agent")], "acpi"),
    ] {
        let out = vm(&n1, "validate-all", &params, &[]);
        assert_eq!(out.code, 6, "{params:?}: {out:?}");
        assert!(
            out.reason().unwrap().contains(needle),
            "{params:?}: {out:?}"
        );
    }
}

/// `hypervisor=xen:///system` on this machine: the real libvirtd answers
/// "libxenlight state driver is not active" and the real xl finds no
/// hypervisor. A node that cannot run Xen: probe 7, stop 0, start 5.
#[test]
fn vm_with_a_xen_uri_on_a_node_without_xen_probes_7_stops_0_starts_5() {
    support::require("xl");
    let uri = support::vm::system_libvirtd();
    assert_eq!(uri, "qemu:///system");
    let dir = Scratch::new("vm-xen-uri");
    let xml = dir.path("farm2.xml");
    std::fs::write(
        &xml,
        "<domain type='xen'><name>farm2</name><memory unit='MiB'>128</memory>\
         <os><type>xen</type></os></domain>\n",
    )
    .unwrap();
    let p = [
        ("config", xml.to_str().unwrap()),
        ("hypervisor", "xen:///system"),
    ];
    let a = agent_link("vm");
    let rsctmp = dir.path("rsctmp");
    let env = [
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESKEY_CRM_meta_timeout", "30000"),
    ];
    let probe = ocf(&a, "monitor", &p, &env);
    assert_eq!(probe.code, 7, "{probe:?}");
    let stop = ocf(&a, "stop", &p, &env);
    assert_eq!(stop.code, 0, "{stop:?}");
    let start = ocf(&a, "start", &p, &env);
    assert_eq!(start.code, 5, "{start:?}");
    assert!(
        start.reason().unwrap().contains("no Xen hypervisor"),
        "{start:?}"
    );
    assert!(start.elapsed < Duration::from_secs(30));
}

/// Issue 13 through ocf:rust:vm's native Xen backend (xl SIMULATOR): a
/// parameter value refused with xmfile (shutdown_mode=agent) or the xmfile
/// removed does not hide the running domain: the probe sees it by the
/// record, stop ends it.
#[test]
fn vm_with_xmfile_probe_and_stop_go_by_the_record_on_the_xl_simulator() {
    let dir = Scratch::new("vm-xen-record");
    let n1 = node(&dir, "node1");
    let cfg = domain_config(&dir, "farm3");
    let x = cfg.to_str().unwrap();
    assert_eq!(vm(&n1, "start", &[("xmfile", x)], &[]).code, 0);
    let bad = [("xmfile", x), ("shutdown_mode", "agent")];
    let probe = vm(&n1, "monitor", &bad, &[]);
    assert_eq!(probe.code, 0, "{probe:?}");
    std::fs::remove_file(&cfg).unwrap();
    assert_eq!(vm(&n1, "monitor", &[("xmfile", x)], &[]).code, 0);
    let stop = vm(&n1, "stop", &bad, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!n1.host.has("farm3"), "{}", n1.host.calls());
    assert_eq!(vm(&n1, "monitor", &[("xmfile", x)], &[]).code, 7);
}

/// Issue 13: the resource is switched from `xmfile` (xl) to `config`
/// (libvirt) while its domain runs: stop still ends the xl domain the
/// record names (the libvirt side is this machine's real libvirtd, where
/// the configured domain was never started).
#[test]
fn vm_switched_from_xmfile_to_config_still_stops_the_xl_domain() {
    let uri = support::vm::system_libvirtd();
    let dir = Scratch::new("vm-xen-switch");
    let n1 = node(&dir, "node1");
    let cfg = domain_config(&dir, "farm4");
    assert_eq!(
        vm(&n1, "start", &[("xmfile", cfg.to_str().unwrap())], &[]).code,
        0
    );
    let xml = dir.path("farm4.xml");
    std::fs::write(
        &xml,
        "<domain type='qemu'><name>vma-farm4-never</name><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64'>hvm</type></os></domain>\n",
    )
    .unwrap();
    let libvirt = [("config", xml.to_str().unwrap()), ("hypervisor", uri)];
    let probe = vm(&n1, "monitor", &libvirt, &[]);
    assert_eq!(probe.code, 0, "the xl domain is seen: {probe:?}");
    let stop = vm(&n1, "stop", &libvirt, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!n1.host.has("farm4"), "{}", n1.host.calls());
}
