//! ocf:rust:vm against a real libvirtd and QEMU (TCG): the machine's
//! libvirtd for the plain paths, private libvirtd "hosts" in their own
//! namespaces for the fault cases and the live migration. Guests are the
//! tiny Linux guest of tests/harness/tiny-guest.sh (answers ACPI shutdown) and
//! a guest with no OS (ignores it). Every domain is named vma-* and removed
//! by a Drop guard.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use support::vm::{Domain, Guest, PrivateHost, qemu_pids, system_libvirtd, virsh};
use support::{AgentLink, Outcome, Scratch, agent_link, ocf, run_env, sh, wait_for};

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

fn t(ms: u64) -> (&'static str, String) {
    ("OCF_RESKEY_CRM_meta_timeout", ms.to_string())
}

fn name(tag: &str) -> String {
    format!("vma-{tag}-{}", std::process::id())
}

/// Run an action with a timeout (ms) and extra environment.
fn act(
    a: &AgentLink,
    action: &str,
    params: &[(&str, &str)],
    timeout_ms: u64,
    env: &[(&str, &str)],
) -> Outcome {
    let (k, v) = t(timeout_ms);
    // One instance name per config file and an HA_RSCTMP per test process:
    // parallel tests never share the agent's state files.
    let config = params
        .iter()
        .find(|(k, _)| *k == "config")
        .map_or("none", |(_, v)| v);
    let stem = std::path::Path::new(config)
        .file_stem()
        .map_or("none".into(), |s| {
            s.to_string_lossy().replace(['\'', '"'], "_")
        });
    let instance = format!("vmtest-{stem}");
    // HA_RSCTMP beside the config file, inside the test's scratch dir (so it
    // goes with it); a config that does not exist gets one nothing writes to.
    let parent = std::path::Path::new(config).parent().filter(|p| p.is_dir());
    let rsctmp = match parent {
        Some(p) => p.join("rsctmp"),
        None => std::env::temp_dir().join("ocf-rs-test-vma-rsctmp-unused"),
    };
    let rsctmp = rsctmp.to_str().unwrap().to_string();
    let mut all = vec![
        (k, v.as_str()),
        ("OCF_RESOURCE_INSTANCE", instance.as_str()),
        ("HA_RSCTMP", rsctmp.as_str()),
    ];
    all.extend_from_slice(env);
    let out = ocf(a, action, params, &all);
    println!(
        "{action} -> {} in {:?}\n{}",
        out.code, out.elapsed, out.stderr
    );
    out
}

#[test]
fn lifecycle_with_a_guest_that_answers_acpi() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-life");
    let d = Domain::new(&s.0, &name("life"), Guest::Linux, uri);
    let p = [("config", d.xml_str())];

    assert_eq!(
        act(&a, "monitor", &p, 20_000, &[]).code,
        7,
        "probe before start"
    );
    let start = act(&a, "start", &p, 60_000, &[]);
    assert_eq!(start.code, 0);
    assert_eq!(d.state(), "running");
    assert_eq!(
        act(&a, "start", &p, 60_000, &[]).code,
        0,
        "start on started"
    );
    assert_eq!(act(&a, "monitor", &p, 20_000, &[RECURRING]).code, 0);
    assert!(
        wait_for(Duration::from_secs(30), || d.console().contains("GUEST-UP")),
        "the guest booted: {}",
        d.console()
    );

    let stop = act(&a, "stop", &p, 60_000, &[]);
    assert_eq!(stop.code, 0);
    assert!(
        d.console().contains("GUEST-POWEROFF"),
        "graceful: the guest itself powered off:\n{}",
        d.console()
    );
    assert!(!stop.stderr.contains("destroyed"), "{}", stop.stderr);
    assert!(!d.defined(), "stop undefines what start defined");
    assert_eq!(act(&a, "stop", &p, 20_000, &[]).code, 0, "stop on stopped");
    let gone = act(&a, "monitor", &p, 20_000, &[RECURRING]);
    assert_eq!(gone.code, 7);
    assert!(gone.reason().unwrap().contains("not running"), "{gone:?}");
}

#[test]
fn stop_destroys_a_guest_that_ignores_shutdown_before_its_timeout() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-ignore");
    let d = Domain::new(&s.0, &name("ignore"), Guest::Bare, uri);
    let p = [("config", d.xml_str())];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    assert_eq!(d.state(), "running");
    // 20 s: the graceful phase may use at most 10 s (10 s kept for destroy).
    let stop = act(&a, "stop", &p, 20_000, &[]);
    assert_eq!(stop.code, 0);
    assert!(stop.elapsed < Duration::from_secs(20), "{:?}", stop.elapsed);
    assert!(
        stop.elapsed > Duration::from_secs(5),
        "it waited for the guest first"
    );
    assert!(
        stop.stderr.contains("did not shut down in time"),
        "{}",
        stop.stderr
    );
    assert!(stop.stderr.contains("destroyed"), "{}", stop.stderr);
    assert!(qemu_pids(&d.name).is_empty());
    assert!(!d.defined());
}

