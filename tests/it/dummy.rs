//! The dummy agent run as Pacemaker runs it: the built binary exec'd through
//! an `<dir>/dummy` symlink with the action in argv[1] and parameters in the
//! environment. This is also the test bed of the driver's rule table, the
//! watchdog and the "no child holds our pipes" guarantee.

use std::fs;
use std::time::Duration;

use support::{Scratch, agent_link, ocf, run_env};

fn state_params(s: &Scratch) -> (String, Vec<(&'static str, String)>) {
    let state = s.path("d.state").to_string_lossy().into_owned();
    (state.clone(), vec![("state", state)])
}

fn p<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn lifecycle_is_idempotent_and_monitor_follows_the_state_file() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-life");
    let (state, params) = state_params(&s);
    let params = p(&params);
    let recurring = [("OCF_RESKEY_CRM_meta_interval", "10000")];

    assert_eq!(
        ocf(&a, "monitor", &params, &[]).code,
        7,
        "probe before start"
    );
    assert_eq!(ocf(&a, "start", &params, &[]).code, 0);
    assert!(fs::metadata(&state).is_ok(), "start wrote the state file");
    assert_eq!(ocf(&a, "start", &params, &[]).code, 0, "start on started");
    assert_eq!(ocf(&a, "monitor", &params, &recurring).code, 0);
    let deep = ocf(
        &a,
        "monitor",
        &params,
        &[("OCF_CHECK_LEVEL", "10"), recurring[0]],
    );
    assert_eq!(deep.code, 0, "{deep:?}");

    fs::remove_file(&state).unwrap();
    let gone = ocf(&a, "monitor", &params, &recurring);
    assert_eq!(gone.code, 7);
    assert_eq!(gone.reason(), Some("No process state file found"));

    assert_eq!(ocf(&a, "start", &params, &[]).code, 0);
    assert_eq!(ocf(&a, "stop", &params, &[]).code, 0);
    assert!(fs::metadata(&state).is_err(), "stop removed the state file");
    assert_eq!(ocf(&a, "stop", &params, &[]).code, 0, "stop on stopped");
    assert_eq!(ocf(&a, "monitor", &params, &recurring).code, 7);
}

#[test]
fn default_state_file_lives_under_ha_rsctmp() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-rsctmp");
    let tmp = s.path("rsctmp");
    let env = [
        ("HA_RSCTMP", tmp.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", "web:1"),
    ];
    assert_eq!(ocf(&a, "start", &[], &env).code, 0);
    assert!(
        tmp.join("dummy-web.state").is_file(),
        "clone suffix dropped, dir created"
    );
    assert_eq!(ocf(&a, "stop", &[], &env).code, 0);
    assert!(!tmp.join("dummy-web.state").exists());
}

#[test]
fn migrate_to_and_from_move_the_state() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-migrate");
    let (state, params) = state_params(&s);
    let params = p(&params);
    assert_eq!(ocf(&a, "start", &params, &[]).code, 0);
    let to = ocf(
        &a,
        "migrate_to",
        &params,
        &[("OCF_RESKEY_CRM_meta_migrate_target", "node2")],
    );
    assert_eq!(to.code, 0, "{to:?}");
    assert!(fs::metadata(&state).is_err());
    let from = ocf(
        &a,
        "migrate_from",
        &params,
        &[("OCF_RESKEY_CRM_meta_migrate_source", "node1")],
    );
    assert_eq!(from.code, 0);
    assert!(fs::metadata(&state).is_ok());
    assert_eq!(ocf(&a, "stop", &params, &[]).code, 0);
}

/// The driver's rule table, end to end through the real binary.
#[test]
fn driver_rules_for_actions_and_invalid_configuration() {
    let a = agent_link("dummy");
    let bad = [("state", "relative/path")];
    let recurring = [("OCF_RESKEY_CRM_meta_interval", "10000")];

    for action in ["promote", "demote", "notify", "reload", "frobnicate", ""] {
        assert_eq!(ocf(&a, action, &[], &[]).code, 3, "action {action:?}");
    }
    let v = ocf(&a, "validate-all", &bad, &[]);
    assert_eq!(v.code, 6, "{v:?}");
    assert!(
        v.reason()
            .unwrap()
            .contains("'state' must be an absolute path"),
        "{v:?}"
    );
    assert_eq!(
        v.stderr
            .lines()
            .filter(|l| l.starts_with("ocf-exit-reason:"))
            .count(),
        1,
        "exactly one reason line: {v:?}"
    );
    assert_eq!(ocf(&a, "start", &bad, &[]).code, 6);
    assert_eq!(
        ocf(&a, "stop", &bad, &[]).code,
        0,
        "stop with a broken config succeeds"
    );
    assert_eq!(
        ocf(&a, "monitor", &bad, &[]).code,
        7,
        "probe with a broken config"
    );
    assert_eq!(
        ocf(&a, "monitor", &bad, &recurring).code,
        1,
        "recurring monitor"
    );

    // A state directory missing on this node is node-local: 2, not 6; probe 7.
    let missing = [("state", "/nonexistent-ocf-rs/dir/d.state")];
    assert_eq!(ocf(&a, "start", &missing, &[]).code, 2);
    assert_eq!(ocf(&a, "monitor", &missing, &[]).code, 7);
    let lvl0 = ocf(&a, "validate-all", &missing, &[]);
    assert_eq!(
        (lvl0.code, lvl0.stderr.as_str()),
        (0, ""),
        "level 0 is syntax only and silent"
    );
    assert_eq!(
        ocf(&a, "validate-all", &missing, &[("OCF_CHECK_LEVEL", "10")]).code,
        2
    );
}

