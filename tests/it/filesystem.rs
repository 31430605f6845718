//! ocf:rust:filesystem on real parts: loop devices with ext4 and xfs that
//! the tests create (/var/tmp/fsa-*.img, mounted under /mnt/fsa-*), real
//! processes holding the mount busy (cwd, open file, mmap), submounts, a
//! bind mount, UUID= and LABEL=, and a FUSE mount (bindfs) whose daemon is
//! SIGSTOPped, standing in for a dead NFS server, in a private mount
//! namespace. The binary runs through an argv[0] symlink, as Pacemaker runs it.

use support::filesystem as fsa;

use std::fs;
use std::path::Path;
use std::time::Duration;

use fsa::{LoopDev, MountPoint, is_mounted};
use support::{AgentLink, Outcome, Scratch, agent_link, require};

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "20000");

thread_local! {
    /// Each test's own HA_RSCTMP: what start records there is per
    /// resource instance, and tests running side by side must not read
    /// each other's records (Pacemaker's instance names are unique; these
    /// tests mostly use the default one).
    static RSCTMP: Scratch = Scratch::new(&format!(
        "fsa-rsc-{}",
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    ));
}

/// `support::ocf` with this test's HA_RSCTMP unless `env` names one.
fn ocf(a: &AgentLink, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
    let dir = RSCTMP.with(|s| s.0.display().to_string());
    let mut all: Vec<(&str, &str)> = Vec::new();
    if !env.iter().any(|(k, _)| *k == "HA_RSCTMP") {
        all.push(("HA_RSCTMP", dir.as_str()));
    }
    all.extend_from_slice(env);
    support::ocf(a, action, params, &all)
}

fn params<'a>(dev: &'a str, dir: &'a str, fstype: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("device", dev), ("directory", dir), ("fstype", fstype)]
}

fn ok(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {o:?}");
}

/// start, start again, monitor at depths 0, 10 and 20, data written and
/// synced before a stop reads back intact after the next start, stop twice,
/// probe after: on ext4 (with a space in the mount point, so the mountinfo
/// octal escapes are exercised) and on xfs.
#[test]
fn lifecycle_on_ext4_and_xfs_with_data_surviving_a_restart() {
    require("mkfs.xfs");
    let a = agent_link("filesystem");
    let rsctmp = Scratch::new("fsa-life");
    for fstype in ["ext4", "xfs"] {
        let lo = LoopDev::new(&format!("life-{fstype}"), fstype, 300, None);
        let mp = MountPoint(
            Path::new(&format!(
                "/mnt/{} dir",
                fsa::name(&format!("life-{fstype}"))
            ))
            .to_path_buf(),
        );
        let p = params(&lo.dev, mp.s(), fstype);
        let env = [
            ("HA_RSCTMP", rsctmp.0.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", "fs-life"),
        ];
        let rec = [env[0], env[1], RECURRING];

        let probe = ocf(&a, "monitor", &p, &env);
        assert_eq!(probe.code, 7, "probe before start: {probe:?}");
        ok(&ocf(&a, "start", &p, &env), "start");
        assert!(is_mounted(&mp.0), "{fstype}: the kernel shows the mount");
        ok(&ocf(&a, "start", &p, &env), "start on started");
        ok(&ocf(&a, "monitor", &p, &rec), "monitor");
        let d10 = ocf(
            &a,
            "monitor",
            &p,
            &[rec[0], rec[1], rec[2], ("OCF_CHECK_LEVEL", "10")],
        );
        ok(&d10, "depth 10");
        let d20 = ocf(
            &a,
            "monitor",
            &p,
            &[
                rec[0],
                rec[1],
                rec[2],
                ("OCF_CHECK_LEVEL", "20"),
                ("OCF_RESKEY_CRM_meta_on_node", "n1"),
            ],
        );
        ok(&d20, "depth 20");
        let status = mp.0.join(".Filesystem_status/fs-life_n1");
        assert_eq!(fs::read(&status).unwrap().len(), 4096, "one O_DIRECT block");
        assert!(
            fs::read_to_string(&status)
                .unwrap()
                .starts_with("fs-life\n")
        );

        let sum = fsa::write_synced(&mp.0.join("data.bin"), 42, 4 << 20);
        let stop = ocf(&a, "stop", &p, &env);
        ok(&stop, "stop");
        assert!(!is_mounted(&mp.0), "{fstype}: unmounted");
        assert!(
            !stop.stderr.contains("busy") && !stop.stderr.contains("sending"),
            "an idle mount is unmounted at the first try, nobody scanned or signalled (RA#1907): {}",
            stop.stderr
        );
        assert!(!status.exists(), "stop removed the status file");
        ok(&ocf(&a, "stop", &p, &env), "stop on stopped");
        assert_eq!(ocf(&a, "monitor", &p, &rec).code, 7, "monitor after stop");

        ok(&ocf(&a, "start", &p, &env), "start again");
        assert_eq!(
            fsa::checksum(&mp.0.join("data.bin")),
            sum,
            "{fstype}: data intact"
        );
        ok(&ocf(&a, "stop", &p, &env), "final stop");
    }
}

/// UUID=, LABEL= and the -U/-L forms resolve to the same loop device; with
/// no /dev/disk on this machine that takes blkid at start, and the monitor
/// finds the device again without it.
#[test]
fn uuid_and_label_forms() {
    let a = agent_link("filesystem");
    let rsctmp = Scratch::new("fsa-tags");
    let lo = LoopDev::new("tags", "ext4", 64, Some("fsatags"));
    let mp = MountPoint::new("tags");
    let uuid = lo.uuid();
    assert!(!uuid.is_empty());
    let forms = [
        format!("UUID={uuid}"),
        format!("-U {uuid}"),
        "LABEL=fsatags".to_string(),
        "-L fsatags".to_string(),
    ];
    for dev in &forms {
        let p = params(dev, mp.s(), "ext4");
        let env = [
            ("HA_RSCTMP", rsctmp.0.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", "fs-tags"),
        ];
        ok(&ocf(&a, "start", &p, &env), dev);
        let src = fsa::mounts_of_source(&lo.dev);
        assert_eq!(
            src,
            std::slice::from_ref(&mp.0),
            "{dev}: our loop device is what got mounted"
        );
        ok(&ocf(&a, "monitor", &p, &[env[0], env[1], RECURRING]), dev);
        ok(
            &ocf(
                &a,
                "monitor",
                &p,
                &[env[0], env[1], RECURRING, ("OCF_CHECK_LEVEL", "10")],
            ),
            dev,
        );
        ok(&ocf(&a, "stop", &p, &env), dev);
        assert!(!is_mounted(&mp.0));
        assert_eq!(ocf(&a, "monitor", &p, &env).code, 7);
    }
    let none = params("UUID=00000000-0000-0000-0000-00000000fsa0", mp.s(), "ext4");
    let start = ocf(&a, "start", &none, &[]);
    assert_eq!(start.code, 5, "{start:?}");
    assert!(
        start.reason().unwrap().contains("no device with UUID="),
        "{start:?}"
    );
    assert_eq!(ocf(&a, "monitor", &none, &[]).code, 7, "probe");
}

/// A process with its cwd inside, one with a file open, one with a file
/// mmapped (descriptor closed): stop ends all three and unmounts, well
/// within the operation timeout; the log names them.
#[test]
fn stop_ends_cwd_open_file_and_mmap_holders() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("busy", "ext4", 64, None);
    let mp = MountPoint::new("busy");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    fs::create_dir(mp.0.join("work")).unwrap();
    fs::write(mp.0.join("open.txt"), b"held").unwrap();
    fsa::write_synced(&mp.0.join("mapped.bin"), 7, 65536);
    let mut cwd = fsa::hold_cwd(&mp.0.join("work"));
    let mut open = fsa::hold_open(&mp.0.join("open.txt"));
    let mut mapped = fsa::hold_mmap(&mp.0.join("mapped.bin"));
    let timeout = [("OCF_RESKEY_CRM_meta_timeout", "20000")];
    let stop = ocf(&a, "stop", &p, &timeout);
    ok(&stop, "stop of a busy mount");
    assert!(
        stop.elapsed < Duration::from_secs(15),
        "took {:?}",
        stop.elapsed
    );
    assert!(!is_mounted(&mp.0));
    for (h, what) in [(&mut cwd, "cwd"), (&mut open, "fd 0"), (&mut mapped, "map")] {
        assert!(
            support::wait_for(Duration::from_secs(5), || h.exited()),
            "{what} holder still alive"
        );
        assert!(
            stop.stderr.contains(&format!("pid {}", h.pid())),
            "{what} holder not named:\n{}",
            stop.stderr
        );
        assert!(stop.stderr.contains(what), "{what}:\n{}", stop.stderr);
    }
    assert!(stop.stderr.contains("SIGTERM"), "{}", stop.stderr);
}

/// A holder that ignores SIGTERM is killed by the kill signals in the
/// second half of the one budget, and the stop still ends in time.
#[test]
fn a_holder_ignoring_term_gets_the_kill_signals_in_the_second_half() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("stubborn", "ext4", 64, None);
    let mp = MountPoint::new("stubborn");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let mut h = fsa::hold_ignoring_term(&mp.0);
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "8000")]);
    ok(&stop, "stop");
    assert!(
        stop.elapsed > Duration::from_millis(2500),
        "TERM phase skipped? {:?}",
        stop.elapsed
    );
    assert!(
        stop.elapsed < Duration::from_secs(8),
        "took {:?}",
        stop.elapsed
    );
    assert!(stop.stderr.contains("SIGKILL"), "{}", stop.stderr);
    assert!(support::wait_for(Duration::from_secs(5), || h.exited()));
    assert!(!is_mounted(&mp.0));
}