#[test]
fn qemu_killed_and_guest_shutdown_from_inside() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-kill");
    // respect_guest_shutdown is on: a killed QEMU must still be "failed", not
    // "the administrator shut it down".
    let d = Domain::new(&s.0, &name("kill"), Guest::Linux, uri);
    let p = [("config", d.xml_str()), ("respect_guest_shutdown", "true")];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    let pids = qemu_pids(&d.name);
    assert_eq!(pids.len(), 1, "one QEMU for {}", d.name);
    // SAFETY: the QEMU process of our own test domain.
    unsafe { libc::kill(pids[0], libc::SIGKILL) };
    assert!(wait_for(Duration::from_secs(20), || d
        .state()
        .starts_with("shut off")));
    let mon = act(&a, "monitor", &p, 20_000, &[RECURRING]);
    assert_eq!(mon.code, 7);
    assert!(mon.reason().unwrap().contains("crashed"), "{mon:?}");
    assert!(
        !mon.stderr.contains("target-role"),
        "a crash is not a shutdown"
    );
    assert_eq!(act(&a, "stop", &p, 30_000, &[]).code, 0);
    assert!(!d.defined());

    // The guest powers itself off a few seconds after boot.
    let d2 = Domain::new(&s.0, &name("self-off"), Guest::PowersOffAfter(2), uri);
    let p2 = [("config", d2.xml_str()), ("respect_guest_shutdown", "true")];
    assert_eq!(act(&a, "start", &p2, 60_000, &[]).code, 0);
    assert!(
        wait_for(Duration::from_secs(60), || d2.state() == "shut off"),
        "the guest powered off: {}",
        d2.console()
    );
    let mon = act(&a, "monitor", &p2, 20_000, &[RECURRING]);
    assert_eq!(mon.code, 7);
    assert!(
        mon.reason().unwrap().contains("shut off (shutdown)"),
        "{mon:?}"
    );
    // No cluster here, so crm_resource fails; the attempt is logged.
    assert!(mon.stderr.contains("target-role=Stopped"), "{}", mon.stderr);
    // A probe never sets target-role.
    let probe = act(&a, "monitor", &p2, 20_000, &[]);
    assert_eq!(probe.code, 7);
    assert!(!probe.stderr.contains("target-role"), "{}", probe.stderr);
    assert_eq!(act(&a, "stop", &p2, 30_000, &[]).code, 0);
    assert!(!d2.defined());
}

#[test]
fn missing_config_bad_xml_and_a_name_with_quotes() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-config");

    let missing = [("config", "/nonexistent/vma-missing.xml")];
    assert_eq!(act(&a, "monitor", &missing, 20_000, &[]).code, 7, "probe");
    assert_eq!(act(&a, "stop", &missing, 20_000, &[]).code, 0);
    let st = act(&a, "start", &missing, 20_000, &[]);
    assert_eq!(st.code, 5);
    assert!(st.reason().unwrap().contains("does not exist on this node"));
    assert_eq!(act(&a, "monitor", &missing, 20_000, &[RECURRING]).code, 1);
    assert_eq!(
        act(&a, "validate-all", &missing, 20_000, &[]).code,
        0,
        "level 0: syntax only"
    );

    let broken = s.path("broken.xml");
    std::fs::write(&broken, "<domain><name>vma-x</name>").unwrap();
    let b = [("config", broken.to_str().unwrap())];
    let st = act(&a, "start", &b, 20_000, &[]);
    assert_eq!(st.code, 2);
    assert!(st.reason().unwrap().contains("never closed"), "{st:?}");
    assert_eq!(act(&a, "monitor", &b, 20_000, &[]).code, 7);
    assert_eq!(act(&a, "stop", &b, 20_000, &[]).code, 0);

    // Well-formed, but libvirt refuses it (an unknown domain type).
    let refused = s.path("refused.xml");
    std::fs::write(
        &refused,
        format!(
            "<domain type='no-such-type'><name>{}</name><memory>65536</memory></domain>",
            name("refused")
        ),
    )
    .unwrap();
    let r = [("config", refused.to_str().unwrap())];
    let st = act(&a, "start", &r, 30_000, &[]);
    assert_eq!(st.code, 2, "{st:?}");
    assert!(st.reason().unwrap().contains("libvirt refuses"), "{st:?}");

    let quoted = format!("vma-q'uo\"te-{}", std::process::id());
    let d = Domain::new(&s.0, &quoted, Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    assert_eq!(d.state(), "running");
    assert_eq!(act(&a, "monitor", &p, 20_000, &[RECURRING]).code, 0);
    assert_eq!(
        qemu_pids(&quoted).len(),
        1,
        "the /proc fallback finds it too"
    );
    let stop = act(&a, "stop", &p, 30_000, &[]);
    assert_eq!(stop.code, 0);
    assert!(!d.defined());
}

#[test]
fn a_same_named_domain_with_another_uuid_is_refused() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-uuid");
    let d = Domain::new(&s.0, &name("uuid"), Guest::Bare, uri);
    // Someone defined a domain of that name by hand.
    let (code, out) = virsh(uri, None, &["define", d.xml_str()]);
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memory",
        "<uuid>0badc0de-0000-4000-8000-000000000001</uuid>\n  <memory",
    );
    std::fs::write(&d.xml, text).unwrap();
    let st = act(&a, "start", &[("config", d.xml_str())], 30_000, &[]);
    assert_eq!(st.code, 2);
    assert!(
        st.reason()
            .unwrap()
            .contains("already defined here with UUID"),
        "{st:?}"
    );
    assert!(d.defined(), "the other definition is left alone");
}

#[test]
fn without_libvirt_the_vm_agent_answers_5_and_others_are_unaffected() {
    let a = agent_link("vm");
    let s = Scratch::new("vm-nolib");
    let xml = s.path("x.xml");
    std::fs::write(&xml, "<domain type='qemu'><name>vma-nolib</name></domain>").unwrap();
    let p = [("config", xml.to_str().unwrap())];
    let hide = [("OCF_RS_LIBVIRT_LIBRARY", "/nonexistent/libvirt.so.0")];
    let st = act(&a, "start", &p, 20_000, &hide);
    assert_eq!(st.code, 5);
    assert!(
        st.reason().unwrap().contains("libvirt is not available"),
        "{st:?}"
    );
    assert_eq!(act(&a, "monitor", &p, 20_000, &hide).code, 7, "probe");
    assert_eq!(act(&a, "stop", &p, 20_000, &hide).code, 0);
    assert_eq!(act(&a, "meta-data", &[], 20_000, &hide).code, 0);
    let dummy = agent_link("dummy");
    let state = s.path("d.state");
    let dp = [("state", state.to_str().unwrap())];
    assert_eq!(ocf(&dummy, "start", &dp, &hide).code, 0);
    assert_eq!(ocf(&dummy, "monitor", &dp, &hide).code, 0);

    // The binary is not linked to libvirt at all.
    let (code, ldd) = sh("ldd", &[support::bin().to_str().unwrap()]);
    assert_eq!(code, 0, "{ldd}");
    assert!(!ldd.contains("libvirt"), "{ldd}");
}