#[test]
fn meta_data_needs_no_environment_and_cli_forms_agree() {
    let a = agent_link("dummy");
    let via_link = run_env(&a.path, &["meta-data"], &[]);
    assert_eq!(via_link.code, 0);
    assert!(
        via_link
            .stdout
            .contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">")
    );
    let sub = run_env(&support::bin(), &["meta-data", "dummy"], &[]);
    let pair = run_env(&support::bin(), &["dummy", "meta-data"], &[]);
    assert_eq!(via_link.stdout, sub.stdout);
    assert_eq!(via_link.stdout, pair.stdout);
    // Extra arguments after the action are ignored (OCF spec).
    let extra = run_env(&a.path, &["meta-data", "surplus"], &[]);
    assert_eq!(extra.stdout, via_link.stdout);
}

#[test]
fn cli_tool_commands() {
    let b = support::bin();
    let v = run_env(&b, &["--version"], &[]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("ocf-rs "), "{v:?}");
    let l = run_env(&b, &["list"], &[]);
    assert!(l.stdout.lines().any(|x| x.starts_with("dummy\t")), "{l:?}");
    assert_eq!(run_env(&b, &["no-such-agent", "start"], &[]).code, 2);
    assert_eq!(run_env(&b, &[], &[]).code, 2);
    let doc = run_env(&b, &["doc", "dummy"], &[]);
    assert!(doc.stdout.contains("| `state` |"), "{doc:?}");
}

/// An action that overruns its timeout is ended by the watchdog before
/// Pacemaker's SIGKILL, with an exit reason naming the phase.
#[test]
fn watchdog_ends_an_overrunning_action_before_the_timeout() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-watchdog");
    let (_, params) = state_params(&s);
    let mut params = p(&params);
    params.push(("op_sleep", "30"));
    let out = ocf(
        &a,
        "start",
        &params,
        &[("OCF_RESKEY_CRM_meta_timeout", "2000")],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.elapsed < Duration::from_millis(2000),
        "took {:?}",
        out.elapsed
    );
    assert!(
        out.elapsed > Duration::from_millis(1500),
        "ended too early: {:?}",
        out.elapsed
    );
    let reason = out.reason().unwrap_or_default();
    assert!(reason.contains("phase 'op_sleep'"), "{reason}");
    assert!(reason.contains("2.0s timeout"), "{reason}");
}

/// After its deadline the watchdog does only async-signal-safe work: with
/// HA_LOGFILE a FIFO nobody reads (as a log file on a hung mount would), the
/// action blocks in its first log line, and the watchdog still ends it
/// before the timeout with the exit reason on stderr (the old thread-based
/// watchdog also logged, and blocked on the same FIFO until SIGKILL).
#[test]
fn watchdog_ends_an_action_stuck_in_logging_before_the_timeout() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-watchdog-fifo");
    let (_, params) = state_params(&s);
    let fifo = s.path("log.fifo");
    let (code, out) = support::sh("mkfifo", &[fifo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let out = ocf(
        &a,
        "start",
        &p(&params),
        &[
            ("OCF_RESKEY_CRM_meta_timeout", "2000"),
            ("HA_LOGFILE", fifo.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.elapsed < Duration::from_millis(2000),
        "took {:?}",
        out.elapsed
    );
    let reason = out.reason().unwrap_or_default();
    assert!(
        reason.contains("start did not finish within its 2.0s timeout"),
        "{reason}"
    );
}

/// ocf-tester and Pacemaker read our stdout/stderr until EOF: no action may
/// leave a process behind holding them. run_env reads to EOF, so a leftover
/// holder would show up as the call taking as long as that holder lives.
#[test]
fn no_action_leaves_a_child_holding_the_pipes() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-pipes");
    let (_, params) = state_params(&s);
    let params = p(&params);
    for action in [
        "meta-data",
        "validate-all",
        "start",
        "monitor",
        "migrate_to",
        "migrate_from",
        "stop",
    ] {
        let out = ocf(&a, action, &params, &[]);
        assert!(
            out.elapsed < Duration::from_secs(2),
            "{action} held the pipe: {:?}",
            out.elapsed
        );
    }
}

#[test]
fn logging_goes_to_ha_logfile_with_the_ocf_tag() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-log");
    let (_, params) = state_params(&s);
    let params = p(&params);
    let log = s.path("ha.log");
    let debuglog = s.path("ha-debug.log");
    let env = [
        ("HA_LOGFILE", log.to_str().unwrap()),
        ("HA_DEBUGLOG", debuglog.to_str().unwrap()),
        ("HA_debug", "1"),
        ("OCF_RESOURCE_INSTANCE", "logged"),
    ];
    let out = ocf(&a, "start", &params, &env);
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr, "", "with HA_LOGFILE set, stderr stays quiet");
    let text = fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("logged started"))
        .expect(&text);
    assert!(line.contains("dummy(logged)["), "{line}");
    assert!(line.contains("INFO: logged started"), "{line}");
    let debug = fs::read_to_string(&debuglog).unwrap();
    assert!(debug.contains("DEBUG: phase: start"), "{debug}");
    assert_eq!(ocf(&a, "stop", &params, &env).code, 0);
}

