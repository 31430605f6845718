//! The multi-node harness's machine lock (tests/harness/ns-cluster.sh):
//! waited for with a bound, naming the holder; a holder whose cluster is
//! gone is cleared; an `up` interrupted while it waits leaves nothing that
//! takes the lock later. Run on a private lock path and base directory, so
//! no cluster is started and a real e2e cluster is not disturbed.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{FileLock, Scratch, lock_holder, repo, wait_for};

struct Paths {
    _dir: Scratch,
    lock: PathBuf,
    base: PathBuf,
}

fn paths(name: &str) -> Paths {
    // /var/tmp, not /tmp: like the harness's own base directory
    let dir = Scratch(PathBuf::from(format!(
        "/var/tmp/ocf-rs-lock-test-{name}-{}",
        std::process::id()
    )));
    let _ = fs::remove_dir_all(&dir.0);
    fs::create_dir_all(&dir.0).unwrap();
    let lock = dir.path("e2e.lock");
    let base = dir.path("base");
    Paths {
        _dir: dir,
        lock,
        base,
    }
}

fn harness(p: &Paths, args: &[&str], wait_s: u32) -> Command {
    let mut c = Command::new(repo().join("tests/harness/ns-cluster.sh"));
    c.args(args)
        .env("E2E_LOCK", &p.lock)
        .env("E2E_BASE", &p.base)
        .env("E2E_LOCK_WAIT", wait_s.to_string())
        .env_remove("E2E_LOCK_HELD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// While someone holds the lock, `up` gives up after E2E_LOCK_WAIT seconds
/// with one line naming the holder's PID and command, and touches nothing.
#[test]
fn up_gives_up_after_its_bound_and_names_the_holder() {
    let p = paths("bound");
    let lock = FileLock::take(p.lock.to_str().unwrap());
    let t0 = Instant::now();
    let out = harness(&p, &["up", "2"], 2).output().unwrap();
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let me = format!("pid {}", std::process::id());
    assert!(
        err.lines()
            .any(|l| l.contains("still held after 2 s") && l.contains(&me)),
        "no line naming the holder ({me}):\n{err}"
    );
    assert!(
        !p.base.exists(),
        "up made {} while waiting",
        p.base.display()
    );
    drop(lock);
}

/// A demo cluster's lock is held by its fence daemon; once every node of
/// that cluster is gone, the daemon is a stale holder and is cleared.
#[test]
fn a_fence_daemon_whose_cluster_is_gone_is_cleared() {
    let p = paths("stale");
    fs::create_dir_all(p.base.join("fence")).unwrap();
    let script = repo().join("tests/harness/ns-cluster.sh");
    // what a standalone `up` leaves: the fence daemon holding fd 9, recorded in the lock
    let hold = format!(
        "exec 9>>'{lock}'; flock 9; echo \"$$ ns-cluster.sh fence-daemon {base}\" > '{lock}'; \
         exec '{script}' fence-daemon",
        lock = p.lock.display(),
        base = p.base.display(),
        script = script.display()
    );
    let mut daemon = Command::new("bash")
        .args(["-c", &hold])
        .env("E2E_BASE", &p.base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock_path = p.lock.to_str().unwrap().to_string();
    assert!(
        wait_for(Duration::from_secs(5), || lock_holder(&lock_path)
            .contains("ns-cluster.sh fence-daemon")),
        "holder: {}",
        lock_holder(&lock_path)
    );
    // while a node of its cluster runs, it is not stale
    fs::create_dir_all(p.base.join("node1")).unwrap();
    fs::write(
        p.base.join("node1/init.pid"),
        std::process::id().to_string(),
    )
    .unwrap();
    let out = harness(&p, &["clear-stale-lock"], 1).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        daemon.try_wait().unwrap(),
        None,
        "a live cluster's holder was ended"
    );
    // its nodes are gone: cleared, and the lock is free at once
    fs::remove_file(p.base.join("node1/init.pid")).unwrap();
    let out = harness(&p, &["clear-stale-lock"], 1).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clearing a stale lock holder"), "{err}");
    assert!(
        wait_for(Duration::from_secs(5), || daemon
            .try_wait()
            .unwrap()
            .is_some()),
        "the stale holder still runs"
    );
    let _lock = FileLock::take_within(&lock_path, Duration::from_secs(3));
}

/// An `up` interrupted (Ctrl-C) while it waits for the lock leaves no
/// process behind that would take the lock later and hold it.
#[test]
fn an_up_interrupted_while_waiting_leaves_nothing_behind() {
    let p = paths("interrupt");
    let lock_path = p.lock.to_str().unwrap().to_string();
    let lock = FileLock::take(&lock_path);
    let mut up = harness(&p, &["up", "2"], 600);
    up.process_group(0);
    let mut child = up.spawn().unwrap();
    let pid = child.id() as i32;
    // it waits: the lock file is open in its process group
    assert!(wait_for(Duration::from_secs(5), || lock_holder(&lock_path)
        .contains(&format!("pid {}", std::process::id()))));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(child.try_wait().unwrap(), None, "up did not wait");
    // Ctrl-C reaches the whole foreground process group
    // SAFETY: kill(2) on the child's own process group.
    assert_eq!(unsafe { libc::kill(-pid, libc::SIGINT) }, 0);
    assert!(
        wait_for(Duration::from_secs(10), || child
            .try_wait()
            .unwrap()
            .is_some()),
        "up ignored SIGINT"
    );
    drop(lock);
    std::thread::sleep(Duration::from_secs(1));
    // nobody took the lock after us, and nothing has the file open
    let again = FileLock::take_within(&lock_path, Duration::from_secs(1));
    drop(again);
    assert!(!lock_holder(&lock_path).contains("ns-cluster.sh"));
    assert!(
        !p.base.exists(),
        "the interrupted up made {}",
        p.base.display()
    );
}