#[test]
fn libvirtd_hung_or_gone_during_monitor_and_stop() {
    let host = PrivateHost::up(&format!("f{}", std::process::id() % 100_000), None);
    let a = agent_link("vm");
    let s = Scratch::new("vm-fault");
    let mut d = Domain::new(&s.0, &name("fault"), Guest::Bare, &host.uri);
    d.hosts = vec![(host.uri.clone(), None)];
    let p = [("config", d.xml_str()), ("hypervisor", host.uri.as_str())];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    assert_eq!(act(&a, "monitor", &p, 20_000, &[RECURRING]).code, 0);

    // Hung: every call blocks. Monitor still answers, with 1 (QEMU runs).
    host.signal(libc::SIGSTOP);
    let mon = act(&a, "monitor", &p, 10_000, &[RECURRING]);
    host.signal(libc::SIGCONT);
    assert_eq!(mon.code, 1, "{mon:?}");
    assert!(mon.elapsed < Duration::from_secs(10), "{:?}", mon.elapsed);
    assert!(mon.reason().unwrap().contains("QEMU process"), "{mon:?}");

    // Gone: monitor says 1 while QEMU runs, never 7.
    host.signal(libc::SIGTERM);
    assert!(wait_for(Duration::from_secs(10), || virsh(
        &host.uri,
        None,
        &["version"]
    )
    .0 != 0));
    let mon = act(&a, "monitor", &p, 20_000, &[RECURRING]);
    assert_eq!(mon.code, 1, "{mon:?}");
    // A probe reports what runs: the QEMU process does (as VirtualDomain's
    // pid_status says); the recurring monitor's 1 gets it stopped.
    assert_eq!(act(&a, "monitor", &p, 20_000, &[]).code, 0, "probe");
    // Stop without libvirtd ends the QEMU process itself, in time.
    let stop = act(&a, "stop", &p, 20_000, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.elapsed < Duration::from_secs(20));
    assert!(qemu_pids(&d.name).is_empty(), "QEMU is gone");
    assert_eq!(act(&a, "monitor", &p, 20_000, &[RECURRING]).code, 7);
}

#[test]
fn libvirtd_hangs_in_the_middle_of_a_stop() {
    let host = PrivateHost::up(&format!("g{}", std::process::id() % 100_000), None);
    let a = agent_link("vm");
    let s = Scratch::new("vm-fault2");
    let mut d = Domain::new(&s.0, &name("hang"), Guest::Bare, &host.uri);
    d.hosts = vec![(host.uri.clone(), None)];
    let p = [("config", d.xml_str()), ("hypervisor", host.uri.as_str())];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    // The guest ignores shutdown; 2 s into the graceful phase libvirtd hangs.
    let pid = host.libvirtd_pid();
    let freezer = thread::spawn(move || {
        thread::sleep(Duration::from_secs(2));
        // SAFETY: the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
    });
    let started = Instant::now();
    let stop = act(&a, "stop", &p, 30_000, &[]);
    freezer.join().unwrap();
    host.signal(libc::SIGCONT);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(qemu_pids(&d.name).is_empty(), "QEMU is gone");
}