/// A user who may write to the state file's directory plants a link to a
/// file of root's (or to a name root would create) in place of the state
/// file: start refuses with an error and never writes through it, monitor
/// and stop never follow it, and the link's target is untouched. Before
/// the fix start said "already running" over a link to an existing file
/// and created the target of a dangling one.
#[test]
fn a_planted_link_in_place_of_the_state_file_is_never_followed() {
    use std::os::unix::fs::{PermissionsExt, lchown, symlink};
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-planted-link");
    let shared = s.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let victims = s.path("victims");
    fs::create_dir(&victims).unwrap();
    let victim = victims.join("shadow");
    fs::write(&victim, "root:secret\n").unwrap();
    let state = shared.join("d.state");
    let params = [("state", state.to_str().unwrap())];
    let recurring = [("OCF_RESKEY_CRM_meta_interval", "10000")];
    let deep = [
        ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ("OCF_CHECK_LEVEL", "10"),
    ];

    for target in [victim.clone(), victims.join("created-by-root")] {
        let _ = fs::remove_file(&state);
        symlink(&target, &state).unwrap();
        lchown(&state, Some(65534), Some(65534)).unwrap();
        let start = ocf(&a, "start", &params, &[]);
        assert_eq!(start.code, 1, "{target:?}: {start:?}");
        assert!(
            start.reason().unwrap_or_default().contains("symbolic link"),
            "{start:?}"
        );
        assert_eq!(ocf(&a, "monitor", &params, &[]).code, 7, "probe");
        assert_eq!(ocf(&a, "monitor", &params, &recurring).code, 7);
        assert_eq!(ocf(&a, "monitor", &params, &deep).code, 7);
        let stop = ocf(&a, "stop", &params, &[]);
        assert_eq!(stop.code, 0, "{stop:?}");
        assert!(
            fs::symlink_metadata(&state)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:secret\n");
        assert!(!victims.join("created-by-root").exists(), "nothing created");
    }
    // Another user's regular file is not a state file of ours either.
    fs::remove_file(&state).unwrap();
    fs::write(&state, "d\n").unwrap();
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
    assert_eq!(ocf(&a, "start", &params, &[]).code, 1);
    assert_eq!(ocf(&a, "monitor", &params, &recurring).code, 7);
    assert_eq!(ocf(&a, "stop", &params, &[]).code, 0);
    assert!(state.exists(), "not ours to remove");
    // Without anything planted: created with its mode, then removed.
    fs::remove_file(&state).unwrap();
    assert_eq!(ocf(&a, "start", &params, &[]).code, 0);
    let meta = fs::symlink_metadata(&state).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert_eq!(ocf(&a, "monitor", &params, &deep).code, 0);
    assert_eq!(ocf(&a, "stop", &params, &[]).code, 0);
    assert!(!state.exists());
}

/// A FIFO in place of the state file never blocks an action (opening one
/// for writing waits for a reader: start used to hang there until the
/// watchdog); it is not a state file, so monitor says 7 and stop 0.
#[test]
fn a_fifo_in_place_of_the_state_file_never_blocks() {
    let a = agent_link("dummy");
    let s = Scratch::new("dummy-fifo-state");
    let state = s.path("d.state");
    let (code, out) = support::sh("mkfifo", &[state.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let params = [("state", state.to_str().unwrap())];
    let t = ("OCF_RESKEY_CRM_meta_timeout", "5000");
    let quick = |o: &support::Outcome| o.elapsed < Duration::from_secs(2);
    let start = ocf(&a, "start", &params, &[t]);
    assert!(quick(&start), "start blocked: {start:?}");
    assert_eq!(start.code, 1, "{start:?}");
    assert!(
        start
            .reason()
            .unwrap_or_default()
            .contains("not a regular file"),
        "{start:?}"
    );
    for env in [
        vec![t],
        vec![t, ("OCF_RESKEY_CRM_meta_interval", "10000")],
        vec![
            t,
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
            ("OCF_CHECK_LEVEL", "10"),
        ],
    ] {
        let m = ocf(&a, "monitor", &params, &env);
        assert!(quick(&m), "monitor blocked: {m:?}");
        assert_eq!(m.code, 7, "{env:?}: {m:?}");
    }
    let stop = ocf(&a, "stop", &params, &[t]);
    assert!(quick(&stop), "stop blocked: {stop:?}");
    assert_eq!(stop.code, 0, "{stop:?}");
}
