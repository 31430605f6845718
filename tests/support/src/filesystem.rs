//! Real parts for the filesystem agent's tests: loop devices with ext4 or
//! xfs on image files under /var/tmp/fsa-*, mount points under /mnt/fsa-*,
//! processes that hold a mount busy, and a private mount namespace for the
//! hung-FUSE scenario. Every guard cleans up in Drop, also when a test fails:
//! lazy unmounts, loop detach, killed holders.
//!
//! Used as `use support::filesystem as fsa;`.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::sh;

/// A unique name for this test process and a per-test tag.
pub fn name(tag: &str) -> String {
    format!("fsa-{tag}-{}", std::process::id())
}

/// A loop device over a sparse image file, detached and removed on drop.
pub struct LoopDev {
    pub image: PathBuf,
    pub dev: String,
}

impl LoopDev {
    /// A `size_mb` image with a fresh `fstype` filesystem (ext4 or xfs),
    /// labelled `label` if given.
    pub fn new(tag: &str, fstype: &str, size_mb: u64, label: Option<&str>) -> LoopDev {
        let image = PathBuf::from(format!("/var/tmp/{}.img", name(tag)));
        let f = fs::File::create(&image).unwrap();
        f.set_len(size_mb << 20).unwrap();
        drop(f);
        let (code, out) = sh("losetup", &["-f", "--show", image.to_str().unwrap()]);
        assert_eq!(code, 0, "losetup: {out}");
        let lo = LoopDev {
            image,
            dev: out.trim().to_string(),
        };
        let mut args: Vec<&str> = match fstype {
            "xfs" => vec!["-q", "-f"],
            _ => vec!["-q", "-F"],
        };
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        args.push(&lo.dev);
        let (code, out) = sh(&format!("mkfs.{fstype}"), &args);
        assert_eq!(code, 0, "mkfs.{fstype}: {out}");
        lo
    }

    /// The filesystem UUID, as blkid reads it from the device.
    pub fn uuid(&self) -> String {
        let (code, out) = sh("blkid", &["-p", "-s", "UUID", "-o", "value", &self.dev]);
        assert_eq!(code, 0, "blkid: {out}");
        out.trim().to_string()
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        // Whatever is still mounted from it goes first (lazily: never block).
        for m in mounts_of_source(&self.dev) {
            lazy_umount(&m);
        }
        let _ = sh("losetup", &["-d", &self.dev]);
        let _ = fs::remove_file(&self.image);
    }
}