#[test]
fn live_migration_between_two_libvirtd_hosts() {
    let n = std::process::id() % 1000;
    let (ha, hb) = (format!("ma{n}"), format!("mb{n}"));
    let (ipa, ipb) = ("198.51.100.41", "198.51.100.42");
    let host_a = PrivateHost::up(&ha, Some(ipa));
    let host_b = PrivateHost::up(&hb, Some(ipb));
    let s = Scratch::new("vm-migrate");
    let mut d = Domain::new(&s.0, &name("mig"), Guest::Linux, &host_a.uri);
    d.hosts = vec![
        (host_a.uri.clone(), host_a.netns.clone()),
        (host_b.uri.clone(), host_b.netns.clone()),
    ];
    let bin = support::bin();
    // The agent runs "on" each host: in its netns, as argv[0] = .../vm.
    let link = s.path("vm");
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    let on = |host: &PrivateHost, action: &str, extra: &[(&str, &str)]| -> Outcome {
        // Each "host" keeps its own agent state, as two nodes would.
        let rsctmp = s.path(&format!("rsctmp-{}", host.name));
        let mut env = vec![
            ("OCF_ROOT", "/usr/lib/ocf"),
            ("HA_RSCTMP", rsctmp.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", "vmmig"),
            ("OCF_RESKEY_config", d.xml_str()),
            ("OCF_RESKEY_hypervisor", host.uri.as_str()),
            ("OCF_RESKEY_migration_transport", "tcp"),
            ("OCF_RESKEY_migrateuri", "tcp://%n"),
            ("OCF_RESKEY_migration_speed", "1000"),
            ("OCF_RESKEY_migration_downtime", "500"),
            ("OCF_RESKEY_CRM_meta_timeout", "60000"),
        ];
        env.extend_from_slice(extra);
        let ns = host.netns.as_deref().unwrap();
        let out = run_env(
            std::path::Path::new("/usr/sbin/ip"),
            &["netns", "exec", ns, link.to_str().unwrap(), action],
            &env,
        );
        println!(
            "{action} on {} -> {} in {:?}\n{}",
            host.name, out.code, out.elapsed, out.stderr
        );
        out
    };
    assert_eq!(on(&host_a, "start", &[]).code, 0);
    assert!(wait_for(Duration::from_secs(30), || d
        .console()
        .contains("GUEST-UP")));
    // The cluster names nodes; here the node name is the target's address,
    // so the URI is built from the hypervisor URI + transport.
    let to = on(
        &host_a,
        "migrate_to",
        &[
            ("OCF_RESKEY_CRM_meta_migrate_target", ipb),
            ("OCF_RESKEY_CRM_meta_migrate_source", ipa),
        ],
    );
    assert_eq!(to.code, 0, "{to:?}");
    assert!(
        to.stderr.contains(&format!("qemu+tcp://{ipb}/system")),
        "{}",
        to.stderr
    );
    assert!(
        !to.stderr.contains("maximum downtime"),
        "downtime accepted: {}",
        to.stderr
    );
    let from = on(
        &host_b,
        "migrate_from",
        &[
            ("OCF_RESKEY_CRM_meta_migrate_target", ipb),
            ("OCF_RESKEY_CRM_meta_migrate_source", ipa),
        ],
    );
    assert_eq!(from.code, 0, "{from:?}");
    assert_eq!(
        on(&host_a, "stop", &[]).code,
        0,
        "stop on the source after migration"
    );
    assert_eq!(on(&host_a, "monitor", &[RECURRING]).code, 7);
    assert_eq!(on(&host_b, "monitor", &[RECURRING]).code, 0);
    let (_, state_b) = virsh(&host_b.uri, host_b.netns.as_deref(), &["domstate", &d.name]);
    assert_eq!(state_b.trim(), "running");
    let (_, pers) = virsh(&host_b.uri, host_b.netns.as_deref(), &["dominfo", &d.name]);
    assert!(
        pers.contains("Persistent:     yes"),
        "persistent on the target:\n{pers}"
    );
    // Back to A with migrate_options as VirtualDomain passes them to virsh
    // (issue 16). A typed parameter reaches libvirt: a listen address A
    // does not have makes the migration fail there, and the guest stays
    // on B, running.
    let back = |opts: &str| {
        let o = on(
            &host_b,
            "migrate_to",
            &[
                ("OCF_RESKEY_CRM_meta_migrate_target", ipa),
                ("OCF_RESKEY_CRM_meta_migrate_source", ipb),
                ("OCF_RESKEY_migrate_options", opts),
            ],
        );
        (o.code, o.stderr)
    };
    let (code, err) = back("--verbose --listen-address 203.0.113.99");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--verbose is virsh's own option") && err.contains("Failed to bind socket"),
        "{err}"
    );
    assert_eq!(on(&host_b, "monitor", &[RECURRING]).code, 0);
    let (code, err) = back(&format!(
        "--verbose --compressed --comp-methods xbzrle --comp-xbzrle-cache 67108864 \
         --auto-converge --auto-converge-initial 30 --bandwidth 900 --listen-address {ipa}"
    ));
    assert_eq!(code, 0, "{err}");
    let from = on(
        &host_a,
        "migrate_from",
        &[
            ("OCF_RESKEY_CRM_meta_migrate_target", ipa),
            ("OCF_RESKEY_CRM_meta_migrate_source", ipb),
        ],
    );
    assert_eq!(from.code, 0, "{from:?}");
    assert_eq!(on(&host_b, "stop", &[]).code, 0);
    assert_eq!(on(&host_b, "monitor", &[RECURRING]).code, 7);
    // The guest survived both moves: it still answers ACPI on A.
    assert_eq!(on(&host_a, "stop", &[]).code, 0);
    assert!(d.console().contains("GUEST-POWEROFF"), "{}", d.console());
    // Called as ocf-tester does: stopped, no target, no source.
    let bad_to = on(&host_a, "migrate_to", &[]);
    assert_eq!(bad_to.code, 1);
    assert!(bad_to.reason().unwrap().contains("no target"), "{bad_to:?}");
    let bad_from = on(&host_a, "migrate_from", &[]);
    assert_eq!(bad_from.code, 1);
    assert!(bad_from.elapsed < Duration::from_secs(10));
    drop(d);
    drop(host_b);
    drop(host_a);
}

#[test]
fn ocf_tester_passes() {
    support::require("ocf-tester");
    let uri = system_libvirtd();
    let s = Scratch::new("vm-tester");
    let d = Domain::new(&s.0, &name("tester"), Guest::Linux, uri);
    let (rc, out) = support::ocf_tester("vm", "vmtester", &[("config", d.xml_str())], 60);
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!d.defined(), "ocf-tester's last stop left nothing behind");
}

#[test]
fn stop_still_stops_a_running_vm_whose_config_file_vanished() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-vanish");
    let d = Domain::new(&s.0, &name("vanish"), Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    std::fs::remove_file(&d.xml).unwrap();
    // The file is gone, but start recorded the domain: a probe sees it and
    // stop does not answer 0 over a running guest (RA#137, RA#1293).
    let probe = act(&a, "monitor", &p, 20_000, &[]);
    assert_eq!(probe.code, 0, "{probe:?}");
    let stop = act(&a, "stop", &p, 30_000, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        stop.stderr
            .contains("what the record and the parameters still name"),
        "{}",
        stop.stderr
    );
    assert!(qemu_pids(&d.name).is_empty(), "the VM really stopped");
    assert!(!d.defined());
    // Nothing recorded any more: a second stop is a plain 0.
    let again = act(&a, "stop", &p, 30_000, &[]);
    assert_eq!(again.code, 0);
    assert!(
        again
            .stderr
            .contains("nothing of this resource is recorded or named here"),
        "{}",
        again.stderr
    );
}

