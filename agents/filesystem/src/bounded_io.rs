//! Device and status-file I/O for monitor depths 10 and 20, and removing
//! the status file on stop, each in a forked child under a deadline.
//!
//! A read from dead storage sleeps uninterruptibly; a thread stuck that way
//! would keep our process from exiting, so the I/O runs in a child, with its
//! stdio on /dev/null so it can never hold Pacemaker's pipes. When the
//! deadline passes we SIGKILL it and report, without waiting for it. The
//! agent has no other thread when it forks (and glibc's fork keeps malloc
//! usable in the child anyway), so the child may allocate.
//!
//! The status file lives inside the mounted filesystem, where other users
//! may write: it is reached through `ocf::files` only, never by a path the
//! kernel resolves for us (see [`StatusFile`]).

use ocf::Deadline;
use ocf::files::TrustedDir;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The size and alignment of every O_DIRECT transfer: a multiple of any
/// logical block size (512 or 4096), as O_DIRECT needs on real filesystems.
pub const BLOCK: usize = 4096;

/// One aligned buffer, allocated before fork.
struct Aligned {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Aligned {
    fn new() -> Aligned {
        let layout = std::alloc::Layout::from_size_align(BLOCK, BLOCK).expect("layout");
        // SAFETY: non-zero size; freed in Drop with the same layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        Aligned { ptr, layout }
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: BLOCK bytes owned by us.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, BLOCK) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn cstr(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} contains NUL", p.display()))
}

/// Which step failed in the child, its errno, and what it said (a refusal
/// of `ocf::files` has no errno of its own, only words).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    step: i32,
    errno: i32,
    msg: String,
}

impl Failure {
    fn os(step: i32, errno: i32) -> Failure {
        Failure {
            step,
            errno,
            msg: String::new(),
        }
    }
    fn io(step: i32, e: std::io::Error) -> Failure {
        Failure {
            step,
            errno: e.raw_os_error().unwrap_or(0),
            msg: if e.raw_os_error().is_some() {
                String::new()
            } else {
                e.to_string()
            },
        }
    }
}

/// The report's size on the pipe: step, errno, message length, message.
/// Below PIPE_BUF, so one write is atomic.
const REPORT: usize = 512;