/// force_unmount=false signals nobody: the stop fails (1) at its deadline,
/// before the operation timeout, naming the holder, and the holder lives.
#[test]
fn force_unmount_false_never_signals() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("nokill", "ext4", 64, None);
    let mp = MountPoint::new("nokill");
    let mut p = params(&lo.dev, mp.s(), "ext4");
    p.push(("force_unmount", "false"));
    ok(&ocf(&a, "start", &p, &[]), "start");
    let mut h = fsa::hold_cwd(&mp.0);
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(stop.elapsed < Duration::from_secs(3), "{:?}", stop.elapsed);
    let reason = stop.reason().unwrap();
    assert!(reason.contains(&format!("pid {}", h.pid())), "{reason}");
    assert!(!h.exited(), "the holder was left alone");
    assert!(is_mounted(&mp.0));
    drop(h);
    ok(&ocf(&a, "stop", &p, &[]), "stop once it is free");
}

/// Mounts below the directory (a tmpfs with a holder inside, and one nested
/// in it) and one stacked on top of ours are unmounted first, in one budget.
#[test]
fn submounts_and_stacked_mounts_go_first() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("sub", "xfs", 300, None);
    let mp = MountPoint::new("sub");
    let p = params(&lo.dev, mp.s(), "xfs");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let sub = mp.0.join("sub");
    fs::create_dir(&sub).unwrap();
    assert_eq!(
        support::sh("mount", &["-t", "tmpfs", "fsa-sub", sub.to_str().unwrap()]).0,
        0
    );
    fs::create_dir(sub.join("deeper")).unwrap();
    assert_eq!(
        support::sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "fsa-deeper",
                sub.join("deeper").to_str().unwrap()
            ]
        )
        .0,
        0
    );
    let mut h = fsa::hold_cwd(&sub.join("deeper"));
    ok(
        &ocf(&a, "monitor", &p, &[RECURRING]),
        "monitor with submounts",
    );
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    ok(&stop, "stop");
    assert!(
        fsa::mounts_within(&mp.0).is_empty(),
        "everything below is gone"
    );
    assert!(support::wait_for(Duration::from_secs(5), || h.exited()));

    // A tmpfs stacked on top of our mount hides it; stop removes both.
    ok(&ocf(&a, "start", &p, &[]), "start");
    assert_eq!(
        support::sh("mount", &["-t", "tmpfs", "fsa-over", mp.s()]).0,
        0
    );
    ok(
        &ocf(&a, "monitor", &p, &[RECURRING]),
        "ours is still mounted under the tmpfs",
    );
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(fsa::mounts_within(&mp.0).is_empty());

    // A bind of one of our directories elsewhere keeps the device in use
    // after ours is gone: stop unmounts it too (and ends its holder).
    ok(&ocf(&a, "start", &p, &[]), "start");
    let shared = mp.0.join("shared");
    fs::create_dir_all(&shared).unwrap();
    let elsewhere = MountPoint::new("sub-elsewhere");
    fs::create_dir_all(&elsewhere.0).unwrap();
    assert_eq!(
        support::sh(
            "mount",
            &["--bind", shared.to_str().unwrap(), elsewhere.s()]
        )
        .0,
        0
    );
    let mut h2 = fsa::hold_cwd(&elsewhere.0);
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(
        fsa::mounts_of_source(&lo.dev).is_empty(),
        "the device is free"
    );
    assert!(support::wait_for(Duration::from_secs(5), || h2.exited()));
}

/// Another filesystem already on the directory: start refuses with a clear
/// reason instead of mounting on top, monitor says 7, stop leaves it alone.
#[test]
fn a_different_filesystem_on_the_directory() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("taken", "ext4", 64, None);
    let mp = MountPoint::new("taken");
    fs::create_dir_all(&mp.0).unwrap();
    assert_eq!(
        support::sh("mount", &["-t", "tmpfs", "fsa-squatter", mp.s()]).0,
        0
    );
    let p = params(&lo.dev, mp.s(), "ext4");
    let start = ocf(&a, "start", &p, &[]);
    assert_eq!(start.code, 1, "{start:?}");
    let reason = start.reason().unwrap();
    assert!(
        reason.contains("already has fsa-squatter (tmpfs) mounted on it"),
        "{reason}"
    );
    assert!(
        fsa::mounts_of_source(&lo.dev).is_empty(),
        "nothing mounted on top"
    );
    assert_eq!(ocf(&a, "monitor", &p, &[RECURRING]).code, 7);
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(is_mounted(&mp.0), "the other filesystem is untouched");

    // The anchor in the same place, for the record (printed, not asserted).
    let hb = Path::new("/usr/lib/ocf/resource.d/heartbeat/Filesystem");
    if hb.exists() {
        let env: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
            .chain([("OCF_ROOT".to_string(), "/usr/lib/ocf".to_string())])
            .collect();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let start = support::run_env(hb, &["start"], &refs);
        let ours_there = !fsa::mounts_of_source(&lo.dev).is_empty();
        let stop = support::run_env(hb, &["stop"], &refs);
        println!(
            "heartbeat start: {} (device mounted: {ours_there}); heartbeat stop: {}; the other filesystem still mounted: {}",
            start.code,
            stop.code,
            is_mounted(&mp.0)
        );
    }
}

