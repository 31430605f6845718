//! ocf:rust:xen against the xl SIMULATOR (tests/sim/xl): there is no Xen
//! hypervisor on the test machines, so every test here drives the agent
//! against simulated hosts that answer with xl 4.17's output formats and
//! exit codes, hold domain state, and can be told to ignore shutdowns,
//! reboot, crash, hang or have no hypervisor. One test also runs the real
//! `xl` of Debian's xen-utils, which on a host without Xen fails the way a
//! node without the hypervisor does.

use std::time::{Duration, Instant};

use support::xen::{SimHost, domain_config};
use support::{AgentLink, Outcome, Scratch, agent_link, ocf};

struct Rig {
    _dir: Scratch,
    agent: AgentLink,
    host: SimHost,
    cfg: String,
    xl: String,
    /// This node's HA_RSCTMP (each test and node its own).
    rsctmp: String,
}

fn rig(tag: &str, dom: &str) -> Rig {
    let dir = Scratch::new(&format!("xen-{tag}"));
    let host = SimHost::new(&dir.0, "node1");
    let cfg = domain_config(&dir, dom).to_string_lossy().into_owned();
    let xl = host.xl.to_string_lossy().into_owned();
    let rsctmp = dir.path("rsctmp-node1").to_string_lossy().into_owned();
    Rig {
        _dir: dir,
        agent: agent_link("xen"),
        host,
        cfg,
        xl,
        rsctmp,
    }
}

impl Rig {
    fn run(&self, action: &str, extra: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
        let mut p = vec![("xmfile", self.cfg.as_str()), ("binary", self.xl.as_str())];
        p.extend_from_slice(extra);
        let mut e = vec![
            ("OCF_RESOURCE_INSTANCE", "sentinel"),
            ("HA_RSCTMP", self.rsctmp.as_str()),
        ];
        e.extend_from_slice(env);
        ocf(&self.agent, action, &p, &e)
    }
}

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

#[test]
fn simulated_lifecycle_with_graceful_stop() {
    let r = rig("life", "sentinel");
    assert_eq!(r.run("monitor", &[], &[]).code, 7, "probe before start");
    let s = r.run("start", &[], &[]);
    assert_eq!(s.code, 0, "{s:?}");
    assert!(r.host.has("sentinel"));
    assert!(r.host.calls().contains("create"), "{}", r.host.calls());
    assert_eq!(r.run("start", &[], &[]).code, 0, "start on started");
    assert_eq!(
        r.host.calls().matches(" create ").count(),
        1,
        "not created twice"
    );
    assert_eq!(r.run("monitor", &[], &[RECURRING]).code, 0);

    let stop = r.run("stop", &[("shutdown_timeout", "10")], &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!r.host.has("sentinel"));
    let calls = r.host.calls();
    assert!(calls.contains("xl shutdown -- sentinel"), "{calls}");
    assert!(
        !calls.contains("destroy"),
        "a guest that shuts down is not destroyed: {calls}"
    );
    assert_eq!(r.run("stop", &[], &[]).code, 0, "stop on stopped");
    let after = r.run("monitor", &[], &[RECURRING]);
    assert_eq!(after.code, 7);
    assert!(
        after.elapsed < Duration::from_secs(2),
        "after our own stop no re-check: {:?}",
        after.elapsed
    );
}