/// The mount table's lines, as bytes: a mount point need not be UTF-8
/// (one test mounts below a directory whose name is not), and a lossy or
/// failed read would leave such a mount behind.
fn table_lines() -> Vec<Vec<u8>> {
    fs::read("/proc/self/mountinfo")
        .unwrap_or_default()
        .split(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Field `n` (from 0) of a mountinfo line's left or right half.
fn field(line: &[u8], right: bool, n: usize) -> Option<&[u8]> {
    let sep = line.windows(3).position(|w| w == b" - ")?;
    let half = if right {
        &line[sep + 3..]
    } else {
        &line[..sep]
    };
    half.split(|&c| c == b' ').nth(n)
}

/// Mount points whose source is `dev`, deepest first.
pub fn mounts_of_source(dev: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = table_lines()
        .iter()
        .filter(|l| field(l, true, 1) == Some(dev.as_bytes()))
        .filter_map(|l| field(l, false, 4).map(unescape))
        .collect();
    out.reverse();
    out
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_within(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = table_lines()
        .iter()
        .filter_map(|l| field(l, false, 4).map(unescape))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.reverse();
    out
}

pub fn is_mounted(dir: &Path) -> bool {
    mounts_within(dir).iter().any(|p| p == dir)
}

fn unescape(b: &[u8]) -> PathBuf {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&out))
}

pub fn lazy_umount(p: &Path) {
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) {
        // SAFETY: umount2 on a valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A mount point directory under /mnt; everything mounted within is lazily
/// unmounted and the directory removed on drop.
pub struct MountPoint(pub PathBuf);

impl MountPoint {
    pub fn new(tag: &str) -> MountPoint {
        let p = PathBuf::from(format!("/mnt/{}", name(tag)));
        MountPoint(p)
    }
    /// The path as a parameter value.
    pub fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for MountPoint {
    fn drop(&mut self) {
        for m in mounts_within(&self.0) {
            lazy_umount(&m);
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A process we started; SIGKILLed and reaped on drop.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Has it exited (and been reaped)?
    pub fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a holder"),
    )
}

/// A `sleep` whose working directory is `dir`.
pub fn hold_cwd(dir: &Path) -> Proc {
    spawn(
        Command::new("sleep")
            .arg("600")
            .current_dir(dir)
            .stdin(Stdio::null()),
    )
}

/// A `sleep` with `file` open as its stdin (an open descriptor).
pub fn hold_open(file: &Path) -> Proc {
    let f = fs::File::open(file).unwrap();
    spawn(Command::new("sleep").arg("600").current_dir("/").stdin(f))
}

/// A python process that mmaps `file`, closes the descriptor and sleeps:
/// only /proc/<pid>/map_files shows the hold.
pub fn hold_mmap(file: &Path) -> Proc {
    let code = "import mmap,os,sys,time\n\
                fd=os.open(sys.argv[1],os.O_RDONLY)\n\
                m=mmap.mmap(fd,0,prot=mmap.PROT_READ)\n\
                os.close(fd)\n\
                print('ready',flush=True)\n\
                time.sleep(600)\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", code, file.to_str().unwrap()])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the mmap holder did not start");
    Proc(child)
}

/// A python process that ignores SIGTERM, with its cwd in `dir`.
pub fn hold_ignoring_term(dir: &Path) -> Proc {
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import signal,time\nsignal.signal(signal.SIGTERM,signal.SIG_IGN)\nprint('ready',flush=True)\ntime.sleep(600)\n",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Proc(child)
}

/// Write `len` bytes of a pattern seeded by `seed` to `path`, fsync it, and
/// return its checksum.
pub fn write_synced(path: &Path, seed: u64, len: usize) -> String {
    use std::io::Write;
    let mut x = seed | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut f = fs::File::create(path).unwrap();
    f.write_all(&data).unwrap();
    f.sync_all().unwrap();
    checksum(path)
}

/// sha256 of a file, by sha256sum.
pub fn checksum(path: &Path) -> String {
    let (code, out) = sh("sha256sum", &[path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    out.split_whitespace().next().unwrap().to_string()
}

/// A private mount namespace kept alive by a bind of its nsfs file under
/// /run/fsa-ns-*; commands run in it through `nsenter`. Its mounts never
/// show up in the host's table. On drop: every process we started in it is
/// resumed and killed, and the namespace is released (its mounts go with
/// it, lazily).
pub struct MountNs {
    pub dir: PathBuf,
    pub file: PathBuf,
    procs: std::cell::RefCell<Vec<Proc>>,
}

impl MountNs {
    pub fn new(tag: &str) -> MountNs {
        let dir = PathBuf::from(format!("/run/{}", name(tag)));
        fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        let ns = MountNs {
            file: dir.join("mnt"),
            dir: dir.clone(),
            procs: Default::default(),
        };
        assert_eq!(sh("mount", &["--bind", d, d]).0, 0);
        assert_eq!(sh("mount", &["--make-private", d]).0, 0);
        fs::write(&ns.file, b"").unwrap();
        let (code, out) = sh(
            "unshare",
            &[
                &format!("--mount={}", ns.file.display()),
                "--propagation",
                "private",
                "true",
            ],
        );
        assert_eq!(code, 0, "unshare: {out}");
        ns
    }

    /// `nsenter --mount=<ns> -- [env --chdir=<wd>] argv...` as a Command.
    /// (nsenter's own --wd opens the directory *before* entering the
    /// namespace, so it would not be inside the namespace's mount.)
    pub fn command(&self, wd: Option<&Path>, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount={}", self.file.display())).arg("--");
        if let Some(w) = wd {
            c.arg("env").arg(format!("--chdir={}", w.display()));
        }
        c.args(argv);
        c
    }

    /// Run with a time limit, in its own process group (SIGKILLed as a
    /// whole at the limit): (exit code or None on timeout, output, elapsed).
    pub fn run_bounded(&self, argv: &[&str], env: &[(&str, &str)], limit: Duration) -> Bounded {
        bounded(
            self.command(None, argv)
                .env_clear()
                .envs(env.iter().copied()),
            limit,
        )
    }

    /// Run to completion: (exit code, stdout+stderr).
    pub fn run(&self, argv: &[&str]) -> (i32, String) {
        let out = self
            .command(None, argv)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), s)
    }

    /// Start a long-lived process in the namespace; it is killed on drop.
    /// Returns its pid (nsenter and env exec the program, so it is the program's).
    pub fn spawn(&self, wd: Option<&Path>, argv: &[&str]) -> u32 {
        let p = spawn(self.command(wd, argv).stdin(Stdio::null()));
        let pid = p.pid();
        self.procs.borrow_mut().push(p);
        pid
    }

    /// The namespace's mount table.
    pub fn mountinfo(&self) -> String {
        self.run(&["cat", "/proc/self/mountinfo"]).1
    }
}

impl Drop for MountNs {
    fn drop(&mut self) {
        for p in self.procs.borrow().iter() {
            // SAFETY: signals to children we spawned and still own.
            unsafe {
                libc::kill(p.pid() as i32, libc::SIGCONT);
            }
        }
        self.procs.borrow_mut().clear(); // SIGKILL + reap each
        std::thread::sleep(Duration::from_millis(100));
        lazy_umount(&self.file);
        lazy_umount(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// SIGSTOP `pid` and wait until every one of its threads is stopped: a
/// FUSE daemon thread still running could take the next request, and a
/// request a stopped daemon has already read cannot be interrupted, not
/// even by SIGKILL (the test then waited forever for its own `stat`).
pub fn stop_process(pid: u32) {
    // SAFETY: a process the test started.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let all_stopped = || {
        fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
            tasks.flatten().all(|t| {
                fs::read(t.path().join("stat")).is_ok_and(|st| {
                    let close = st.iter().rposition(|&c| c == b')').unwrap_or(0);
                    st.get(close + 2) == Some(&b'T')
                })
            })
        })
    };
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !all_stopped() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a bounded run did.
#[derive(Debug)]
pub struct Bounded {
    /// None when the limit passed and the group was killed.
    pub code: Option<i32>,
    pub output: String,
    pub elapsed: Duration,
}

/// Run `cmd` in its own process group, output to a temp file (so no
/// straggler can hold a pipe), SIGKILL the group at `limit`.
pub fn bounded(cmd: &mut Command, limit: Duration) -> Bounded {
    use std::os::unix::process::CommandExt;
    let out_path = std::env::temp_dir().join(format!(
        "fsa-out-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let out = fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st.code().unwrap_or(-1));
        }
        if started.elapsed() >= limit {
            // SAFETY: the process group we just created.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            // A process stuck in the kernel may outlive SIGKILL for a while:
            // never wait for it forever.
            let end = std::time::Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    // SAFETY: stragglers of the same group.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let output = fs::read_to_string(&out_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    Bounded {
        code,
        output,
        elapsed,
    }
}

/// A block device node removed from /dev (as a dead disk's node goes),
/// made again with its number on drop, before the loop device is detached.
pub struct RemovedNode {
    path: PathBuf,
    rdev: libc::dev_t,
    mode: u32,
    gid: u32,
}

impl RemovedNode {
    pub fn remove(path: &str) -> RemovedNode {
        use std::os::unix::fs::MetadataExt;
        let md = fs::metadata(path).unwrap();
        let n = RemovedNode {
            path: PathBuf::from(path),
            rdev: md.rdev(),
            mode: md.mode() & 0o7777,
            gid: md.gid(),
        };
        fs::remove_file(path).unwrap();
        n
    }

    /// Make the node again (now, instead of on drop).
    pub fn restore(&self) {
        if self.path.exists() {
            return;
        }
        let c = std::ffi::CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: mknod and chown with a valid path.
        unsafe {
            libc::mknod(c.as_ptr(), libc::S_IFBLK | self.mode, self.rdev);
            libc::chown(c.as_ptr(), 0, self.gid);
        }
    }
}

impl Drop for RemovedNode {
    fn drop(&mut self) {
        self.restore();
    }
}