fn encode(f: &Failure) -> [u8; REPORT] {
    let mut out = [0u8; REPORT];
    let msg = f.msg.as_bytes();
    let n = msg.len().min(REPORT - 12);
    out[..4].copy_from_slice(&f.step.to_ne_bytes());
    out[4..8].copy_from_slice(&f.errno.to_ne_bytes());
    out[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
    out[12..12 + n].copy_from_slice(&msg[..n]);
    out
}

fn decode(b: &[u8; REPORT]) -> Failure {
    let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
    let n = (u32::from_ne_bytes(word(8)) as usize).min(REPORT - 12);
    Failure {
        step: i32::from_ne_bytes(word(0)),
        errno: i32::from_ne_bytes(word(4)),
        msg: String::from_utf8_lossy(&b[12..12 + n]).into_owned(),
    }
}

/// Run `work` in a child; its `Err(Failure)` comes back over a pipe.
/// `Ok(None)` = success, `Ok(Some)` = a failure report, `Err` = no answer
/// by the deadline.
fn in_child(
    dl: &Deadline,
    work: impl FnOnce() -> Result<(), Failure>,
) -> Result<Option<Failure>, String> {
    let started = std::time::Instant::now();
    let mut fds = [0i32; 2];
    // SAFETY: plain syscalls on fds we own; the child ends with _exit.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        let pid = libc::fork();
        if pid < 0 {
            let e = std::io::Error::last_os_error();
            libc::close(fds[0]);
            libc::close(fds[1]);
            libc::close(devnull);
            return Err(format!("fork: {e}"));
        }
        if pid == 0 {
            if devnull >= 0 {
                libc::dup2(devnull, 0);
                libc::dup2(devnull, 1);
                libc::dup2(devnull, 2);
            }
            let report = match work() {
                Ok(()) => encode(&Failure::os(0, 0)),
                Err(f) => encode(&f),
            };
            libc::write(fds[1], report.as_ptr().cast(), REPORT);
            libc::_exit(0);
        }
        libc::close(fds[1]);
        if devnull >= 0 {
            libc::close(devnull);
        }
        let mut report = [0u8; REPORT];
        let mut got = 0usize;
        let answered = loop {
            let left = dl.remaining();
            if left.is_zero() {
                break false;
            }
            let mut pfd = libc::pollfd {
                fd: fds[0],
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            let n = libc::poll(&mut pfd, 1, ms);
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break false;
            }
            if n == 0 {
                continue;
            }
            let r = libc::read(fds[0], report.as_mut_ptr().add(got).cast(), REPORT - got);
            if r <= 0 {
                break got == REPORT;
            }
            got += r as usize;
            if got == REPORT {
                break true;
            }
        };
        libc::close(fds[0]);
        if !answered {
            libc::kill(pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(pid, &mut st, libc::WNOHANG);
            return Err(format!(
                "no answer within {:.1}s (the I/O is stuck; left behind as pid {pid})",
                started.elapsed().as_secs_f64()
            ));
        }
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
        if got != REPORT {
            return Err("the I/O child died without a report".into());
        }
        let f = decode(&report);
        Ok((f.step != 0).then_some(f))
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn describe(f: Failure, steps: &[&str]) -> String {
    let what = steps.get((f.step - 1) as usize).copied().unwrap_or("I/O");
    if f.msg.is_empty() {
        format!("{what}: {}", std::io::Error::from_raw_os_error(f.errno))
    } else {
        format!("{what}: {}", f.msg)
    }
}

/// Depth 10: read the first block of `device` with O_DIRECT (past the page
/// cache, so a dead disk is noticed).
pub fn read_device(device: &Path, dl: &Deadline) -> Result<(), String> {
    let path = cstr(device)?;
    let mut buf = Aligned::new();
    let steps = ["open", "read"];
    let r = in_child(dl, || {
        let b = buf.as_mut_slice();
        // SAFETY: raw syscalls on a valid path and an aligned buffer.
        unsafe {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECT | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return Err(Failure::os(1, errno()));
            }
            let n = libc::read(fd, b.as_mut_ptr().cast(), BLOCK);
            let e = errno();
            libc::close(fd);
            if n < 0 {
                return Err(Failure::os(2, e));
            }
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &steps)),
    }
}

/// Where the depth-20 status file lives inside a mount: the directories
/// of `statusfile_prefix` (`a/b/` is two), each created when missing, and
/// the file name. Reached from the mount point through `ocf::files` only:
/// every directory must be ours (root's, writable by nobody else, not a
/// link) and the file a regular file of ours, never a link, FIFO or device.
/// A file directly in the mount's root (a prefix without `/`) is written
/// only when the root is ours and writable by nobody else either: in a
/// directory others can write to, a planted hard link to a file of root's
/// would be a regular file of ours too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusFile {
    pub dirs: Vec<String>,
    pub name: String,
}

impl StatusFile {
    /// The path, for log lines.
    pub fn path(&self, mount_point: &Path) -> PathBuf {
        let mut p = mount_point.to_path_buf();
        for d in &self.dirs {
            p.push(d);
        }
        p.join(&self.name)
    }

    /// The directory the file goes in: created when `create`, `None`
    /// when a directory is missing and not to be created.
    fn open_dir(&self, mount_point: &Path, create: bool) -> Result<Option<TrustedDir>, Failure> {
        let mut dir = TrustedDir::open_any(mount_point).map_err(|e| Failure::io(1, e))?;
        if self.dirs.is_empty() {
            let md = std::fs::symlink_metadata(mount_point).map_err(|e| Failure::io(1, e))?;
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            if md.uid() != me || md.mode() & 0o022 != 0 {
                return Err(Failure {
                    step: 2,
                    errno: 0,
                    msg: format!(
                        "{} is owned by uid {} with mode {:o}: others may write there, so no status file is written directly in it (give statusfile_prefix a directory, like the default .Filesystem_status/)",
                        mount_point.display(),
                        md.uid(),
                        md.mode() & 0o7777
                    ),
                });
            }
            return Ok(Some(dir));
        }
        for d in &self.dirs {
            dir = match dir.subdir(d, create.then_some(0o755)) {
                Ok(sub) => sub,
                Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Failure::io(2, e)),
            };
        }
        Ok(Some(dir))
    }
}

/// O_DIRECT on an open descriptor, where the filesystem allows it (tmpfs,
/// for one, may not): the I/O then reaches the device, not the page cache.
fn set_direct(fd: i32, on: bool) -> bool {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 {
            return false;
        }
        let fl = if on {
            fl | libc::O_DIRECT
        } else {
            fl & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, fl) == 0
    }
}