/// A domain that vanished without a stop of ours is looked for again for a
/// few seconds before a recurring monitor says 7.
#[test]
fn simulated_vanished_domain_is_rechecked_before_7() {
    let r = rig("vanish", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    r.host.xl(&["destroy", "sentinel"]);
    let m = r.run("monitor", &[], &[RECURRING]);
    assert_eq!(m.code, 7, "{m:?}");
    assert!(
        m.elapsed >= Duration::from_secs(3),
        "re-checked: {:?}",
        m.elapsed
    );
    assert!(m.elapsed < Duration::from_secs(19), "{:?}", m.elapsed);
}

#[test]
fn simulated_name_comes_from_the_parameter_then_the_file_then_the_instance() {
    let r = rig("names", "fromfile");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    assert!(r.host.has("fromfile"), "{}", r.host.xl(&["list"]).1);
    assert_eq!(r.run("stop", &[], &[]).code, 0);

    assert_eq!(r.run("start", &[("name", "override")], &[]).code, 0);
    assert!(r.host.has("override") && !r.host.has("fromfile"));
    assert_eq!(r.run("stop", &[("name", "override")], &[]).code, 0);

    std::fs::write(&r.cfg, "memory = 128\nvcpus = 1\n").unwrap();
    assert_eq!(r.run("start", &[], &[]).code, 0);
    assert!(
        r.host.has("sentinel"),
        "no name= in the file: the resource name"
    );
    assert_eq!(r.run("stop", &[], &[]).code, 0);

    std::fs::write(&r.cfg, "name = \"bad name\"\n").unwrap();
    let bad = r.run("start", &[], &[]);
    assert_eq!(bad.code, 6, "{bad:?}");
}

/// A guest that ignores the shutdown request is destroyed after
/// shutdown_timeout, and the stop ends well inside its timeout.
#[test]
fn simulated_guest_ignoring_shutdown_is_destroyed_within_the_stop_timeout() {
    let r = rig("ignore", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    r.host.set("sentinel", &["ignore_shutdown=1"]);
    let t = Instant::now();
    let stop = r.run(
        "stop",
        &[("shutdown_timeout", "2")],
        &[("OCF_RESKEY_CRM_meta_timeout", "40000")],
    );
    let took = t.elapsed();
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "took {took:?}"
    );
    assert!(!r.host.has("sentinel"));
    let calls = r.host.calls();
    let (sd, de) = (
        calls.find("shutdown -- sentinel").unwrap(),
        calls.find("destroy -- sentinel").unwrap(),
    );
    assert!(sd < de, "shutdown first, then destroy: {calls}");
}

/// Without shutdown_timeout the graceful phase takes two thirds of the stop
/// timeout but always leaves a reserve for destroy: a 12 s stop finishes in time.
#[test]
fn simulated_default_grace_keeps_a_reserve_for_destroy() {
    let r = rig("reserve", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    r.host
        .set("sentinel", &["ignore_shutdown=1", "destroy_delay=2"]);
    let t = Instant::now();
    let stop = r.run("stop", &[], &[("OCF_RESKEY_CRM_meta_timeout", "12000")]);
    let took = t.elapsed();
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(took < Duration::from_secs(12), "took {took:?}");
    assert!(!r.host.has("sentinel"));
}

#[test]
fn simulated_acpi_shutdown_uses_the_power_button() {
    let r = rig("acpi", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    assert_eq!(r.run("stop", &[("shutdown_acpi", "true")], &[]).code, 0);
    assert!(
        r.host.calls().contains("xl trigger -- sentinel power"),
        "{}",
        r.host.calls()
    );
}

/// RA#314: a rebooting guest vanishes for a moment. A recurring monitor
/// looks again before it says "not running"; a probe does not wait.
#[test]
fn simulated_rebooting_guest_is_not_reported_stopped() {
    let r = rig("reboot", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    let (rc, out) = r.host.xl(&["sim-reboot", "sentinel", "2.5"]);
    assert_eq!(rc, 0, "{out}");
    let m = r.run("monitor", &[], &[RECURRING]);
    assert_eq!(m.code, 0, "the guest came back: {m:?}");
    assert_eq!(r.host.calls().matches(" create ").count(), 1);
    let (rc, _) = r.host.xl(&["sim-reboot", "sentinel", "30"]);
    assert_eq!(rc, 0);
    let probe = r.run("monitor", &[], &[]);
    assert_eq!(probe.code, 7, "a probe answers at once");
    assert!(
        probe.elapsed < Duration::from_secs(2),
        "{:?}",
        probe.elapsed
    );
}

#[test]
fn simulated_crash_fails_the_monitor() {
    let r = rig("crash", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    r.host.xl(&["sim-crash", "sentinel"]);
    let m = r.run("monitor", &[], &[RECURRING]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains("crashed"));
    assert_eq!(
        r.run("stop", &[], &[]).code,
        0,
        "a crashed domain is destroyed"
    );
    assert!(!r.host.has("sentinel"));
}

/// A wedged toolstack: every xl call hangs. Monitor, start and stop answer
/// 1 with a reason before their timeout instead of being killed.
#[test]
fn simulated_hung_xl_is_bounded() {
    let r = rig("hang", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    r.host.touch("hang");
    for (action, interval) in [("monitor", "10000"), ("stop", "0"), ("start", "0")] {
        let t = Instant::now();
        let out = r.run(
            action,
            &[],
            &[
                ("OCF_RESKEY_CRM_meta_timeout", "6000"),
                ("OCF_RESKEY_CRM_meta_interval", interval),
            ],
        );
        assert_eq!(out.code, 1, "{action}: {out:?}");
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "{action} took {:?}",
            t.elapsed()
        );
        assert!(
            out.reason()
                .is_some_and(|r| r.contains("hung") || r.contains("timeout")),
            "{out:?}"
        );
    }
}

/// Live migration between two simulated hosts (a node_ip_attribute the
/// target lacks falls back to its name): migrate_to on the source,
/// migrate_from on the target, then the cluster's stop on the source.
#[test]
fn simulated_live_migration_between_two_hosts() {
    let r = rig("migrate", "sentinel");
    let node2 = SimHost::new(&r._dir.0, "node2");
    let xl2 = node2.xl.to_string_lossy().into_owned();
    let rsctmp2 = r._dir.path("rsctmp-node2").to_string_lossy().into_owned();
    assert_eq!(r.run("start", &[], &[]).code, 0);
    // node_ip_attribute names an attribute node2 does not have (no cluster
    // here to ask, even): as ocf:heartbeat:Xen, the node name is used.
    let to = r.run(
        "migrate_to",
        &[("node_ip_attribute", "migration_ip")],
        &[("OCF_RESKEY_CRM_meta_migrate_target", "node2")],
    );
    assert_eq!(to.code, 0, "{to:?}");
    assert!(to.stderr.contains("migrating to its node name"), "{to:?}");
    assert!(node2.has("sentinel") && !r.host.has("sentinel"));
    let on2 = |action: &str, env: &[(&str, &str)]| {
        let mut e = vec![
            ("OCF_RESOURCE_INSTANCE", "sentinel"),
            ("HA_RSCTMP", rsctmp2.as_str()),
        ];
        e.extend_from_slice(env);
        ocf(
            &r.agent,
            action,
            &[("xmfile", r.cfg.as_str()), ("binary", xl2.as_str())],
            &e,
        )
    };
    let from = on2(
        "migrate_from",
        &[("OCF_RESKEY_CRM_meta_migrate_source", "node1")],
    );
    assert_eq!(from.code, 0, "{from:?}");
    assert_eq!(
        r.run("stop", &[], &[]).code,
        0,
        "the source's stop after migration"
    );
    assert_eq!(on2("monitor", &[RECURRING]).code, 0);
    assert_eq!(r.run("monitor", &[], &[]).code, 7);
    assert_eq!(
        node2.calls().matches(" create ").count(),
        0,
        "migrated, not restarted"
    );

    // ocf-tester calls both on a stopped resource with no target: a clear failure, at once.
    let lost = r.run("migrate_to", &[], &[]);
    assert_eq!(lost.code, 1);
    assert!(lost.reason().unwrap().contains("target"), "{lost:?}");
    let lost = r.run("migrate_from", &[], &[]);
    assert_eq!(lost.code, 1);
    assert!(lost.elapsed < Duration::from_secs(2));
    assert_eq!(on2("stop", &[]).code, 0);
}

/// The memory column of `xl list DOM` on `host`, in MiB.
fn memory_of(host: &SimHost, dom: &str) -> u64 {
    let (rc, out) = host.xl(&["list", dom]);
    assert_eq!(rc, 0, "{out}");
    let row = out.lines().nth(1).unwrap_or_default();
    row.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// allow_mem_management shares the host's memory (xl info total_memory)
/// less reserved_Dom0_memory between the running guests, on start, stop and
/// migration, as ocf:heartbeat:Xen does, without editing the xmfile.
#[test]
fn simulated_memory_management_shares_the_host_between_running_domains() {
    let r = rig("mem", "sentinel");
    std::fs::write(r.host.state.join("total_memory"), "8704").unwrap();
    let other_cfg = domain_config(&r._dir, "other")
        .to_string_lossy()
        .into_owned();
    let before = std::fs::read_to_string(&r.cfg).unwrap();
    let mm = [("allow_mem_management", "true")];
    let other = |action: &str| {
        ocf(
            &r.agent,
            action,
            &[
                ("xmfile", other_cfg.as_str()),
                ("binary", r.xl.as_str()),
                ("allow_mem_management", "true"),
            ],
            &[
                ("OCF_RESOURCE_INSTANCE", "other"),
                ("HA_RSCTMP", r.rsctmp.as_str()),
            ],
        )
    };
    assert_eq!(r.run("start", &mm, &[]).code, 0);
    assert_eq!(
        memory_of(&r.host, "sentinel"),
        8192,
        "alone: all but 512 MiB"
    );
    assert_eq!(other("start").code, 0);
    assert_eq!(memory_of(&r.host, "sentinel"), 4096, "two share");
    assert_eq!(memory_of(&r.host, "other"), 4096);
    assert!(
        r.host.calls().contains("create ") && r.host.calls().contains("memory=4096"),
        "{}",
        r.host.calls()
    );
    assert_eq!(other("stop").code, 0);
    assert_eq!(
        memory_of(&r.host, "sentinel"),
        8192,
        "the survivor gets it back"
    );
    assert_eq!(
        std::fs::read_to_string(&r.cfg).unwrap(),
        before,
        "the xmfile is never edited"
    );
    // A larger reserve for Domain-0.
    let reserve = [
        ("allow_mem_management", "true"),
        ("reserved_Dom0_memory", "2560"),
    ];
    assert_eq!(r.run("stop", &reserve, &[]).code, 0);
    assert_eq!(r.run("start", &reserve, &[]).code, 0);
    assert_eq!(memory_of(&r.host, "sentinel"), 6144);
    assert_eq!(r.run("stop", &reserve, &[]).code, 0);
    // Without it, nothing is touched.
    assert_eq!(r.run("start", &[], &[]).code, 0);
    assert_eq!(memory_of(&r.host, "sentinel"), 256, "the file's own memory");
    assert_eq!(r.run("stop", &[], &[]).code, 0);
}

/// A migration that died halfway leaves `NAME--migratedaway` (xl) or
/// `migrating-NAME` (xm) behind: stop removes those too.
#[test]
fn simulated_stop_removes_mid_migration_leftovers() {
    let r = rig("leftover", "sentinel");
    for n in ["sentinel--migratedaway", "migrating-sentinel"] {
        let (rc, out) = r.host.xl(&["create", &r.cfg, &format!("name=\"{n}\"")]);
        assert_eq!(rc, 0, "{out}");
    }
    let stop = r.run("stop", &[], &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!r.host.has("sentinel--migratedaway") && !r.host.has("migrating-sentinel"));
}

#[test]
fn simulated_missing_xmfile_and_missing_hypervisor() {
    let r = rig("missing", "sentinel");
    let gone = [("xmfile", "/nonexistent/xen/sentinel.cfg")];
    assert_eq!(
        r.run("monitor", &gone, &[]).code,
        7,
        "probe: cannot run here"
    );
    assert_eq!(r.run("stop", &gone, &[]).code, 0, "stop: nothing runs");
    assert_eq!(r.run("start", &gone, &[]).code, 5);
    // A domain still running under that name is stopped even so.
    assert_eq!(r.run("start", &[("name", "sentinel")], &[]).code, 0);
    assert_eq!(r.run("stop", &[gone[0], ("name", "sentinel")], &[]).code, 0);
    assert!(!r.host.has("sentinel"));

    r.host.touch("nohypervisor");
    assert_eq!(
        r.run("monitor", &[], &[]).code,
        7,
        "no Xen here: nothing runs"
    );
    assert_eq!(r.run("stop", &[], &[]).code, 0);
    assert_eq!(r.run("start", &[], &[]).code, 5);
}

/// The real xl of Debian's xen-utils on this machine, which has no Xen
/// hypervisor: the agent reads its failure as "no hypervisor here".
#[test]
fn real_xl_without_a_hypervisor_probes_7_and_stops_0() {
    support::require("xl");
    let r = rig("realxl", "sentinel");
    let real = [("binary", "xl")];
    let probe = ocf(
        &r.agent,
        "monitor",
        &[("xmfile", r.cfg.as_str()), real[0]],
        &[],
    );
    assert_eq!(probe.code, 7, "{probe:?}");
    let stop = ocf(
        &r.agent,
        "stop",
        &[("xmfile", r.cfg.as_str()), real[0]],
        &[],
    );
    assert_eq!(stop.code, 0, "{stop:?}");
}

#[test]
fn simulated_monitor_scripts_gate_start_and_monitor() {
    let r = rig("scripts", "sentinel");
    let ok = r._dir.path("check-ok");
    let flag = r._dir.path("healthy");
    std::fs::write(&ok, format!("#!/bin/sh\ntest -e {}\n", flag.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scripts = [("monitor_scripts", ok.to_str().unwrap())];
    let s = r.run(
        "start",
        &scripts,
        &[("OCF_RESKEY_CRM_meta_timeout", "4000")],
    );
    assert_eq!(s.code, 1, "start waits for the scripts, then fails: {s:?}");
    std::fs::write(&flag, "").unwrap();
    assert_eq!(r.run("start", &scripts, &[]).code, 0);
    assert_eq!(r.run("monitor", &scripts, &[RECURRING]).code, 0);
    std::fs::remove_file(&flag).unwrap();
    let m = r.run("monitor", &scripts, &[RECURRING]);
    assert_eq!(m.code, 1);
    assert!(m.reason().unwrap().contains("check-ok"), "{m:?}");
    assert_eq!(r.run("stop", &scripts, &[]).code, 0);
}

#[test]
fn bad_input_is_refused_with_one_clear_line() {
    let r = rig("bad", "sentinel");
    for (k, v, needle) in [
        (
            "xmfile",
            "relative.cfg",
            "'xmfile' must be an absolute path",
        ),
        ("name", "x\"; rm -rf /", "'name' may only contain"),
        (
            "shutdown_timeout",
            "-1",
            "'shutdown_timeout' must be a whole number",
        ),
        (
            "monitor_scripts",
            "/bin/true; reboot",
            "without shell syntax",
        ),
    ] {
        let out = r.run("validate-all", &[(k, v)], &[]);
        assert_eq!(out.code, 6, "{k}={v}: {out:?}");
        assert!(out.reason().unwrap().contains(needle), "{k}: {out:?}");
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("ocf-exit-reason:"))
                .count(),
            1
        );
    }
    assert_eq!(r.run("validate-all", &[], &[]).code, 0);
}

/// 70 characters: more than our check allows, not too many for xl.
const LONG_NAME: &str = "web-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789";

/// Issue 13: a domain name our check refuses (a space, over 64 characters,
/// a `#` inside quotes) in the xmfile of a domain that runs (created by
/// hand, or by ocf:heartbeat:Xen before the switch): probe 0 and stop 0
/// after ending it, never 6 (a stop 6 gets the node fenced). Start still
/// refuses the name.
#[test]
fn simulated_refused_names_never_make_stop_or_probe_answer_6() {
    let r = rig("refused", "sentinel");
    for name in ["web server", LONG_NAME, "web#1"] {
        std::fs::write(
            &r.cfg,
            format!("name = \"{name}\" # the guest\nmemory = 128\nvcpus = 1\n"),
        )
        .unwrap();
        let (rc, out) = r.host.xl(&["create", &r.cfg]);
        assert_eq!(rc, 0, "{out}");
        assert!(r.host.has(name), "{name}");
        let probe = r.run("monitor", &[], &[]);
        assert_eq!(probe.code, 0, "{name}: {probe:?}");
        let mon = r.run("monitor", &[], &[RECURRING]);
        assert_eq!(mon.code, 1, "{name}: a recurring monitor fails: {mon:?}");
        assert_eq!(r.run("start", &[], &[]).code, 6, "{name}");
        let stop = r.run("stop", &[], &[]);
        assert_eq!(stop.code, 0, "{name}: {stop:?}");
        assert!(!r.host.has(name), "{name} was stopped");
        assert_eq!(r.run("monitor", &[], &[]).code, 7, "{name}");
    }
}

/// Issue 13 (RA#314): the guest is rebooting, so briefly gone, when stop
/// looks for it. Stop keeps looking, finds it back and stops it, instead of
/// answering 0 and letting it come back to run twice.
#[test]
fn simulated_stop_waits_for_a_rebooting_guest() {
    let r = rig("rebootstop", "sentinel");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    let (rc, out) = r.host.xl(&["sim-reboot", "sentinel", "2"]);
    assert_eq!(rc, 0, "{out}");
    let stop = r.run("stop", &[("shutdown_timeout", "10")], &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("is back"), "{}", stop.stderr);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!r.host.has("sentinel"), "{}", r.host.xl(&["list"]).1);
    // Our own stop succeeded: a stop again does not wait.
    let again = r.run("stop", &[], &[]);
    assert_eq!(again.code, 0);
    assert!(
        again.elapsed < Duration::from_secs(3),
        "{:?}",
        again.elapsed
    );
}

/// Issue 13: start records the name and the UUID xl gives the domain. A
/// same-named domain with another UUID (ours was destroyed by hand, someone
/// created another) is not ours once only the record is left to go by.
#[test]
fn simulated_the_record_is_confirmed_by_uuid() {
    let r = rig("uuid", "other1");
    assert_eq!(r.run("start", &[], &[]).code, 0);
    let rec = std::fs::read_dir(&r.rsctmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".record"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("a record");
    let (_, long) = r.host.xl(&["list", "-l", "other1"]);
    let uuid = long
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"uuid\": \""))
        .map(|u| u.trim_end_matches(['"', ',']).to_string())
        .unwrap();
    assert!(
        rec.contains("backend=xl") && rec.contains("name=other1"),
        "{rec}"
    );
    assert!(rec.contains(&format!("uuid={uuid}")), "{rec}");
    r.host.xl(&["destroy", "other1"]);
    let (rc, out) = r.host.xl(&["create", &r.cfg]);
    assert_eq!(rc, 0, "{out}");
    std::fs::remove_file(&r.cfg).unwrap();
    assert_eq!(r.run("monitor", &[], &[]).code, 7, "not ours");
    let stop = r.run("stop", &[], &[]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("left alone"), "{}", stop.stderr);
    assert!(r.host.has("other1"), "someone else's domain is untouched");
}

/// Issue 13: the `binary` parameter now names an xl that is not there (an
/// upgrade moved it): stop uses the xl start recorded. With neither, a
/// domain started here cannot be called stopped: 1.
#[test]
fn simulated_without_its_xl_a_recorded_domain_is_not_called_stopped() {
    let r = rig("noxl", "sentinel");
    let copy = r._dir.path("xl-copy");
    std::fs::copy(&r.host.xl, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    assert_eq!(r.run("start", &[("binary", copy)], &[]).code, 0);
    std::fs::remove_file(copy).unwrap();
    let missing = [("binary", "/nonexistent/xl")];
    let probe = r.run("monitor", &missing, &[]);
    assert_eq!(probe.code, 1, "{probe:?}");
    let stop = r.run("stop", &missing, &[]);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(stop.reason().unwrap().contains("not installed"), "{stop:?}");
    assert!(r.host.has("sentinel"));
    // With the recorded xl back, a stop naming the missing one works.
    assert_eq!(r.run("start", &[], &[]).code, 0);
    assert_eq!(r.run("stop", &missing, &[]).code, 0);
    assert!(!r.host.has("sentinel"));
}
