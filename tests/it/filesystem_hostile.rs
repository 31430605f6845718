//! ocf:rust:filesystem against hostile input, on real parts (issue 14):
//! links, FIFOs, hard links and directories planted in a real mounted ext4
//! (loop device) where others may write; a CIFS password in `options` on a
//! mount that fails and one that hangs; processes whose working directory
//! only looks like the mount, or named like the cluster's daemons; a mount
//! below ours whose name is not UTF-8. Each test says what failed before.

use support::filesystem as fsa;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fsa::{LoopDev, MountPoint, Proc, is_mounted};
use support::{AgentLink, Outcome, Scratch, agent_link};

const NOBODY: u32 = 65534;

fn ocf(a: &AgentLink, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Outcome {
    support::ocf(a, action, params, env)
}

fn params<'a>(dev: &'a str, dir: &'a str, fstype: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("device", dev), ("directory", dir), ("fstype", fstype)]
}

fn ok(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {o:?}");
}

/// A root-owned file outside the mount, whose content must never change.
struct Victim(PathBuf);

impl Victim {
    fn new(tag: &str) -> Victim {
        let p = PathBuf::from(format!("/var/tmp/{}", fsa::name(tag)));
        fs::write(&p, b"precious\n").unwrap();
        Victim(p)
    }
    fn intact(&self) -> bool {
        fs::read(&self.0).is_ok_and(|b| b == b"precious\n")
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_alive(p: &mut Proc) -> bool {
    !p.exited()
}

/// Depth 20 on a filesystem whose root others may write to (mode 1777,
/// like a shared scratch volume), with what a user can plant there: the
/// status directory as their own with a link inside, the status directory
/// as a link, a link or FIFO in place of the file, a hard link to a file of
/// root's when the prefix puts the file in the root itself. Each is refused
/// with a reason and the target is untouched; a nested prefix `a/b/` works;
/// stop removes the status file without following a planted directory
/// link. Before: the monitor opened `<dir>/.Filesystem_status/<file>` by
/// path with O_TRUNC and overwrote the link's target (the first four
/// cases), blocked on the FIFO until the deadline, created only one level
/// of `a/b/`, and stop's unlink followed the directory link.
#[test]
fn depth_20_never_writes_through_what_others_planted() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("h-d20", "ext4", 64, None);
    let mp = MountPoint::new("h-d20");
    let p = params(&lo.dev, mp.s(), "ext4");
    let env = [
        ("OCF_RESOURCE_INSTANCE", "fs-h"),
        ("OCF_RESKEY_CRM_meta_on_node", "n1"),
        ("OCF_RESKEY_CRM_meta_timeout", "8000"),
    ];
    let d20 = |p: &[(&str, &str)]| {
        ocf(
            &a,
            "monitor",
            p,
            &[
                env[0],
                env[1],
                env[2],
                ("OCF_RESKEY_CRM_meta_interval", "20000"),
                ("OCF_CHECK_LEVEL", "20"),
            ],
        )
    };
    ok(&ocf(&a, "start", &p, &env), "start");
    let root = mp.0.clone();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o1777)).unwrap();
    let sdir = root.join(".Filesystem_status");
    let sfile = sdir.join("fs-h_n1");
    let victim = Victim::new("h-victim");

    // 1. The status directory made by a user, with a link inside.
    fs::create_dir(&sdir).unwrap();
    symlink(&victim.0, &sfile).unwrap();
    std::os::unix::fs::lchown(&sfile, Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(&sdir, Some(NOBODY), Some(NOBODY)).unwrap();
    let m = d20(&p);
    assert_eq!(m.code, 1, "a directory of another user's: {m:?}");
    let why = m.reason().unwrap_or_default();
    assert!(
        why.contains(".Filesystem_status") && why.contains("65534"),
        "{why}"
    );
    assert!(victim.intact(), "the link's target was written to");
    fs::remove_dir_all(&sdir).unwrap();

    // 2. The status directory as a link to a directory of root's.
    let elsewhere = Victim(PathBuf::from(format!("/var/tmp/{}", fsa::name("h-vdir"))));
    fs::create_dir_all(&elsewhere.0).unwrap();
    symlink(&elsewhere.0, &sdir).unwrap();
    let m = d20(&p);
    assert_eq!(m.code, 1, "a directory link: {m:?}");
    assert_eq!(
        fs::read_dir(&elsewhere.0).unwrap().count(),
        0,
        "nothing created through the link"
    );
    // Stop must not unlink through it either: a file of the status file's
    // name in the linked directory survives.
    fs::write(elsewhere.0.join("fs-h_n1"), b"keep").unwrap();
    ok(
        &ocf(&a, "stop", &p, &env),
        "stop with a planted directory link",
    );
    assert!(
        elsewhere.0.join("fs-h_n1").exists(),
        "stop removed a file through a planted directory link"
    );
    ok(&ocf(&a, "start", &p, &env), "start again");
    fs::remove_file(&sdir).unwrap();

    // 3. Root's own status directory (as the heartbeat agent leaves it),
    // with a link in place of the file.
    fs::create_dir(&sdir).unwrap();
    fs::set_permissions(&sdir, fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&victim.0, &sfile).unwrap();
    let m = d20(&p);
    assert_eq!(m.code, 1, "a link in place of the file: {m:?}");
    assert!(victim.intact(), "the link's target was written to");
    fs::remove_file(&sfile).unwrap();

    // 4. A FIFO in place of the file: refused at once, not a hang.
    let c = std::ffi::CString::new(sfile.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let m = d20(&p);
    assert_eq!(m.code, 1, "a FIFO: {m:?}");
    assert!(
        m.reason()
            .unwrap_or_default()
            .contains("not a regular file"),
        "{m:?}"
    );
    assert!(m.elapsed < Duration::from_secs(3), "took {:?}", m.elapsed);
    fs::remove_file(&sfile).unwrap();

    // The plain case still works, and leaves one block.
    ok(&d20(&p), "depth 20");
    assert_eq!(fs::metadata(&sfile).unwrap().len(), 4096);

    // 5. A prefix without '/' puts the file in the root itself, which
    // others may write to: a planted hard link to a file of root's on the
    // same filesystem would pass every check on the file, so the root is
    // refused.
    let precious = root.join("precious");
    fs::write(&precious, b"precious\n").unwrap();
    fs::hard_link(&precious, root.join("st-fs-h_n1")).unwrap();
    let flat = [p.clone(), vec![("statusfile_prefix", "st-")]].concat();
    let m = d20(&flat);
    assert_eq!(
        m.code, 1,
        "a file directly in a root others write to: {m:?}"
    );
    assert!(
        m.reason().unwrap_or_default().contains("others may write"),
        "{m:?}"
    );
    assert_eq!(fs::read(&precious).unwrap(), b"precious\n");
    // Once the root is root's alone, the same prefix works (the planted
    // hard link is gone: only root could have made one now).
    fs::remove_file(root.join("st-fs-h_n1")).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    ok(&d20(&flat), "a flat prefix on a root of root's");
    assert_eq!(fs::metadata(root.join("st-fs-h_n1")).unwrap().len(), 4096);
    fs::set_permissions(&root, fs::Permissions::from_mode(0o1777)).unwrap();

    // 6. A nested prefix: both levels are made, root's, mode 0755.
    let nested = [p.clone(), vec![("statusfile_prefix", "a/b/")]].concat();
    ok(&d20(&nested), "a nested prefix");
    let f = root.join("a/b/fs-h_n1");
    assert_eq!(fs::metadata(&f).unwrap().len(), 4096);
    for d in [root.join("a"), root.join("a/b")] {
        let md = fs::symlink_metadata(&d).unwrap();
        assert!(
            md.is_dir() && md.uid() == 0 && md.mode() & 0o022 == 0,
            "{d:?}"
        );
    }
    ok(&ocf(&a, "stop", &nested, &env), "stop");
    assert!(!is_mounted(&mp.0));
    assert!(victim.intact());
}

/// A fake `mount` on PATH that writes its argv and PASSWD (one per line)
/// to `<dir>/argv` and `<dir>/passwd`, then exits with `code` or, when
/// `code` is None, sleeps (a mount that hangs on a dead server).
fn fake_mount(dir: &Path, code: Option<i32>) {
    let end = match code {
        Some(c) => format!("exit {c}\n"),
        None => "sleep 600\n".into(),
    };
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/argv\nprintf '%s' \"$PASSWD\" > {d}/passwd\necho \"$$\" > {d}/pid\n{end}",
        d = dir.display()
    );
    let p = dir.join("mount");
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn assert_hidden(o: &Outcome, log: &Path, secret: &str, what: &str) {
    let logged = fs::read_to_string(log).unwrap_or_default();
    for (name, text) in [
        ("stderr", o.stderr.as_str()),
        ("stdout", o.stdout.as_str()),
        ("HA_LOGFILE", logged.as_str()),
    ] {
        assert!(
            !text.contains(secret),
            "{what}: the secret in {name}:\n{text}"
        );
    }
    assert!(
        !o.reason().unwrap_or_default().contains(secret),
        "{what}: {o:?}"
    );
}

/// A password in `options` never shows: not on stderr, in HA_LOGFILE (at
/// debug level too) or in the exit reason, on a real mount that fails
/// (tmpfs refuses the option) and on one that hangs until the deadline (a
/// fake `mount` on PATH: the exec timeout's reason names the command).
/// Before: the logged `mounting: ...` line and the timeout's reason carried
/// it in clear.
#[test]
fn a_password_in_options_never_shows() {
    let a = agent_link("filesystem");
    let s = Scratch::new("fsa-h-secret");
    let log = s.path("ha.log");
    let logs = log.display().to_string();
    let env = [
        ("HA_LOGFILE", logs.as_str()),
        ("HA_DEBUGLOG", logs.as_str()),
        ("HA_debug", "1"),
        ("OCF_RESKEY_CRM_meta_timeout", "4000"),
    ];
    for (n, opts, secret) in [
        ("fail-pw", "size=1m,password=hunter2,mode=0755", "hunter2"),
        (
            "fail-cred",
            "credentials=/root/.h-smb-cred,size=1m",
            "h-smb-cred",
        ),
    ] {
        let mp = MountPoint::new(&format!("h-{n}"));
        let dev = format!("fsa-h-{n}");
        let p = [params(&dev, mp.s(), "tmpfs"), vec![("options", opts)]].concat();
        let o = ocf(&a, "start", &p, &env);
        assert_eq!(o.code, 1, "tmpfs refuses the option: {o:?}");
        let logged = fs::read_to_string(&log).unwrap();
        assert!(
            logged.contains("mounting: ") && logged.contains("=***"),
            "{logged}"
        );
        assert_hidden(&o, &log, secret, n);
        let _ = ocf(&a, "stop", &p, &env);
        assert!(!is_mounted(&mp.0));
    }

    // The hang: the fake mount sleeps; the exec timeout kills it.
    let bin = Scratch::new("fsa-h-fakebin");
    fake_mount(&bin.0, None);
    let path = format!("{}:{}", bin.0.display(), std::env::var("PATH").unwrap());
    let mp = MountPoint::new("h-hang");
    let p = [
        params("fsa-h-hang", mp.s(), "tmpfs"),
        vec![("options", "size=1m,password=hunter2")],
    ]
    .concat();
    let mut env_h = env.to_vec();
    env_h.push(("PATH", &path));
    let o = ocf(&a, "start", &p, &env_h);
    assert_eq!(o.code, 1, "{o:?}");
    let why = o.reason().unwrap_or_default();
    assert!(
        why.contains("no answer within") && why.contains("password=***"),
        "{o:?}"
    );
    assert_hidden(&o, &log, "hunter2", "timeout");
    let argv = fs::read_to_string(bin.path("argv")).unwrap();
    assert!(
        argv.contains("password=hunter2"),
        "tmpfs keeps its options: {argv}"
    );
    assert!(
        argv.lines().rev().nth(2) == Some("--"),
        "device and directory after --: {argv}"
    );
}

/// A CIFS password leaves mount's command line, which every user can read
/// in /proc/<pid>/cmdline while mount waits for a dead server: mount.cifs
/// gets it as PASSWD. In a private mount namespace (a tmpfs over /usr/sbin
/// gives it a `mount.cifs`, as the kernel here has no cifs), a fake `mount`
/// hangs; its cmdline has no password, its PASSWD has it, and nothing the
/// agent prints does. Before: `-o username=bob,password=hunter2` on argv.
#[test]
fn a_cifs_password_goes_to_mount_cifs_by_the_environment() {
    support::require("nsenter");
    let a = agent_link("filesystem");
    let ns = fsa::MountNs::new("h-cifs");
    let (code, out) = ns.run(&["mount", "-t", "tmpfs", "fsa-h-sbin", "/usr/sbin"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = ns.run(&[
        "sh",
        "-c",
        "printf '#!/bin/sh\\nexit 1\\n' > /usr/sbin/mount.cifs && chmod 755 /usr/sbin/mount.cifs",
    ]);
    assert_eq!(code, 0, "{out}");
    let bin = Scratch::new("fsa-h-cifsbin");
    fake_mount(&bin.0, None);
    let mp = MountPoint::new("h-cifs");
    let s = Scratch::new("fsa-h-cifslog");
    let log = s.path("ha.log");
    let path = format!("{}:/usr/bin:/bin", bin.0.display());
    let rsctmp = a.rsctmp().display().to_string();
    let env = [
        ("PATH", path.as_str()),
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("HA_RSCTMP", rsctmp.as_str()),
        ("HA_LOGFILE", log.to_str().unwrap()),
        ("HA_DEBUGLOG", log.to_str().unwrap()),
        ("HA_debug", "1"),
        ("OCF_RESKEY_device", "//127.0.0.1/share"),
        ("OCF_RESKEY_directory", mp.s()),
        ("OCF_RESKEY_fstype", "cifs"),
        (
            "OCF_RESKEY_options",
            "username=bob,password=hun,,ter2,vers=3.0",
        ),
        ("OCF_RESKEY_CRM_meta_timeout", "6000"),
    ];
    let agent = a.path.to_str().unwrap().to_string();
    let run = std::thread::spawn({
        let ns_file = ns.file.clone();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move || {
            fsa::bounded(
                Command::new("nsenter")
                    .arg(format!("--mount={}", ns_file.display()))
                    .arg("--")
                    .args([agent.as_str(), "start"])
                    .env_clear()
                    .envs(env),
                Duration::from_secs(20),
            )
        }
    });
    assert!(
        support::wait_for(Duration::from_secs(5), || bin.path("pid").exists()),
        "the fake mount did not run"
    );
    let pid = fs::read_to_string(bin.path("pid")).unwrap();
    let cmdline = fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
    let o = run.join().unwrap();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(!cmdline.is_empty(), "the fake mount's cmdline was read");
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("hun"),
        "a password in mount's argv: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let argv = fs::read_to_string(bin.path("argv")).unwrap();
    assert!(argv.contains("username=bob,vers=3.0"), "{argv}");
    assert_eq!(fs::read_to_string(bin.path("passwd")).unwrap(), "hun,ter2");
    let logged = fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("mounting: "), "{logged}");
    for text in [&o.output, &logged] {
        assert!(!text.contains("hun,") && !text.contains("ter2"), "{text}");
    }
}

/// A process whose working directory is a sibling that only starts like the
/// mount point (`<dir> old`) survives the stop that ends the real holder.
/// Before: `/mnt/x/data old` matched `/mnt/x/data` and got SIGTERM.
#[test]
fn a_look_alike_working_directory_survives_the_stop() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("h-alike", "ext4", 64, None);
    let base = MountPoint::new("h-alike");
    let dir = base.0.join("data");
    let alike = base.0.join("data old");
    fs::create_dir_all(&alike).unwrap();
    let p = params(&lo.dev, dir.to_str().unwrap(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let mut holder = fsa::hold_cwd(&dir);
    let mut bystander = fsa::hold_cwd(&alike);
    std::thread::sleep(Duration::from_millis(200));
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    ok(&stop, "stop");
    assert!(!is_mounted(&dir));
    assert!(
        support::wait_for(Duration::from_secs(3), || !is_alive(&mut holder)),
        "the real holder was ended"
    );
    assert!(
        is_alive(&mut bystander),
        "the look-alike was signalled: {}",
        stop.stderr
    );
    assert!(!stop.stderr.contains(&format!("pid {} ", bystander.pid())));
}

/// A copy of `sleep` named `corosync`, holding the mount. Run as root it
/// stands for the cluster's daemon: never signalled, and the stop fails
/// truthfully, naming it, instead of killing it. Run as nobody it is a
/// user's process with a borrowed name and is ended like any holder (a
/// name alone must not make a process unkillable and the node fenced).
/// Before: the root one got SIGTERM and SIGKILL like anyone.
#[test]
fn a_cluster_daemon_holding_the_mount_is_never_signalled() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("h-daemon", "ext4", 64, None);
    let mp = MountPoint::new("h-daemon");
    let p = params(&lo.dev, mp.s(), "ext4");
    ok(&ocf(&a, "start", &p, &[]), "start");
    let bindir = Victim(PathBuf::from(format!("/var/tmp/{}", fsa::name("h-cdbin"))));
    fs::create_dir_all(&bindir.0).unwrap();
    fs::set_permissions(&bindir.0, fs::Permissions::from_mode(0o755)).unwrap();
    let corosync = bindir.0.join("corosync");
    fs::copy("/usr/bin/sleep", &corosync).unwrap();
    fs::set_permissions(&corosync, fs::Permissions::from_mode(0o755)).unwrap();
    let spawn = |uid: u32| {
        Proc(
            Command::new(&corosync)
                .arg("600")
                .current_dir(&mp.0)
                .uid(uid)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut daemon = spawn(0);
    std::thread::sleep(Duration::from_millis(200));
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    assert_eq!(stop.code, 1, "{stop:?}");
    let why = stop.reason().unwrap_or_default();
    assert!(
        why.contains("corosync") && why.contains("never signalled"),
        "{why}"
    );
    assert!(is_mounted(&mp.0), "still mounted, as stop says");
    assert!(is_alive(&mut daemon), "the daemon was signalled");
    assert!(!stop.stderr.contains("sending SIG"), "{}", stop.stderr);
    drop(daemon);

    let mut borrowed = spawn(NOBODY);
    std::thread::sleep(Duration::from_millis(200));
    let stop = ocf(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    ok(
        &stop,
        "a user's process named corosync is a holder like any",
    );
    assert!(support::wait_for(Duration::from_secs(3), || !is_alive(
        &mut borrowed
    )));
    assert!(!is_mounted(&mp.0));
}

/// System directories are refused as `directory` (exit 6, nothing mounted),
/// also when reached through a symlink (exit 5 at start, on this node).
#[test]
fn system_directories_are_refused() {
    let a = agent_link("filesystem");
    for dir in [
        "/var/log",
        "/usr",
        "/var/lib/pacemaker",
        "/run/lock/fsa-h",
        "/run",
        "/tmp/",
    ] {
        let p = params("fsa-h-sys", dir, "tmpfs");
        for action in ["validate-all", "start"] {
            let o = ocf(&a, action, &p, &[]);
            assert_eq!(o.code, 6, "{dir} {action}: {o:?}");
            assert!(
                o.reason().unwrap_or_default().contains("system directory"),
                "{o:?}"
            );
        }
        assert!(!fsa::mounts_of_source("fsa-h-sys").iter().any(|_| true));
    }
    let link = PathBuf::from(format!("/mnt/{}", fsa::name("h-syslink")));
    let _ = fs::remove_file(&link);
    symlink("/var/log", &link).unwrap();
    let p = params("fsa-h-sys", link.to_str().unwrap(), "tmpfs");
    let o = ocf(&a, "start", &p, &[]);
    let _ = fs::remove_file(&link);
    assert_eq!(o.code, 5, "{o:?}");
    assert!(o.reason().unwrap_or_default().contains("/var/log"), "{o:?}");
    assert!(fsa::mounts_of_source("fsa-h-sys").is_empty());
}

/// A mount below ours whose directory name is not UTF-8 (in a private
/// mount namespace, so no other program on the host meets it): stop
/// unmounts it and ours at once. Before: the lossy decoding named a path
/// that does not exist, umount answered ENOENT for it, and stop retried
/// until its deadline and failed.
#[test]
fn a_mount_below_ours_with_a_non_utf8_name_is_unmounted() {
    support::require("nsenter");
    let a = agent_link("filesystem");
    let ns = fsa::MountNs::new("h-nonutf8");
    let lo = LoopDev::new("h-nonutf8", "ext4", 64, None);
    let mp = MountPoint::new("h-nonutf8");
    let rsctmp = a.rsctmp().display().to_string();
    let path = std::env::var("PATH").unwrap();
    let env = [
        ("PATH", path.as_str()),
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("HA_RSCTMP", rsctmp.as_str()),
        ("OCF_RESKEY_device", lo.dev.as_str()),
        ("OCF_RESKEY_directory", mp.s()),
        ("OCF_RESKEY_fstype", "ext4"),
        ("OCF_RESKEY_CRM_meta_timeout", "10000"),
    ];
    let agent = a.path.to_str().unwrap();
    let start = ns.run_bounded(&[agent, "start"], &env, Duration::from_secs(20));
    assert_eq!(start.code, Some(0), "{start:?}");
    let mut below = mp.0.as_os_str().as_bytes().to_vec();
    below.extend_from_slice(b"/sub\xff\xfe dir");
    let below = PathBuf::from(OsStr::from_bytes(&below));
    let out = ns.command(None, &["mkdir"]).arg(&below).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = ns
        .command(None, &["mount", "-t", "tmpfs", "fsa-h-below"])
        .arg(&below)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        ns.mountinfo().contains("\\377\\376\\040dir") || ns.mountinfo().contains("fsa-h-below"),
        "the mount below ours"
    );
    let stop = ns.run_bounded(&[agent, "stop"], &env, Duration::from_secs(20));
    assert_eq!(stop.code, Some(0), "{stop:?}");
    assert!(
        stop.elapsed < Duration::from_secs(3),
        "stop took {:?}",
        stop.elapsed
    );
    let table = ns.mountinfo();
    assert!(
        !table.contains("fsa-h-below") && !table.contains(mp.s()),
        "{table}"
    );
}

/// The mount point reached through a symlink a user owns (in a directory
/// everyone may write to, like a shared /srv/incoming): start refuses with
/// exit 4 and mounts nothing, instead of mounting wherever the user's link
/// points (over /etc/cron.d, say). Before: the link was followed.
#[test]
fn a_mount_point_behind_a_users_link_is_refused() {
    let a = agent_link("filesystem");
    let lo = LoopDev::new("h-ulink", "ext4", 64, None);
    let base = MountPoint::new("h-ulink");
    let target = base.0.join("elsewhere");
    fs::create_dir_all(&target).unwrap();
    fs::set_permissions(&base.0, fs::Permissions::from_mode(0o1777)).unwrap();
    let link = base.0.join("data");
    symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    let p = params(&lo.dev, link.to_str().unwrap(), "ext4");
    let o = ocf(&a, "start", &p, &[]);
    assert_eq!(o.code, 4, "{o:?}");
    assert!(
        o.reason().unwrap_or_default().contains("uid 65534"),
        "{o:?}"
    );
    assert!(fsa::mounts_of_source(&lo.dev).is_empty(), "nothing mounted");
    // The same link made by root is followed, as before.
    fs::remove_file(&link).unwrap();
    symlink(&target, &link).unwrap();
    ok(&ocf(&a, "start", &p, &[]), "start through root's link");
    assert!(is_mounted(&target));
    ok(&ocf(&a, "stop", &p, &[]), "stop");
}