#[test]
fn snapshot_save_config_and_monitor_scripts() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-snap");
    let d = Domain::new(&s.0, &name("snap"), Guest::Linux, uri);
    let snapdir = s.path("snapshots");
    std::fs::create_dir(&snapdir).unwrap();
    // The "application check" passes while the flag file exists.
    let check = s.path("check.sh");
    let flag = s.path("healthy");
    std::fs::write(&check, format!("#!/bin/sh\ntest -e '{}'\n", flag.display())).unwrap();
    sh("chmod", &["755", check.to_str().unwrap()]);
    std::fs::write(&flag, "").unwrap();
    let p = [
        ("config", d.xml_str()),
        ("snapshot", snapdir.to_str().unwrap()),
        ("save_config_on_stop", "true"),
        ("monitor_scripts", check.to_str().unwrap()),
    ];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    assert!(wait_for(Duration::from_secs(30), || d
        .console()
        .contains("GUEST-UP")));
    assert_eq!(act(&a, "monitor", &p, 20_000, &[RECURRING]).code, 0);
    std::fs::remove_file(&flag).unwrap();
    let failing = act(&a, "monitor", &p, 20_000, &[RECURRING]);
    assert_eq!(failing.code, 1);
    assert!(
        failing.reason().unwrap().contains("monitor script"),
        "{failing:?}"
    );
    std::fs::write(&flag, "").unwrap();

    sh("chmod", &["600", d.xml_str()]);
    let before = std::fs::read_to_string(&d.xml).unwrap();
    assert!(!before.contains("<uuid>"));
    assert_eq!(act(&a, "stop", &p, 60_000, &[]).code, 0);
    let image = snapdir.join(format!("{}.state", d.name));
    assert!(image.is_file(), "stop saved the memory image");
    assert!(!d.defined() && qemu_pids(&d.name).is_empty());
    let after = std::fs::read_to_string(&d.xml).unwrap();
    assert!(
        after.contains("<uuid>"),
        "save_config_on_stop wrote libvirt's XML:\n{after}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&d.xml).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the saved config keeps its mode (it holds secrets)"
    );

    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    assert_eq!(d.state(), "running");
    assert!(!image.exists(), "the image is consumed by the restore");
    // libvirt reopens (truncates) the console file; a fresh boot would print
    // GUEST-UP again within about 2 s, a restored guest does not.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !d.console().contains("GUEST-UP"),
        "restored, not booted again:\n{}",
        d.console()
    );
    // sync_config_on_stop: a change made through libvirt is saved, then the
    // file goes to `csync2 -x FILE`. csync2 itself needs peers to sync with,
    // so a stand-in on PATH records how it was called.
    let bin = s.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = s.path("csync2.calls");
    std::fs::write(
        bin.join("csync2"),
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    sh("chmod", &["755", bin.join("csync2").to_str().unwrap()]);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (code, out) = virsh(
        uri,
        None,
        &[
            "desc",
            &d.name,
            "--config",
            "--new-desc",
            "changed-in-libvirt",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let p2 = [("config", d.xml_str()), ("sync_config_on_stop", "true")];
    // Still the same running guest: it answers ACPI.
    assert_eq!(act(&a, "stop", &p2, 60_000, &[("PATH", &path)]).code, 0);
    assert!(d.console().contains("GUEST-POWEROFF"), "{}", d.console());
    assert!(
        std::fs::read_to_string(&d.xml)
            .unwrap()
            .contains("changed-in-libvirt"),
        "sync_config_on_stop implies save_config_on_stop"
    );
    let synced = std::fs::read_to_string(&calls).unwrap_or_default();
    assert_eq!(
        synced,
        format!("-x {}\n", d.xml_str()),
        "one csync2 -x FILE"
    );
    // Nothing changed since: the file is neither rewritten nor synced again.
    assert_eq!(act(&a, "start", &p2, 60_000, &[("PATH", &path)]).code, 0);
    assert_eq!(act(&a, "stop", &p2, 60_000, &[("PATH", &path)]).code, 0);
    assert_eq!(std::fs::read_to_string(&calls).unwrap_or_default(), synced);
    // Without csync2 the configuration cannot work on this node (validate-all
    // checks the node at level 10).
    let bare = act(
        &a,
        "validate-all",
        &p2,
        10_000,
        &[
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            ("OCF_CHECK_LEVEL", "10"),
        ],
    );
    assert_eq!(bare.code, 5, "{bare:?}");
    assert!(bare.reason().unwrap().contains("csync2"), "{bare:?}");
}

/// Does the qcow2 overlay hold data of its own (not read through from its
/// backing file)? `qemu-img map` lists allocated ranges with their depth.
fn overlay_holds_data(overlay: &Path) -> bool {
    let (code, out) = sh(
        "qemu-img",
        &["map", "--output=json", "-U", overlay.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    out.lines()
        .any(|l| l.contains("\"depth\": 0") && l.contains("\"data\": true"))
}

/// backingfile: the guest runs on a qcow2 overlay made at start next to its
/// config (the backing image is never written); stateless=false keeps what
/// the guest wrote across restarts, stateless=true starts from the backing
/// image every time.
#[test]
fn backingfile_overlay_kept_or_renewed_with_stateless() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-backing");
    let d = Domain::new(&s.0, &name("cow"), Guest::Linux, uri);
    let overlay = d.xml.with_extension("qcow2");
    let base = s.path("base.raw");
    let (code, out) = sh(
        "qemu-img",
        &["create", "-q", "-f", "raw", base.to_str().unwrap(), "16M"],
    );
    assert_eq!(code, 0, "{out}");
    // The domain's disk is the overlay the agent makes.
    let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memballoon model='none'/>",
        &format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
             <memballoon model='none'/>",
            overlay.display()
        ),
    );
    std::fs::write(&d.xml, xml).unwrap();
    let kept = [
        ("config", d.xml_str()),
        ("backingfile", base.to_str().unwrap()),
    ];
    assert_eq!(act(&a, "start", &kept, 60_000, &[]).code, 0);
    assert_eq!(d.state(), "running");
    let (code, info) = sh(
        "qemu-img",
        &["info", "--output=json", "-U", overlay.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{info}");
    assert!(
        info.contains(&format!("\"backing-filename\": \"{}\"", base.display()))
            && info.contains("\"backing-filename-format\": \"raw\""),
        "an overlay on the raw base: {info}"
    );
    assert_eq!(act(&a, "stop", &kept, 60_000, &[]).code, 0);

    // What the guest wrote (here: written into the overlay while stopped).
    let (code, out) = sh(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-c",
            "write -P 0xab 0 64k",
            overlay.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(overlay_holds_data(&overlay));
    assert_eq!(act(&a, "start", &kept, 60_000, &[]).code, 0);
    assert_eq!(act(&a, "stop", &kept, 60_000, &[]).code, 0);
    assert!(overlay_holds_data(&overlay), "stateless=false keeps it");

    let fresh = [
        ("config", d.xml_str()),
        ("backingfile", base.to_str().unwrap()),
        ("stateless", "true"),
    ];
    assert_eq!(act(&a, "start", &fresh, 60_000, &[]).code, 0);
    assert_eq!(d.state(), "running");
    assert!(
        !overlay_holds_data(&overlay),
        "stateless=true starts from the backing image"
    );
    assert_eq!(act(&a, "stop", &fresh, 60_000, &[]).code, 0);
    let (code, out) = sh("qemu-img", &["info", "-U", base.to_str().unwrap()]);
    assert!(code == 0 && out.contains("file format: raw"), "{out}");

    // copyindirs (VirtualDomain's, issue 16): on a fresh overlay, after the
    // define and before the first boot, `virt-copy-in -c URI -d NAME DIR...
    // /`. libguestfs is not installed here: a stand-in virt-copy-in on PATH
    // records its argv and the domain's state when it is called.
    let bin = s.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = s.path("copy-in.calls");
    std::fs::write(
        bin.join("virt-copy-in"),
        format!(
            "#!/bin/sh\necho \"$* state=$(virsh -c {uri} domstate {})\" >> '{}'\n",
            d.name,
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("virt-copy-in"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let dirs = format!("{} {}", s.path("etc").display(), s.path("srv").display());
    let copy = [fresh[0], fresh[1], fresh[2], ("copyindirs", dirs.as_str())];
    assert_eq!(
        act(&a, "start", &copy, 60_000, &[("PATH", path.as_str())]).code,
        0
    );
    assert_eq!(d.state(), "running");
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap().trim(),
        format!("-c {uri} -d {} {dirs} / state=shut off", d.name),
        "copied into the defined, not yet running domain"
    );
    assert_eq!(act(&a, "stop", &copy, 60_000, &[]).code, 0);
    let nothing = act(
        &a,
        "start",
        &copy,
        20_000,
        &[("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")],
    );
    assert_eq!(nothing.code, 5, "no virt-copy-in on this node: {nothing:?}");

    // The rules: stateless without a backing file is a configuration
    // error; a backing file missing on this node is node-local.
    let bad = act(
        &a,
        "validate-all",
        &[("config", d.xml_str()), ("stateless", "true")],
        10_000,
        &[],
    );
    assert_eq!(bad.code, 6, "{bad:?}");
    let gone = [
        ("config", d.xml_str()),
        ("backingfile", "/nonexistent/base.raw"),
    ];
    assert_eq!(act(&a, "start", &gone, 20_000, &[]).code, 5);
    assert_eq!(act(&a, "stop", &gone, 20_000, &[]).code, 0);
    let _ = std::fs::remove_file(&overlay);
}

/// A libvirt storage pool of type dir, removed on drop.
struct Pool {
    name: String,
}

impl Drop for Pool {
    fn drop(&mut self) {
        let uri = system_libvirtd();
        let _ = virsh(uri, None, &["pool-destroy", &self.name]);
        let _ = virsh(uri, None, &["pool-undefine", &self.name]);
    }
}

#[test]
fn start_resources_starts_the_storage_pool_the_domain_uses() {
    let uri = system_libvirtd();
    let a = agent_link("vm");
    let s = Scratch::new("vm-pool");
    let pool = Pool { name: name("pool") };
    let dir = s.path("pool");
    std::fs::create_dir(&dir).unwrap();
    let ok = |args: &[&str]| {
        let (code, out) = virsh(uri, None, args);
        assert_eq!(code, 0, "virsh {args:?}: {out}");
    };
    ok(&[
        "pool-define-as",
        &pool.name,
        "dir",
        "--target",
        dir.to_str().unwrap(),
    ]);
    ok(&["pool-start", &pool.name]);
    ok(&[
        "vol-create-as",
        &pool.name,
        "disk.img",
        "1M",
        "--format",
        "raw",
    ]);
    ok(&["pool-destroy", &pool.name]);
    let d = Domain::new(&s.0, &name("pooled"), Guest::Bare, uri);
    let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memballoon",
        &format!(
            "<disk type='volume' device='disk'><driver name='qemu' type='raw'/>\
             <source pool='{}' volume='disk.img'/><target dev='vda' bus='virtio'/></disk>\n    \
             <memballoon",
            pool.name
        ),
    );
    std::fs::write(&d.xml, xml).unwrap();
    let (_, info) = virsh(uri, None, &["pool-info", &pool.name]);
    assert!(info.contains("inactive"), "{info}");

    let p = [("config", d.xml_str()), ("force_stop", "true")];
    let without = act(&a, "start", &p, 60_000, &[]);
    assert_ne!(
        without.code, 0,
        "the pool is down, so the domain cannot start"
    );
    assert_eq!(act(&a, "stop", &p, 30_000, &[]).code, 0);

    let p = [
        ("config", d.xml_str()),
        ("force_stop", "true"),
        ("start_resources", "true"),
    ];
    assert_eq!(act(&a, "start", &p, 60_000, &[]).code, 0);
    let (_, info) = virsh(uri, None, &["pool-info", &pool.name]);
    assert!(info.contains("running"), "{info}");
    assert_eq!(d.state(), "running");
    assert_eq!(act(&a, "stop", &p, 30_000, &[]).code, 0);
    assert!(!d.defined());
}

// ---- issue 13: stop and probe never call a running domain stopped ----

/// One resource instance with its own HA_RSCTMP, whose parameters can
/// change between calls (as `pcs resource update` does) while what start
/// recorded stays.
struct Rsc {
    a: AgentLink,
    instance: String,
    rsctmp: std::path::PathBuf,
}

impl Rsc {
    fn new(s: &Scratch, instance: &str) -> Rsc {
        Rsc {
            a: agent_link("vm"),
            instance: instance.to_string(),
            rsctmp: s.path("rsctmp"),
        }
    }

    fn run(&self, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
        let rsctmp = self.rsctmp.to_str().unwrap();
        let mut all = vec![
            ("OCF_RESKEY_CRM_meta_timeout", "30000"),
            ("OCF_RESOURCE_INSTANCE", self.instance.as_str()),
            ("HA_RSCTMP", rsctmp),
        ];
        all.extend_from_slice(env);
        let out = ocf(&self.a, action, params, &all);
        println!(
            "{action} {params:?} -> {} in {:?}\n{}",
            out.code, out.elapsed, out.stderr
        );
        out
    }

    /// The record start left (its text), if any.
    fn record(&self) -> Option<String> {
        let dir = std::fs::read_dir(&self.rsctmp).ok()?;
        dir.filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().ends_with(".record"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
    }
}

fn domuuid(uri: &str, name: &str) -> String {
    let (code, out) = virsh(uri, None, &["domuuid", name]);
    assert_eq!(code, 0, "{out}");
    out.trim().to_string()
}

/// Issue 13: a running domain, then probe and stop with parameter values
/// our table refuses (an unknown shutdown_mode, migrate_options=--dname,
/// config unset, stateless without a backing file): the probe sees it (0),
/// stop ends it and answers 0 only then. Start recorded the name, the UUID
/// and the hypervisor before it defined the domain.
#[test]
fn refused_parameters_never_hide_a_running_domain() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-refused");
    let r = Rsc::new(&s, "vmrefused");
    let d = Domain::new(&s.0, &name("refused"), Guest::Bare, uri);
    let good = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &good, &[]).code, 0);
    let rec = r.record().expect("start leaves a record");
    assert!(rec.contains("backend=libvirt"), "{rec}");
    assert!(rec.contains(&format!("uri={uri}")), "{rec}");
    assert!(rec.contains(&format!("name={}", d.name)), "{rec}");
    assert!(
        rec.contains(&format!("uuid={}", domuuid(uri, &d.name))),
        "{rec}"
    );
    for bad in [
        vec![("shutdown_mode", "bogus")],
        vec![("migrate_options", "--verbose --dname other")],
        vec![("config", "")],
        vec![("stateless", "true")],
    ] {
        let mut p = good.to_vec();
        p.retain(|(k, _)| !bad.iter().any(|(b, _)| b == k));
        p.extend(bad.iter().copied().filter(|(_, v)| !v.is_empty()));
        let probe = r.run("monitor", &p, &[]);
        assert_eq!(probe.code, 0, "probe with {bad:?}: {probe:?}");
        assert!(!probe.stderr.contains("nothing was started"), "{bad:?}");
    }
    let p = [
        ("config", d.xml_str()),
        ("force_stop", "true"),
        ("shutdown_mode", "bogus"),
    ];
    let stop = r.run("stop", &p, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(qemu_pids(&d.name).is_empty(), "the domain really stopped");
    assert!(!d.defined());
    assert_eq!(r.record(), None, "the record goes with a successful stop");
    assert_eq!(r.run("monitor", &p, &[]).code, 7);
}

/// Issue 13: a domain XML that begins with a UTF-8 byte-order mark is read
/// as libvirt reads it.
#[test]
fn a_domain_xml_with_a_byte_order_mark_is_accepted() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-bom");
    let r = Rsc::new(&s, "vmbom");
    let d = Domain::new(&s.0, &name("bom"), Guest::Bare, uri);
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend(std::fs::read(&d.xml).unwrap());
    std::fs::write(&d.xml, text).unwrap();
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("validate-all", &p, &[]).code, 0);
    let start = r.run("start", &p, &[]);
    assert_eq!(start.code, 0, "{start:?}");
    assert_eq!(d.state(), "running");
    assert_eq!(r.run("monitor", &p, &[RECURRING]).code, 0);
    assert_eq!(r.run("stop", &p, &[]).code, 0);
    assert!(qemu_pids(&d.name).is_empty() && !d.defined());
}

/// Issue 13: the configuration is changed, while domain A runs, to another
/// valid one naming domain B. The probe sees A (0); a recurring monitor
/// fails (1) so the cluster stops the resource; start refuses to put B
/// beside A; stop ends A too.
#[test]
fn config_changed_to_another_domain_stops_the_recorded_one_too() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-changed");
    let r = Rsc::new(&s, "vmchanged");
    let a = Domain::new(&s.0, &name("chg-a"), Guest::Bare, uri);
    let b = Domain::new(&s.0, &name("chg-b"), Guest::Bare, uri);
    let pa = [("config", a.xml_str()), ("force_stop", "true")];
    let pb = [("config", b.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &pa, &[]).code, 0);
    assert_eq!(r.run("monitor", &pb, &[]).code, 0, "probe sees A");
    let mon = r.run("monitor", &pb, &[RECURRING]);
    assert_eq!(mon.code, 1, "{mon:?}");
    assert!(
        mon.reason()
            .unwrap()
            .contains("started here by this resource"),
        "{mon:?}"
    );
    let start = r.run("start", &pb, &[]);
    assert_eq!(start.code, 1, "{start:?}");
    assert!(start.reason().unwrap().contains("stop the resource first"));
    assert!(!b.defined(), "B was not started beside A");
    let stop = r.run("stop", &pb, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(qemu_pids(&a.name).is_empty(), "A was stopped");
    assert!(!a.defined() && !b.defined());
    assert_eq!(r.run("monitor", &pb, &[]).code, 7);
}

/// Issue 13: what the record names is confirmed by its UUID. Our domain is
/// gone (destroyed and undefined by hand) and someone created another one
/// with the same name; with the config file gone, only the record is left
/// to go by: the same-named domain is not ours (probe 7, stop 0 leaving it).
#[test]
fn a_same_named_domain_with_another_uuid_is_not_the_recorded_one() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-otheruuid");
    let r = Rsc::new(&s, "vmotheruuid");
    let d = Domain::new(&s.0, &name("other"), Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &p, &[]).code, 0);
    let ours = domuuid(uri, &d.name);
    assert_eq!(virsh(uri, None, &["destroy", &d.name]).0, 0);
    assert_eq!(virsh(uri, None, &["undefine", &d.name]).0, 0);
    let (code, out) = virsh(uri, None, &["create", d.xml_str()]);
    assert_eq!(code, 0, "{out}");
    let theirs = domuuid(uri, &d.name);
    assert_ne!(ours, theirs);
    std::fs::remove_file(&d.xml).unwrap();
    assert_eq!(r.run("monitor", &p, &[]).code, 7, "not ours");
    let stop = r.run("stop", &p, &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("left alone"), "{}", stop.stderr);
    assert_eq!(d.state(), "running", "someone else's domain is untouched");
}