/// Depth 20: write one block to the status file with O_DIRECT and fsync,
/// and read it back with O_DIRECT (without, where the filesystem refuses
/// it, as on tmpfs or CIFS). The directories are created when missing.
pub fn write_read_status(
    mount_point: &Path,
    status: &StatusFile,
    content: &[u8],
    dl: &Deadline,
) -> Result<(), String> {
    let mut wbuf = Aligned::new();
    let mut rbuf = Aligned::new();
    {
        let w = wbuf.as_mut_slice();
        w.fill(b'\n');
        let n = content.len().min(BLOCK);
        w[..n].copy_from_slice(&content[..n]);
    }
    let steps = [
        "open the mount point",
        "the status directory",
        "open for writing",
        "write",
        "sync",
        "read",
        "compare",
    ];
    let r = in_child(dl, || {
        let w = wbuf.as_mut_slice();
        let rb = rbuf.as_mut_slice();
        let dir = status
            .open_dir(mount_point, true)?
            .ok_or_else(|| Failure::os(2, libc::ENOENT))?;
        let file = dir
            .open_write(&status.name, 0o644)
            .map_err(|e| Failure::io(3, e))?;
        let fd = file.as_raw_fd();
        let direct = set_direct(fd, true);
        // SAFETY: raw I/O on our descriptor with aligned buffers of BLOCK bytes.
        unsafe {
            let n = libc::pwrite(fd, w.as_ptr().cast(), BLOCK, 0);
            if n != BLOCK as isize {
                return Err(Failure::os(4, if n < 0 { errno() } else { libc::EIO }));
            }
            if libc::fsync(fd) != 0 {
                return Err(Failure::os(5, errno()));
            }
            let mut n = libc::pread(fd, rb.as_mut_ptr().cast(), BLOCK, 0);
            if n < 0 && errno() == libc::EINVAL && direct {
                set_direct(fd, false);
                n = libc::pread(fd, rb.as_mut_ptr().cast(), BLOCK, 0);
            }
            if n != BLOCK as isize {
                return Err(Failure::os(6, if n < 0 { errno() } else { libc::EIO }));
            }
        }
        if rb[..] != w[..] {
            return Err(Failure::os(7, libc::EIO));
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &steps)),
    }
}

/// Remove the status file (before unmounting), through the same checked
/// directories: a missing file or directory is fine, and nothing is
/// removed through a directory that is not ours.
pub fn remove(mount_point: &Path, status: &StatusFile, dl: &Deadline) -> Result<(), String> {
    let steps = ["open the mount point", "the status directory", "unlink"];
    let r = in_child(dl, || {
        let Some(dir) = status.open_dir(mount_point, false)? else {
            return Ok(());
        };
        dir.remove(&status.name).map_err(|e| Failure::io(3, e))
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &steps)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn status_file_round_trip_and_removal() {
        let dir = std::env::temp_dir().join(format!("fsa-bio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let st = StatusFile {
            dirs: vec![".status".into(), "deeper".into()],
            name: "r1_node".into(),
        };
        let file = st.path(&dir);
        assert_eq!(file, dir.join(".status/deeper/r1_node"));
        let dl = Deadline::after(Duration::from_secs(10));
        write_read_status(&dir, &st, b"r1\n", &dl).unwrap();
        let text = std::fs::read(&file).unwrap();
        assert_eq!(text.len(), BLOCK);
        assert!(text.starts_with(b"r1\n"));
        write_read_status(&dir, &st, b"r1\n", &dl).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap().len(),
            BLOCK,
            "emptied, then one block"
        );
        remove(&dir, &st, &dl).unwrap();
        assert!(!file.exists());
        remove(&dir, &st, &dl).unwrap();
        // A planted link in place of the file: refused, the target untouched.
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, &file).unwrap();
        let err = write_read_status(&dir, &st, b"r1\n", &dl).unwrap_err();
        assert!(err.starts_with("open for writing"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        remove(&dir, &st, &dl).unwrap();
        assert!(victim.exists() && std::fs::symlink_metadata(&file).is_err());
        let missing = StatusFile {
            dirs: vec!["nowhere".into()],
            name: "x".into(),
        };
        remove(&dir, &missing, &dl).unwrap();
        let err = read_device(&dir.join("missing"), &dl).unwrap_err();
        assert!(err.starts_with("open: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reports_round_trip() {
        let f = Failure {
            step: 3,
            errno: 0,
            msg: "x is owned by uid 1000, not by us".into(),
        };
        assert_eq!(decode(&encode(&f)), f);
        let long = Failure {
            step: 1,
            errno: 5,
            msg: "é".repeat(400),
        };
        let back = decode(&encode(&long));
        assert_eq!((back.step, back.errno), (1, 5));
        assert!(back.msg.len() <= REPORT - 12);
    }

    #[test]
    fn an_expired_deadline_reports_instead_of_waiting() {
        let dl = Deadline::after(Duration::ZERO);
        let err = in_child(&dl, || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        })
        .unwrap_err();
        assert!(err.contains("no answer"), "{err}");
    }
}
