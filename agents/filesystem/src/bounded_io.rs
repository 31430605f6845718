//! Device and status-file I/O for monitor depths 10 and 20, and removing
//! the status file on stop, each in a forked child under a deadline.
//!
//! A read from dead storage sleeps uninterruptibly; a thread stuck that way
//! would keep our process from exiting, so the I/O runs in a child that
//! does only raw syscalls (no allocation after fork), with its stdio on
//! /dev/null so it can never hold Pacemaker's pipes. When the deadline
//! passes we SIGKILL it and report, without waiting for it.

use ocf::Deadline;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

/// Which step failed in the child, and its errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Failure {
    step: i32,
    errno: i32,
}

/// Run `work` (raw syscalls only) in a child; its `Err((step, errno))`
/// comes back over a pipe. `Ok(None)` = success, `Ok(Some)` = a failure
/// report, `Err` = no answer by the deadline.
fn in_child(
    dl: &Deadline,
    work: impl FnOnce() -> Result<(), (i32, i32)>,
) -> Result<Option<Failure>, String> {
    let started = std::time::Instant::now();
    let mut fds = [0i32; 2];
    // SAFETY: plain syscalls on fds we own; the child only calls
    // async-signal-safe functions (open, read, write, close, _exit, ...).
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
            let report: [i32; 2] = match work() {
                Ok(()) => [0, 0],
                Err((step, errno)) => [step, errno],
            };
            libc::write(
                fds[1],
                report.as_ptr().cast(),
                std::mem::size_of_val(&report),
            );
            libc::_exit(0);
        }
        libc::close(fds[1]);
        if devnull >= 0 {
            libc::close(devnull);
        }
        let mut report = [0i32; 2];
        let mut got = 0usize;
        let want = std::mem::size_of_val(&report);
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
            let r = libc::read(
                fds[0],
                (report.as_mut_ptr() as *mut u8).add(got).cast(),
                want - got,
            );
            if r <= 0 {
                break got == want;
            }
            got += r as usize;
            if got == want {
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
        if got != want {
            return Err("the I/O child died without a report".into());
        }
        Ok((report[0] != 0).then_some(Failure {
            step: report[0],
            errno: report[1],
        }))
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn describe(f: Failure, steps: &[&str]) -> String {
    let what = steps.get((f.step - 1) as usize).copied().unwrap_or("I/O");
    format!("{what}: {}", std::io::Error::from_raw_os_error(f.errno))
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
                return Err((1, errno()));
            }
            let n = libc::read(fd, b.as_mut_ptr().cast(), BLOCK);
            let e = errno();
            libc::close(fd);
            if n < 0 {
                return Err((2, e));
            }
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &steps)),
    }
}

/// Depth 20: write one block to the status file with O_DIRECT|O_SYNC and
/// read it back the same way (without O_DIRECT where the filesystem
/// refuses it, as on tmpfs or CIFS). `dir` is created first if missing.
pub fn write_read_status(
    dir: &Path,
    file: &Path,
    content: &[u8],
    dl: &Deadline,
) -> Result<(), String> {
    let dir_c = cstr(dir)?;
    let file_c = cstr(file)?;
    let mut wbuf = Aligned::new();
    let mut rbuf = Aligned::new();
    {
        let w = wbuf.as_mut_slice();
        w.fill(b'\n');
        let n = content.len().min(BLOCK);
        w[..n].copy_from_slice(&content[..n]);
    }
    let steps = [
        "create the status directory",
        "open for writing",
        "write",
        "open for reading",
        "read",
        "compare",
    ];
    let r = in_child(dl, || {
        let w = wbuf.as_mut_slice();
        let rb = rbuf.as_mut_slice();
        // SAFETY: raw syscalls on valid paths and aligned buffers.
        unsafe {
            if libc::mkdir(dir_c.as_ptr(), 0o755) != 0 && errno() != libc::EEXIST {
                return Err((1, errno()));
            }
            let open = |flags: i32| {
                let fd = libc::open(
                    file_c.as_ptr(),
                    flags | libc::O_DIRECT | libc::O_CLOEXEC,
                    0o644,
                );
                if fd < 0 && errno() == libc::EINVAL {
                    libc::open(file_c.as_ptr(), flags | libc::O_CLOEXEC, 0o644)
                } else {
                    fd
                }
            };
            let fd = open(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_SYNC);
            if fd < 0 {
                return Err((2, errno()));
            }
            let n = libc::write(fd, w.as_ptr().cast(), BLOCK);
            let e = errno();
            libc::close(fd);
            if n != BLOCK as isize {
                return Err((3, if n < 0 { e } else { libc::EIO }));
            }
            let fd = open(libc::O_RDONLY);
            if fd < 0 {
                return Err((4, errno()));
            }
            let n = libc::read(fd, rb.as_mut_ptr().cast(), BLOCK);
            let e = errno();
            libc::close(fd);
            if n != BLOCK as isize {
                return Err((5, if n < 0 { e } else { libc::EIO }));
            }
            if rb[..] != w[..] {
                return Err((6, libc::EIO));
            }
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &steps)),
    }
}

/// Remove a file under the mount (the status file before unmounting);
/// a missing file is fine.
pub fn remove(file: &Path, dl: &Deadline) -> Result<(), String> {
    let c = cstr(file)?;
    let r = in_child(dl, || {
        // SAFETY: unlink on a valid path.
        if unsafe { libc::unlink(c.as_ptr()) } != 0 && errno() != libc::ENOENT {
            return Err((1, errno()));
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(describe(f, &["unlink"])),
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
        let sdir = dir.join(".status");
        let file = sdir.join("r1_node");
        let dl = Deadline::after(Duration::from_secs(10));
        write_read_status(&sdir, &file, b"r1\n", &dl).unwrap();
        let text = std::fs::read(&file).unwrap();
        assert_eq!(text.len(), BLOCK);
        assert!(text.starts_with(b"r1\n"));
        remove(&file, &dl).unwrap();
        assert!(!file.exists());
        remove(&file, &dl).unwrap();
        let err = read_device(&dir.join("missing"), &dl).unwrap_err();
        assert!(err.starts_with("open: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
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