/// Issue 13: libvirt itself missing on the node (an upgrade removed it)
/// while the domain runs: the probe finds its QEMU process (0, not 7) and
/// stop ends it.
#[test]
fn without_libvirt_a_probe_still_sees_the_qemu_process() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-nolib-run");
    let r = Rsc::new(&s, "vmnolibrun");
    let d = Domain::new(&s.0, &name("nolibrun"), Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &p, &[]).code, 0);
    let hide = [("OCF_RS_LIBVIRT_LIBRARY", "/nonexistent/libvirt.so.0")];
    let probe = r.run("monitor", &p, &hide);
    assert_eq!(probe.code, 0, "{probe:?}");
    let stop = r.run("stop", &p, &hide);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(qemu_pids(&d.name).is_empty(), "its QEMU process was ended");
    assert_eq!(r.run("monitor", &p, &hide).code, 7);
}

/// Issue 13: a node upgraded while its VM runs has only the name file
/// earlier versions wrote (`vm-<instance>.domain`); with the config file
/// gone, probe and stop still go by it.
#[test]
fn the_name_file_of_earlier_versions_is_still_honoured() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-legacy");
    let r = Rsc::new(&s, "vmlegacy");
    let d = Domain::new(&s.0, &name("legacy"), Guest::Bare, uri);
    let (code, out) = virsh(uri, None, &["create", d.xml_str()]);
    assert_eq!(code, 0, "{out}");
    std::fs::create_dir_all(&r.rsctmp).unwrap();
    let legacy = r.rsctmp.join("vm-vmlegacy.domain");
    std::fs::write(&legacy, &d.name).unwrap();
    std::fs::remove_file(&d.xml).unwrap();
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("monitor", &p, &[]).code, 0);
    assert_eq!(r.run("stop", &p, &[]).code, 0);
    assert!(qemu_pids(&d.name).is_empty());
    assert!(!legacy.exists(), "removed after the stop");
}