/// A bind mount of a source with a space in its name: matched through the
/// mount table (root field decoded), and its stop signals only
/// holders of the bind target, never of the source (RA#1304).
#[test]
fn bind_mount_kill_set_never_comes_from_the_source() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("bindsrc", "ext4", 64, None);
    let src = MountPoint::new("bindsrc");
    fs::create_dir_all(&src.0).unwrap();
    assert_eq!(support::sh("mount", &[&lo.dev, src.s()]).0, 0);
    fs::create_dir(src.0.join("my data")).unwrap();
    let source = src.0.join("my data");
    let mp = MountPoint::new("bind");
    let mut p = params(source.to_str().unwrap(), mp.s(), "none");
    p.push(("options", "bind"));
    assert_eq!(ocf(&a, "monitor", &p, &[]).code, 7, "probe");
    ok(&ocf(&a, "start", &p, &[]), "start");
    ok(&ocf(&a, "monitor", &p, &[RECURRING]), "monitor");
    ok(
        &ocf(&a, "monitor", &p, &[RECURRING, ("OCF_CHECK_LEVEL", "20")]),
        "depth 20",
    );
    let mut in_source = fsa::hold_cwd(&source);
    let mut in_target = fsa::hold_cwd(&mp.0);
    let stop = ocf(&a, "stop", &p, &[]);
    ok(&stop, "stop");
    assert!(!is_mounted(&mp.0));
    assert!(support::wait_for(Duration::from_secs(5), || in_target.exited()));
    assert!(
        !in_source.exited(),
        "a process in the source was killed:\n{}",
        stop.stderr
    );
    assert!(is_mounted(&src.0), "the source filesystem is untouched");

    // bind,ro in one step: read-only, so depth 20 reports the failed write.
    let mut ro = p.clone();
    ro.retain(|(k, _)| *k != "options");
    ro.push(("options", "bind,ro"));
    ok(&ocf(&a, "start", &ro, &[]), "start bind,ro");
    assert!(fs::write(mp.0.join("x"), b"x").is_err(), "read-only");
    ok(&ocf(&a, "monitor", &ro, &[RECURRING]), "monitor bind,ro");
    let d20 = ocf(&a, "monitor", &ro, &[RECURRING, ("OCF_CHECK_LEVEL", "20")]);
    assert_eq!(d20.code, 1, "{d20:?}");
    assert!(d20.reason().unwrap().contains("Read-only"), "{d20:?}");
    ok(&ocf(&a, "stop", &ro, &[]), "stop bind,ro");
    assert!(!is_mounted(&mp.0));

    // A bind of a directory that is not ours on the same place is not ours.
    let other = src.0.join("other");
    fs::create_dir(&other).unwrap();
    fs::create_dir_all(&mp.0).unwrap();
    assert_eq!(
        support::sh("mount", &["--bind", other.to_str().unwrap(), mp.s()]).0,
        0
    );
    assert_eq!(ocf(&a, "monitor", &p, &[RECURRING]).code, 7);
    assert_eq!(ocf(&a, "start", &p, &[]).code, 1);
}

/// Bad input: the right code and one exit-reason line; stop with a broken
/// configuration succeeds and a probe says 7.
#[test]
fn bad_input_gives_the_right_code_and_one_line() {
    let a = agent_link("filesystem");
    let cases: &[(&str, &str, &str)] = &[
        ("directory", "relative/dir", "must be an absolute path"),
        ("directory", "/", "must not be /"),
        ("device", "/dev/my disk", "whitespace"),
        ("device", " /dev/loop0", "whitespace"),
        ("options", "rw\nro", "control character"),
        ("fstype", "ext4 -o exec", "filesystem type"),
    ];
    for (k, v, why) in cases {
        let mut p = params("/dev/loop0", "/mnt/fsa-bad", "ext4");
        p.retain(|(n, _)| n != k);
        p.push((k, v));
        for action in ["validate-all", "start"] {
            let o = ocf(&a, action, &p, &[]);
            assert_eq!(o.code, 6, "{action} {k}={v:?}: {o:?}");
            let reasons: Vec<&str> = o
                .stderr
                .lines()
                .filter(|l| l.starts_with("ocf-exit-reason:"))
                .collect();
            assert_eq!(reasons.len(), 1, "{o:?}");
            assert!(
                reasons[0].contains(k) && reasons[0].contains(why),
                "{reasons:?}"
            );
        }
        assert_eq!(ocf(&a, "stop", &p, &[]).code, 0, "stop {k}={v:?}");
        assert_eq!(ocf(&a, "monitor", &p, &[]).code, 7, "probe {k}={v:?}");
        assert_eq!(
            ocf(&a, "monitor", &p, &[RECURRING]).code,
            1,
            "recurring {k}={v:?}"
        );
    }
    // Parameters that stopped validating while the filesystem is mounted:
    // stop still unmounts it (0 means unmounted, never "gave up").
    let lo = LoopDev::new("badstop", "ext4", 64, None);
    let mp = MountPoint::new("badstop");
    let good = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &good, &[]), "start");
    let mut typo = good.clone();
    typo.push(("force_unmount", "maybe"));
    let h = fsa::hold_cwd(&mp.0);
    ok(
        &ocf(&a, "stop", &typo, &[]),
        "stop with an invalid force_unmount",
    );
    assert!(
        !is_mounted(&mp.0),
        "stop with an invalid parameter unmounted it"
    );
    drop(h);
    ok(&ocf(&a, "start", &good, &[]), "start");
    let clone = [("OCF_RESKEY_CRM_meta_clone_max", "2")];
    assert_eq!(
        ocf(&a, "start", &good, &clone).code,
        6,
        "ext4 may not be cloned"
    );
    ok(&ocf(&a, "stop", &good, &clone), "stop of a forbidden clone");
    assert!(!is_mounted(&mp.0), "stop of a forbidden clone unmounted it");

    let missing = params("/dev/fsa-no-such-device", "/mnt/fsa-missing", "ext4");
    let o = ocf(&a, "start", &missing, &[]);
    assert_eq!(o.code, 5, "{o:?}");
    assert!(o.reason().unwrap().contains("does not exist"), "{o:?}");
    assert_eq!(ocf(&a, "monitor", &missing, &[]).code, 7);
    let v0 = ocf(&a, "validate-all", &missing, &[]);
    assert_eq!(
        (v0.code, v0.stderr.as_str()),
        (0, ""),
        "level 0 is syntax only and silent"
    );
    let v10 = ocf(&a, "validate-all", &missing, &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(v10.code, 5, "level 10 looks at this node: {v10:?}");
    let here = ocf(&a, "validate-all", &good, &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!((here.code, here.stderr.as_str()), (0, ""), "{here:?}");
    let nofs = ocf(
        &a,
        "validate-all",
        &params(&lo.dev, mp.s(), "fsa-nofs"),
        &[("OCF_CHECK_LEVEL", "10")],
    );
    assert_eq!(nofs.code, 5, "{nofs:?}");
    assert!(nofs.reason().unwrap().contains("fsa-nofs"), "{nofs:?}");
    let clone = ocf(
        &a,
        "validate-all",
        &params("/dev/loop0", "/mnt/fsa-clone", "xfs"),
        &[("OCF_RESKEY_CRM_meta_clone_max", "2")],
    );
    assert_eq!(clone.code, 6, "{clone:?}");
}

/// A hung unrelated mount: a bindfs FUSE mount whose daemon is SIGSTOPped
/// (a stand-in for a dead NFS server), with a process whose cwd is on it,
/// next to our real ext4 resource, all in a private mount namespace (so the
/// host and other tests never see the hung mount). Our monitor (depths 0,
/// 10, 20) and our stop of a busy mount still finish quickly. The same
/// scenario is then run against ocf:heartbeat:Filesystem and what it does
/// is printed (docs/agents/filesystem.md records it); its outcome is not
/// asserted, because that is the anchor's behaviour, not ours.
#[test]
fn a_hung_fuse_mount_elsewhere_does_not_stall_monitor_or_stop() {
    require("bindfs");
    require("nsenter");
    let a = agent_link("filesystem");
    let ns = fsa::MountNs::new("hung");
    let fuse_src = Scratch::new("fsa-hung-src");
    let fuse_dir = MountPoint::new("hung-fuse");
    fs::create_dir_all(&fuse_dir.0).unwrap();
    let daemon = ns.spawn(
        None,
        &["bindfs", "-f", fuse_src.0.to_str().unwrap(), fuse_dir.s()],
    );
    let fuse_line = fuse_dir.s().to_string();
    assert!(
        support::wait_for(Duration::from_secs(10), || ns
            .mountinfo()
            .contains(&fuse_line)),
        "bindfs did not mount"
    );
    assert!(
        !is_mounted(&fuse_dir.0),
        "the FUSE mount must stay out of the host's table"
    );
    let on_fuse = ns.spawn(Some(&fuse_dir.0), &["sleep", "600"]);
    assert!(
        support::wait_for(Duration::from_secs(5), || fs::read_link(format!(
            "/proc/{on_fuse}/cwd"
        ))
        .is_ok_and(|p| p == fuse_dir.0)),
        "a process must sit on the FUSE mount"
    );
    fs::write(fuse_src.0.join("open.txt"), b"held").unwrap();
    let fuse_file = fuse_dir.0.join("open.txt");
    let with_fd = ns.spawn(
        None,
        &[
            "python3",
            "-c",
            "import sys,time\nf=open(sys.argv[1])\ntime.sleep(600)\n",
            fuse_file.to_str().unwrap(),
        ],
    );
    assert!(
        support::wait_for(Duration::from_secs(5), || fs::read_dir(format!(
            "/proc/{with_fd}/fd"
        ))
        .is_ok_and(|d| d
            .flatten()
            .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == fuse_file)))),
        "a process must hold a file open on the FUSE mount"
    );
    // The bindfs daemon we started (resumed and killed by MountNs's Drop).
    fsa::stop_process(daemon);
    let stat = ns.run_bounded(&["stat", fuse_dir.s()], &[], Duration::from_secs(2));
    assert_eq!(
        stat.code, None,
        "stat on the FUSE mount must hang now: {stat:?}"
    );

    let lo = LoopDev::new("hung-real", "ext4", 64, None);
    let mp = MountPoint::new("hung-real");
    let env_for = |check: &'static str| -> Vec<(String, String)> {
        vec![
            ("OCF_ROOT".into(), "/usr/lib/ocf".into()),
            ("OCF_RESOURCE_INSTANCE".into(), "fs-hung".into()),
            ("OCF_RESKEY_device".into(), lo.dev.clone()),
            ("OCF_RESKEY_directory".into(), mp.s().into()),
            ("OCF_RESKEY_fstype".into(), "ext4".into()),
            ("OCF_RESKEY_CRM_meta_timeout".into(), "10000".into()),
            ("OCF_RESKEY_CRM_meta_interval".into(), "20000".into()),
            ("OCF_CHECK_LEVEL".into(), check.into()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ]
    };
    let run = |agent: &Path, action: &str, check: &'static str, limit: u64| {
        let env = env_for(check);
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ns.run_bounded(
            &[agent.to_str().unwrap(), action],
            &refs,
            Duration::from_secs(limit),
        )
    };

    let ours = a.path.clone();
    let start = run(&ours, "start", "0", 20);
    assert_eq!(start.code, Some(0), "{start:?}");
    for level in ["0", "10", "20"] {
        let m = run(&ours, "monitor", level, 20);
        assert_eq!(m.code, Some(0), "depth {level}: {m:?}");
        assert!(
            m.elapsed < Duration::from_secs(2),
            "depth {level} took {:?}",
            m.elapsed
        );
    }
    let _holder = ns.spawn(Some(&mp.0), &["sleep", "600"]);
    std::thread::sleep(Duration::from_millis(300));
    let stop = run(&ours, "stop", "0", 20);
    assert_eq!(stop.code, Some(0), "{stop:?}");
    assert!(
        stop.elapsed < Duration::from_secs(5),
        "stop took {:?}",
        stop.elapsed
    );
    assert!(!ns.mountinfo().contains(mp.s()), "unmounted");
    assert!(
        stop.output.contains("sending SIGTERM"),
        "the mount was busy: {stop:?}"
    );
    println!(
        "ocf:rust:filesystem: monitor and stop of a busy mount finished; stop {:?}",
        stop.elapsed
    );

    // The anchor, same scenario (same namespace, same hung mount, same holder kind).
    let hb = Path::new("/usr/lib/ocf/resource.d/heartbeat/Filesystem");
    if hb.exists() {
        let start = run(hb, "start", "0", 30);
        println!("heartbeat start: {:?} in {:?}", start.code, start.elapsed);
        let mon = run(hb, "monitor", "0", 30);
        println!(
            "heartbeat monitor depth 0: {:?} in {:?}",
            mon.code, mon.elapsed
        );
        let _hb_holder = ns.spawn(Some(&mp.0), &["sleep", "600"]);
        std::thread::sleep(Duration::from_millis(300));
        let stop = run(hb, "stop", "0", 20);
        println!(
            "heartbeat stop (force_unmount default): {:?} in {:?}\n{}",
            stop.code, stop.elapsed, stop.output
        );
        let _ = ns.run(&["umount", "-l", mp.s()]);
        {
            let (mode, limit) = ("safe", 20);
            let mut env = env_for("0");
            env.push(("OCF_RESKEY_force_unmount".into(), mode.into()));
            let refs: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let go = |action: &str| {
                ns.run_bounded(
                    &[hb.to_str().unwrap(), action],
                    &refs,
                    Duration::from_secs(limit),
                )
            };
            let start = go("start");
            let _h = ns.spawn(Some(&mp.0), &["sleep", "600"]);
            std::thread::sleep(Duration::from_millis(300));
            let stop = go("stop");
            println!(
                "heartbeat force_unmount={mode}: start {:?}, stop {:?} in {:?}\n{}",
                start.code, stop.code, stop.elapsed, stop.output
            );
            let _ = ns.run(&["umount", "-l", mp.s()]);
        }
    }
}