/// Issue 13: start records the domain before defining it, so a start that
/// fails after the define (its disk is missing) leaves what stop needs, even
/// once the config file is gone.
#[test]
fn a_start_that_fails_after_define_leaves_a_record_stop_uses() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-halfstart");
    let r = Rsc::new(&s, "vmhalf");
    let d = Domain::new(&s.0, &name("half"), Guest::Bare, uri);
    let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memballoon",
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='/nonexistent/vma-disk.img'/><target dev='vda' bus='virtio'/></disk>\n    \
         <memballoon",
    );
    std::fs::write(&d.xml, xml).unwrap();
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    let start = r.run("start", &p, &[]);
    assert_eq!(start.code, 1, "{start:?}");
    assert!(d.defined(), "defined, not running");
    assert!(r.record().unwrap().contains(&d.name));
    std::fs::remove_file(&d.xml).unwrap();
    assert_eq!(r.run("stop", &p, &[]).code, 0);
    assert!(!d.defined(), "stop undefined it by the record");
    assert_eq!(r.record(), None);
}

/// The hypervisor URI respelled for the same daemon (qemu+unix:///system)
/// is no other hypervisor: the recorded domain is the configured one, and
/// a recurring monitor stays 0.
#[test]
fn a_respelled_uri_of_the_same_libvirtd_is_no_second_domain() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-respelled");
    let r = Rsc::new(&s, "vmrespelled");
    let d = Domain::new(&s.0, &name("respelled"), Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &p, &[]).code, 0);
    let other = [
        ("config", d.xml_str()),
        ("force_stop", "true"),
        ("hypervisor", "qemu+unix:///system"),
    ];
    assert_eq!(r.run("monitor", &other, &[RECURRING]).code, 0);
    assert_eq!(r.run("stop", &other, &[]).code, 0);
    assert!(qemu_pids(&d.name).is_empty() && !d.defined());
}