/// ClusterLabs' real ocf-tester against the installed agent on a loop device.
#[test]
fn ocf_tester_passes() {
    require("ocf-tester");
    let lo = LoopDev::new("tester", "ext4", 64, None);
    let mp = MountPoint::new("tester");
    let (rc, out) = support::ocf_tester(
        "filesystem",
        "fsa-tester",
        &[
            ("device", &lo.dev),
            ("directory", mp.s()),
            ("fstype", "ext4"),
        ],
        60,
    );
    println!("{out}");
    assert_eq!(rc, 0, "ocf-tester failed:\n{out}");
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!is_mounted(&mp.0), "ocf-tester's last action is a stop");
}

/// Processes created by one monitor call under `strace -f` (threads excluded).
fn forks_of_monitor(a: &support::AgentLink, p: &[(&str, &str)], level: &str) -> usize {
    let s = Scratch::new(&format!("fsa-strace-{level}"));
    let trace = s.path("trace");
    let mut cmd = std::process::Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-o",
        trace.to_str().unwrap(),
        "-e",
        "trace=clone,clone3,fork,vfork,execve",
    ])
    .arg(&a.path)
    .arg("monitor")
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("OCF_ROOT", "/usr/lib/ocf")
    .env("OCF_CHECK_LEVEL", level)
    .env(RECURRING.0, RECURRING.1);
    for (k, v) in p {
        cmd.env(format!("OCF_RESKEY_{k}"), v);
    }
    let st = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(st.status.success(), "{st:?}");
    let text = fs::read_to_string(&trace).unwrap();
    text.lines()
        .filter(|l| {
            ["clone(", "clone3(", "fork(", "vfork("]
                .iter()
                .any(|c| l.contains(c))
        })
        .filter(|l| !l.contains("CLONE_THREAD") && !l.contains("resumed"))
        .count()
}

/// Monitor is the hot path: no process is created at depth 0; depth 10
/// forks exactly one child for the O_DIRECT read (so dead storage cannot
/// hold the agent past its deadline), and nothing is ever exec'd.
#[test]
fn monitor_depth_0_never_forks() {
    require("strace");
    let a = agent_link("filesystem");
    let lo = LoopDev::new("forks", "ext4", 64, None);
    let mp = MountPoint::new("forks");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    assert_eq!(forks_of_monitor(&a, &p, "0"), 0, "depth 0");
    assert_eq!(forks_of_monitor(&a, &p, "10"), 1, "depth 10");
    ok(&ocf(&a, "stop", &p, &[]), "stop");
}

/// An image file mounted with `options=loop` is recognised through the
/// loop device's backing file; a tmpfs is matched by its source name, and
/// another tmpfs on the same directory is not taken for ours.
#[test]
fn loop_image_and_tmpfs_sources() {
    let a = agent_link("filesystem");
    let img = std::path::PathBuf::from(format!("/var/tmp/{}.img", fsa::name("image")));
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }
    let _rm = Rm(img.clone());
    fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    assert_eq!(
        support::sh("mkfs.ext4", &["-q", "-F", img.to_str().unwrap()]).0,
        0
    );
    let mp = MountPoint::new("image");
    let mut p = params(img.to_str().unwrap(), mp.s(), "ext4");
    p.push(("options", "loop"));
    ok(&ocf(&a, "start", &p, &[]), "start of an image");
    ok(&ocf(&a, "monitor", &p, &[RECURRING]), "monitor of an image");
    ok(&ocf(&a, "stop", &p, &[]), "stop of an image");
    assert!(!is_mounted(&mp.0));
    let (_, attached) = support::sh("losetup", &["-j", img.to_str().unwrap()]);
    assert!(
        attached.trim().is_empty(),
        "the loop device was released: {attached}"
    );

    let tmp = MountPoint::new("tmpfs");
    let name = fsa::name("tmpsrc");
    let mut t = params(&name, tmp.s(), "tmpfs");
    t.push(("options", "size=8m"));
    ok(&ocf(&a, "start", &t, &[]), "start of a tmpfs");
    ok(
        &ocf(&a, "monitor", &t, &[RECURRING, ("OCF_CHECK_LEVEL", "20")]),
        "tmpfs depth 20",
    );
    ok(&ocf(&a, "stop", &t, &[]), "stop of a tmpfs");
    fs::create_dir_all(&tmp.0).unwrap();
    assert_eq!(
        support::sh("mount", &["-t", "tmpfs", "fsa-other", tmp.s()]).0,
        0
    );
    assert_eq!(ocf(&a, "monitor", &t, &[RECURRING]).code, 7);
    ok(&ocf(&a, "stop", &t, &[]), "stop leaves the other tmpfs");
    assert!(is_mounted(&tmp.0));
}

/// run_fsck=force runs `fsck -p` before mounting; a filesystem fsck cannot
/// repair (its superblock zeroed) fails the start with 1 and a reason.
#[test]
fn run_fsck_force_checks_and_a_broken_filesystem_fails_the_start() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("fsck", "ext4", 64, None);
    let mp = MountPoint::new("fsck");
    let mut p = params(&lo.dev, mp.s(), "ext4");
    p.push(("run_fsck", "force"));
    let start = ocf(&a, "start", &p, &[]);
    ok(&start, "start");
    assert!(
        start
            .stderr
            .contains(&format!("fsck -t ext4 -p {}", lo.dev)),
        "{}",
        start.stderr
    );
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut dev = fs::OpenOptions::new().write(true).open(&lo.dev).unwrap();
        dev.seek(SeekFrom::Start(1024)).unwrap();
        dev.write_all(&[0u8; 1024]).unwrap();
        dev.sync_all().unwrap();
    }
    let broken = ocf(&a, "start", &p, &[]);
    assert_eq!(broken.code, 1, "{broken:?}");
    assert!(broken.reason().unwrap().contains("fsck"), "{broken:?}");
    assert!(!is_mounted(&mp.0));
}

/// fast_stop caps the whole stop at 6 s even with a 20 s timeout.
#[test]
fn fast_stop_gives_up_after_six_seconds() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("fast", "ext4", 64, None);
    let mp = MountPoint::new("fast");
    let mut p = params(&lo.dev, mp.s(), "ext4");
    p.extend([("fast_stop", "true"), ("force_unmount", "false")]);
    ok(&ocf(&a, "start", &p, &[]), "start");
    let h = fsa::hold_cwd(&mp.0);
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(
        stop.elapsed > Duration::from_secs(5) && stop.elapsed < Duration::from_secs(8),
        "{:?}",
        stop.elapsed
    );
    drop(h);
    ok(&ocf(&a, "stop", &p, &[]), "stop once it is free");
}

/// A loop device backed by a file inside the mount keeps it busy with no
/// process to signal: the stop fails before its timeout and says which loop
/// device to detach.
#[test]
fn a_loop_device_backed_inside_the_mount_is_named() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("nested", "ext4", 64, None);
    let mp = MountPoint::new("nested");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let inner = mp.0.join("inner.img");
    fs::File::create(&inner).unwrap().set_len(1 << 20).unwrap();
    let (code, out) = support::sh("losetup", &["-f", "--show", inner.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let inner_dev = out.trim().to_string();
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = support::sh("losetup", &["-d", &self.0]);
        }
    }
    let detach = Detach(inner_dev.clone());
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(stop.elapsed < Duration::from_secs(3));
    let reason = stop.reason().unwrap();
    assert!(
        reason.contains(&format!("the kernel holds it for {inner_dev}")),
        "{reason}"
    );
    drop(detach);
    assert!(support::wait_for(Duration::from_secs(5), || {
        ocf(&a, "stop", &p, &[]).code == 0
    }));
    assert!(!is_mounted(&mp.0));
}