/// Issue 16: values VirtualDomain accepts work here with its meaning.
/// `monitor_scripts` names a program on PATH (VirtualDomain runs
/// `$script`): it gates the monitor like an absolute path does; a relative
/// path is refused (6). Without `hypervisor` the URI is libvirt's own
/// default, as `virsh uri` gives VirtualDomain: here LIBVIRT_DEFAULT_URI,
/// spelled differently from qemu:///system, is what start records.
#[test]
fn monitor_scripts_on_path_and_libvirts_default_uri() {
    let uri = system_libvirtd();
    let s = Scratch::new("vm-path");
    let r = Rsc::new(&s, "vmpath");
    let d = Domain::new(&s.0, &name("path"), Guest::Bare, uri);
    let bin = s.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let flag = s.path("unhealthy");
    let script = format!("ocfrs-vmcheck-{}", std::process::id());
    let body = format!("#!/bin/sh\n[ ! -e '{}' ]\n", flag.display());
    std::fs::write(bin.join(&script), body).unwrap();
    std::fs::set_permissions(
        bin.join(&script),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let env = [
        ("PATH", path.as_str()),
        ("LIBVIRT_DEFAULT_URI", "qemu+unix:///system"),
    ];
    let p = [
        ("config", d.xml_str()),
        ("force_stop", "true"),
        ("monitor_scripts", script.as_str()),
    ];
    let start = r.run("start", &p, &env);
    assert_eq!(start.code, 0, "{start:?}");
    let rec = r.record().expect("a record");
    assert!(rec.contains("uri=qemu+unix:///system"), "{rec}");
    assert_eq!(r.run("monitor", &p, &[RECURRING, env[0], env[1]]).code, 0);
    std::fs::write(&flag, "").unwrap();
    let m = r.run("monitor", &p, &[RECURRING, env[0], env[1]]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains(&script), "{m:?}");
    std::fs::remove_file(&flag).unwrap();
    let rel = [p[0], p[1], ("monitor_scripts", "bin/check")];
    assert_eq!(r.run("validate-all", &rel, &env).code, 6);
    assert_eq!(r.run("stop", &p, &env).code, 0);
    assert!(qemu_pids(&d.name).is_empty() && !d.defined());
}