/// Dead storage under our own mount: ext4 on a loop device whose backing
/// file lives on a bindfs FUSE mount (`-o direct_io`, so nothing is served
/// from a cache) whose daemon is then SIGSTOPped, all in a private mount
/// namespace. Depth 0 still answers 0 at once (the mount table only);
/// depths 10 and 20 answer 1 with a reason before the operation timeout,
/// leaving the stuck I/O to a child, instead of hanging until Pacemaker's
/// kill. The anchor's depth 10 (`dd iflag=direct`) is run the same way and
/// what it does is printed, not asserted.
#[test]
fn dead_storage_under_our_own_mount_fails_depth_10_and_20_in_time() {
    require("bindfs");
    require("nsenter");
    let a = agent_link("filesystem");
    struct Detach(std::cell::RefCell<Option<String>>);
    impl Drop for Detach {
        fn drop(&mut self) {
            if let Some(d) = self.0.borrow_mut().take() {
                let _ = support::sh("losetup", &["-d", &d]);
            }
        }
    }
    // Declared before the namespace: dropped after it, once the daemon is gone.
    let detach = Detach(std::cell::RefCell::new(None));
    let ns = fsa::MountNs::new("dead");
    let src = Scratch::new("fsa-dead-src");
    let fuse = MountPoint::new("dead-fuse");
    let mp = MountPoint::new("dead-ext4");
    fs::create_dir_all(&fuse.0).unwrap();
    let daemon = ns.spawn(
        None,
        &[
            "bindfs",
            "-f",
            "-o",
            "direct_io",
            src.0.to_str().unwrap(),
            fuse.s(),
        ],
    );
    let fuse_s = fuse.s().to_string();
    assert!(support::wait_for(Duration::from_secs(10), || ns
        .mountinfo()
        .contains(&fuse_s)));
    let img = fuse.0.join("disk.img");
    assert_eq!(
        ns.run(&["truncate", "-s", "64M", img.to_str().unwrap()]).0,
        0
    );
    let (code, out) = ns.run(&["losetup", "-f", "--show", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let dev = out.trim().to_string();
    *detach.0.borrow_mut() = Some(dev.clone());
    assert_eq!(support::sh("mkfs.ext4", &["-q", "-F", &dev]).0, 0);

    let env = |level: &'static str| -> Vec<(String, String)> {
        vec![
            ("OCF_ROOT".into(), "/usr/lib/ocf".into()),
            ("OCF_RESOURCE_INSTANCE".into(), "fs-dead".into()),
            ("OCF_RESKEY_device".into(), dev.clone()),
            ("OCF_RESKEY_directory".into(), mp.s().into()),
            ("OCF_RESKEY_fstype".into(), "ext4".into()),
            ("OCF_RESKEY_CRM_meta_timeout".into(), "3000".into()),
            ("OCF_RESKEY_CRM_meta_interval".into(), "20000".into()),
            ("OCF_CHECK_LEVEL".into(), level.into()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ]
    };
    let run = |agent: &Path, action: &str, level: &'static str, limit: u64| {
        let e = env(level);
        let refs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ns.run_bounded(
            &[agent.to_str().unwrap(), action],
            &refs,
            Duration::from_secs(limit),
        )
    };
    let start = run(&a.path, "start", "0", 10);
    assert_eq!(start.code, Some(0), "{start:?}");
    assert_eq!(run(&a.path, "monitor", "10", 10).code, Some(0));

    // The bindfs daemon we started; MountNs's Drop resumes it.
    fsa::stop_process(daemon);
    let d0 = run(&a.path, "monitor", "0", 10);
    assert_eq!(d0.code, Some(0), "{d0:?}");
    assert!(d0.elapsed < Duration::from_secs(1), "{:?}", d0.elapsed);
    for level in ["10", "20"] {
        let m = run(&a.path, "monitor", level, 10);
        assert_eq!(m.code, Some(1), "depth {level}: {m:?}");
        assert!(
            m.elapsed < Duration::from_secs(3),
            "depth {level} must end before the 3 s timeout: {:?}",
            m.elapsed
        );
        assert!(m.output.contains("no answer within"), "{m:?}");
    }
    let hb = Path::new("/usr/lib/ocf/resource.d/heartbeat/Filesystem");
    if hb.exists() {
        let m = run(hb, "monitor", "10", 6);
        println!(
            "heartbeat monitor depth 10 on dead storage: {} after {:?}",
            match m.code {
                Some(c) => format!("exit {c}"),
                None => "still running, killed by the test".into(),
            },
            m.elapsed
        );
    }
    // SAFETY: as above.
    unsafe { libc::kill(daemon as i32, libc::SIGCONT) };
    let stop = run(&a.path, "stop", "0", 20);
    assert_eq!(stop.code, Some(0), "{stop:?}");
}

/// A directory given through a symlink: mount resolves it, the table lists
/// the real path, and monitor and stop find the mount there.
#[test]
fn a_directory_behind_a_symlink() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("symlink", "ext4", 64, None);
    let real = MountPoint::new("symlink-real");
    fs::create_dir_all(&real.0).unwrap();
    let link = MountPoint::new("symlink-link");
    std::os::unix::fs::symlink(&real.0, &link.0).unwrap();
    let p = params(&lo.dev, link.s(), "ext4");
    assert_eq!(ocf(&a, "monitor", &p, &[]).code, 7, "probe");
    ok(&ocf(&a, "start", &p, &[]), "start");
    assert!(is_mounted(&real.0), "mounted on the real directory");
    ok(&ocf(&a, "start", &p, &[]), "start again");
    ok(&ocf(&a, "monitor", &p, &[RECURRING]), "monitor");
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(!is_mounted(&real.0));
    let _ = fs::remove_file(&link.0);
}

// ------------------------------------------------ issue 13: truthful state

/// This test's own HA_RSCTMP (where start records what it mounted).
fn rsctmp() -> String {
    RSCTMP.with(|s| s.0.display().to_string())
}

/// A probe (monitor, interval 0) and a recurring monitor.
fn probe(a: &AgentLink, p: &[(&str, &str)]) -> Outcome {
    ocf(a, "monitor", p, &[])
}

fn recurring(a: &AgentLink, p: &[(&str, &str)], level: &str) -> Outcome {
    ocf(a, "monitor", p, &[RECURRING, ("OCF_CHECK_LEVEL", level)])
}

/// `params` with one parameter replaced (an empty value removes it).
fn with<'a>(p: &[(&'a str, &'a str)], k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = p.iter().copied().filter(|(n, _)| *n != k).collect();
    if !v.is_empty() {
        out.push((k, v));
    }
    out
}

/// A symlink removed on drop.
struct Link(std::path::PathBuf);

impl Link {
    fn new(tag: &str, target: &Path) -> Link {
        let l = Link(std::path::PathBuf::from(format!(
            "/var/tmp/{}",
            fsa::name(tag)
        )));
        let _ = fs::remove_file(&l.0);
        std::os::unix::fs::symlink(target, &l.0).unwrap();
        l
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The device is given through a symlink (as a /dev/disk/by-id link is),
/// which is then removed, as udev removes such links: the mount is still
/// ours. Probe and monitor answer 0, depth 10 reads the device through
/// what start recorded, stop unmounts it and answers 0. Before the record,
/// the probe answered 7 and stop 0 "not mounted" with it still mounted.
#[test]
fn a_device_link_that_vanishes_does_not_hide_the_mount() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("link", "ext4", 64, None);
    let mp = MountPoint::new("link");
    let link = Link::new("link-dev", Path::new(&lo.dev));
    let p = params(link.s(), mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start through the link");
    fs::remove_file(&link.0).unwrap();
    ok(&probe(&a, &p), "probe once the link is gone");
    ok(&recurring(&a, &p, "0"), "monitor once the link is gone");
    ok(&recurring(&a, &p, "10"), "depth 10 reads the device itself");
    let stop = ocf(&a, "stop", &p, &[]);
    ok(&stop, "stop");
    assert!(!is_mounted(&mp.0), "stop unmounted it: {}", stop.stderr);
    assert_eq!(probe(&a, &p).code, 7);
}

/// A filesystem whose table entry never matches the configuration: a
/// FUSE mount (bindfs) carries an anonymous 0:NN device, its type is listed
/// as "fuse" and its source as the resolved directory, not the symlink the
/// configuration names (the same class as btrfs's anonymous device and
/// CIFS's `//srv/share` for `\\srv\share`, whose modules or servers this
/// machine lacks). Start answers 0 (it answered 1 with the filesystem left
/// mounted), monitor 0; once the link is removed the probe still sees it
/// and stop unmounts it.
#[test]
fn a_fuse_mount_the_table_lists_otherwise() {
    require("bindfs");
    let a = agent_link("filesystem");
    let src = Scratch::new("fsa-fuse-src");
    let link = Link::new("fuse-src", &src.0);
    let mp = MountPoint::new("fuse");
    let p = params(link.s(), mp.s(), "fuse.bindfs");
    let start = ocf(&a, "start", &p, &[]);
    ok(&start, "start");
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = table.lines().find(|l| l.contains(mp.s())).unwrap();
    assert!(
        line.contains(" 0:") && !line.contains(link.s()),
        "an anonymous device and a source other than the configured one: {line}"
    );
    ok(&recurring(&a, &p, "0"), "monitor");
    ok(
        &recurring(&a, &p, "10"),
        "depth 10: no block device to read",
    );
    fs::remove_file(&link.0).unwrap();
    ok(&probe(&a, &p), "probe once the link is gone");
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(!is_mounted(&mp.0));
    assert_eq!(probe(&a, &p).code, 7);
}

/// Copies of our device stacked on the same directory: a bind of the
/// directory onto itself, then a tmpfs, then the device mounted again on
/// top. Stop unmounts all of them. It used to unmount the top copy and
/// what it could see above it, and answer 0 with the lowest still mounted.
#[test]
fn stacked_copies_of_our_device_all_go_at_stop() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("stack2", "ext4", 64, None);
    let mp = MountPoint::new("stack2");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let name = fsa::name("between");
    for argv in [
        vec!["--bind", mp.s(), mp.s()],
        vec!["-t", "tmpfs", name.as_str(), mp.s()],
        vec!["-i", "-t", "ext4", lo.dev.as_str(), mp.s()],
    ] {
        let (code, out) = support::sh("mount", &argv);
        assert_eq!(code, 0, "mount {argv:?}: {out}");
    }
    assert_eq!(
        fsa::mounts_of_source(&lo.dev).len(),
        3,
        "three copies stacked"
    );
    ok(&recurring(&a, &p, "0"), "monitor");
    let stop = ocf(&a, "stop", &p, &[]);
    ok(&stop, "stop");
    assert!(
        fsa::mounts_of_source(&lo.dev).is_empty(),
        "every copy unmounted: {}",
        stop.stderr
    );
    assert!(!is_mounted(&mp.0), "and what sat between them");
    assert_eq!(probe(&a, &p).code, 7);
}

/// A device node that went away while mounted, as a dead disk's does:
/// depth 0 still answers 0 (the table lists the mount), depth 10 answers 1
/// naming the device (it used to pass silently), and stop still unmounts.
/// The node is our own loop device's, removed from devtmpfs and made again
/// (mknod) by the guard.
#[test]
fn depth_10_fails_once_the_device_node_is_gone() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("gone", "ext4", 64, None);
    let node = fsa::RemovedNode::remove(&lo.dev);
    node.restore();
    let mp = MountPoint::new("gone");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    ok(&recurring(&a, &p, "10"), "depth 10 with the device there");
    let node = fsa::RemovedNode::remove(&lo.dev);
    ok(&recurring(&a, &p, "0"), "depth 0");
    ok(&probe(&a, &p), "probe");
    let d10 = recurring(&a, &p, "10");
    assert_eq!(d10.code, 1, "{d10:?}");
    assert!(d10.reason().unwrap().contains("gone"), "{d10:?}");
    let d20 = recurring(&a, &p, "20");
    assert_eq!(d20.code, 1, "depth 20 includes 10: {d20:?}");
    let stop = ocf(&a, "stop", &p, &[]);
    ok(&stop, "stop without the node");
    assert!(!is_mounted(&mp.0));
    node.restore();
}

/// Parameters that stopped validating while mounted, or were removed: the
/// probe answers 0 (it answered 7) and stop unmounts through the record
/// (it answered 0 "nothing of ours" when the device or directory was
/// unusable, with the filesystem still mounted). Once stopped, the same
/// probe answers 7.
#[test]
fn probe_and_stop_with_parameters_that_no_longer_validate_use_the_record() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("inval", "ext4", 64, None);
    let mp = MountPoint::new("inval");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    for (k, v) in [
        ("force_unmount", "maybe"),
        ("device", ""),
        ("directory", "relative/dir"),
        ("fstype", "ext4;x"),
    ] {
        let o = probe(&a, &with(&p, k, v));
        assert_eq!(o.code, 0, "probe with {k}={v:?}: {o:?}");
        let m = recurring(&a, &with(&p, k, v), "0");
        assert_eq!(m.code, 1, "recurring monitor with {k}={v:?}: {m:?}");
    }
    let h = fsa::hold_cwd(&mp.0);
    let stop = ocf(&a, "stop", &with(&p, "directory", "relative/dir"), &[]);
    ok(&stop, "stop with a relative directory");
    assert!(!is_mounted(&mp.0), "unmounted: {}", stop.stderr);
    drop(h);
    assert_eq!(probe(&a, &with(&p, "device", "")).code, 7, "nothing runs");
    let gone = ocf(&a, "stop", &with(&p, "device", ""), &[]);
    ok(&gone, "stop again");
}

/// The mount point's parent directory renamed, and a directory given
/// through a symlink that is then pointed elsewhere: the probe answers 0
/// (it answered 7), a recurring monitor 1 (the filesystem is no longer
/// where the configuration says), and stop unmounts it where it is now.
#[test]
fn a_renamed_directory_or_a_retargeted_symlink_still_finds_the_mount() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("renamed", "ext4", 64, None);
    let parent = MountPoint::new("ren");
    let moved = MountPoint::new("ren-moved");
    let dir = parent.0.join("inner");
    let p = params(&lo.dev, dir.to_str().unwrap(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    fs::rename(&parent.0, &moved.0).unwrap();
    assert!(is_mounted(&moved.0.join("inner")));
    ok(&probe(&a, &p), "probe after the rename");
    assert_eq!(recurring(&a, &p, "0").code, 1, "not where configured");
    ok(&ocf(&a, "stop", &p, &[]), "stop after the rename");
    assert!(
        !is_mounted(&moved.0.join("inner")),
        "unmounted where it is now"
    );

    let lo2 = LoopDev::new("retarget", "ext4", 64, None);
    let real1 = MountPoint::new("retarget-1");
    let real2 = MountPoint::new("retarget-2");
    fs::create_dir_all(&real1.0).unwrap();
    fs::create_dir_all(&real2.0).unwrap();
    let link = Link::new("retarget-link", &real1.0);
    let p = params(&lo2.dev, link.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start through the link");
    assert!(is_mounted(&real1.0));
    fs::remove_file(&link.0).unwrap();
    std::os::unix::fs::symlink(&real2.0, &link.0).unwrap();
    ok(&probe(&a, &p), "probe after the link moved");
    assert_eq!(recurring(&a, &p, "0").code, 1);
    ok(&ocf(&a, "stop", &p, &[]), "stop after the link moved");
    assert!(!is_mounted(&real1.0), "the first directory is unmounted");
}

/// A bind mount whose source directory was removed (the table then lists
/// its root as `/data//deleted`): still ours for the probe, the monitor
/// and stop; the filesystem that held the source stays mounted.
#[test]
fn a_bind_whose_source_was_removed() {
    let a = agent_link("filesystem");
    let host = MountPoint::new("bind-host");
    fs::create_dir_all(&host.0).unwrap();
    let name = fsa::name("bindhost");
    assert_eq!(support::sh("mount", &["-t", "tmpfs", &name, host.s()]).0, 0);
    let src = host.0.join("data");
    fs::create_dir(&src).unwrap();
    let mp = MountPoint::new("bind-gone");
    let mut p = params(src.to_str().unwrap(), mp.s(), "none");
    p.push(("options", "bind"));
    ok(&ocf(&a, "start", &p, &[]), "start");
    fs::remove_dir(&src).unwrap();
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(table.contains("/data//deleted"), "{table}");
    ok(&probe(&a, &p), "probe");
    ok(&recurring(&a, &p, "0"), "monitor");
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(!is_mounted(&mp.0));
    assert!(is_mounted(&host.0), "the source's filesystem is left alone");
}

/// An image mounted with `options=loop`, then removed (its loop device's
/// backing file reads "... (deleted)"): the probe answers 0 (it answered
/// 7), depth 10 reads the loop device, stop unmounts and the loop device
/// is released.
#[test]
fn a_loop_image_removed_while_mounted() {
    let a = agent_link("filesystem");
    let img = std::path::PathBuf::from(format!("/var/tmp/{}.img", fsa::name("gone-image")));
    fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    assert_eq!(
        support::sh("mkfs.ext4", &["-q", "-F", img.to_str().unwrap()]).0,
        0
    );
    let mp = MountPoint::new("gone-image");
    let mut p = params(img.to_str().unwrap(), mp.s(), "ext4");
    p.push(("options", "loop"));
    ok(&ocf(&a, "start", &p, &[]), "start");
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = table.lines().find(|l| l.contains(mp.s())).unwrap();
    let loopdev = line.split(" - ").nth(1).unwrap().split(' ').nth(1).unwrap();
    let loopname = loopdev.strip_prefix("/dev/").unwrap().to_string();
    fs::remove_file(&img).unwrap();
    ok(&probe(&a, &p), "probe once the image is gone");
    ok(&recurring(&a, &p, "10"), "depth 10 reads the loop device");
    ok(&ocf(&a, "stop", &p, &[]), "stop");
    assert!(!is_mounted(&mp.0));
    let backing = format!("/sys/block/{loopname}/loop/backing_file");
    assert!(
        support::wait_for(Duration::from_secs(5), || !Path::new(&backing).exists()),
        "{loopname} released"
    );
}

/// Parameters changed to other *valid* values while mounted (what `pcs
/// resource update` does): another device, another type, a label the
/// filesystem no longer carries. A probe still sees what start mounted; a
/// recurring monitor fails where the configuration names something else;
/// a start refuses while the old mount is there; stop unmounts it.
#[test]
fn parameters_changed_to_other_valid_values_while_mounted() {
    require("e2label");
    let a = agent_link("filesystem");
    let lo = LoopDev::new("chg-a", "ext4", 64, Some("fsachga"));
    let other = LoopDev::new("chg-b", "ext4", 64, None);
    let mp = MountPoint::new("chg");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let moved = with(&p, "device", &other.dev);
    ok(&probe(&a, &moved), "probe with another device");
    assert_eq!(recurring(&a, &moved, "0").code, 1, "monitor: not ours");
    let s = ocf(&a, "start", &moved, &[]);
    assert_eq!(s.code, 1, "start of the other device on top: {s:?}");
    assert!(
        fsa::mounts_of_source(&other.dev).is_empty(),
        "nothing mounted on top"
    );
    ok(
        &probe(&a, &with(&p, "fstype", "xfs")),
        "probe with another fstype",
    );
    ok(&ocf(&a, "stop", &moved, &[]), "stop with another device");
    assert!(
        fsa::mounts_of_source(&lo.dev).is_empty(),
        "what start mounted is unmounted"
    );

    let p = params("LABEL=fsachga", mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start by label");
    assert_eq!(support::sh("e2label", &[&lo.dev, "fsachgz"]).0, 0);
    ok(&probe(&a, &p), "probe after the label changed");
    ok(&recurring(&a, &p, "10"), "depth 10 after the label changed");
    ok(&ocf(&a, "stop", &p, &[]), "stop after the label changed");
    assert!(fsa::mounts_of_source(&lo.dev).is_empty());
}

/// Start records what it mounted before and after mounting (the mount ID
/// the kernel lists, the device number), in the record and nowhere else;
/// stop removes it.
#[test]
fn start_records_the_mount_and_stop_forgets_it() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("rec", "ext4", 64, None);
    let mp = MountPoint::new("rec");
    let p = params(&lo.dev, mp.s(), "ext4");
    let env = [("OCF_RESOURCE_INSTANCE", "fs-rec")];
    ok(&ocf(&a, "start", &p, &env), "start");
    let dir = std::path::PathBuf::from(rsctmp());
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ocf-rs-filesystem-fs-rec.record"], "no other memo");
    let text = fs::read_to_string(dir.join(&names[0])).unwrap();
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = table.lines().find(|l| l.contains(mp.s())).unwrap();
    let id = line.split(' ').next().unwrap();
    let devno = line.split(' ').nth(2).unwrap();
    assert!(text.contains(&format!("\nmount_id={id}\n")), "{text}");
    assert!(text.contains(&format!("\nmnt_dev={devno}\n")), "{text}");
    assert!(text.contains(&format!("\nrdev={devno}\n")), "{text}");
    assert!(text.contains(&format!("\nsource={}\n", lo.dev)), "{text}");
    ok(&ocf(&a, "stop", &p, &env), "stop");
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "record removed"
    );
}
