//! The fork probe: run a piece of I/O in a forked child under a deadline.
//!
//! A read from dead storage sleeps uninterruptibly; a thread stuck that way
//! would keep our process from exiting, so the I/O runs in a child, with its
//! stdio on /dev/null so it can never hold Pacemaker's pipes. When the
//! deadline passes we SIGKILL it and report, without waiting for it.
//!
//! The two `unsafe` blocks of the fork (`fork` itself and the child's
//! `_exit`) live here and nowhere else; everything around them is rustix.

use std::fs::OpenOptions;
use std::time::Instant;

use ocf::Deadline;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};

/// Which step failed in the child, its errno, and what it said (a refusal
/// of `ocf::files` has no errno of its own, only words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: i32,
    pub errno: i32,
    pub msg: String,
}

impl Failure {
    pub fn os(step: i32, errno: i32) -> Failure {
        Failure {
            step,
            errno,
            msg: String::new(),
        }
    }

    pub fn errno(step: i32, e: Errno) -> Failure {
        Failure::os(step, e.raw_os_error())
    }

    pub fn io(step: i32, e: std::io::Error) -> Failure {
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

    /// `<step>: <why>`, the step named from `steps` (1-based).
    pub fn describe(self, steps: &[&str]) -> String {
        let what = steps
            .get((self.step - 1) as usize)
            .copied()
            .unwrap_or("I/O");
        if self.msg.is_empty() {
            format!("{what}: {}", std::io::Error::from_raw_os_error(self.errno))
        } else {
            format!("{what}: {}", self.msg)
        }
    }
}

/// The report's size on the pipe: step, errno, message length, message.
/// Below PIPE_BUF, so one write is atomic.
pub const REPORT: usize = 512;

pub fn encode(f: &Failure) -> [u8; REPORT] {
    let mut out = [0u8; REPORT];
    let msg = f.msg.as_bytes();
    let n = msg.len().min(REPORT - 12);
    out[..4].copy_from_slice(&f.step.to_ne_bytes());
    out[4..8].copy_from_slice(&f.errno.to_ne_bytes());
    out[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
    out[12..12 + n].copy_from_slice(&msg[..n]);
    out
}

pub fn decode(b: &[u8; REPORT]) -> Failure {
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
pub fn in_child(
    dl: &Deadline,
    work: impl FnOnce() -> Result<(), Failure>,
) -> Result<Option<Failure>, String> {
    let started = Instant::now();
    let (rx, tx) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ok();
    // SAFETY: the agent runs no other thread when it forks (the watchdog
    // is a signal, not a thread), so no lock can be held by a thread that
    // does not exist in the child, and glibc's fork re-initialises malloc's
    // locks in the child anyway, so the child may allocate. The child only
    // runs `work` (file I/O through rustix and ocf::files), writes to the
    // pipe and leaves with _exit below, never returning into our caller.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        if let Some(null) = &devnull {
            let _ = rustix::stdio::dup2_stdin(null);
            let _ = rustix::stdio::dup2_stdout(null);
            let _ = rustix::stdio::dup2_stderr(null);
        }
        let report = match work() {
            Ok(()) => encode(&Failure::os(0, 0)),
            Err(f) => encode(&f),
        };
        let _ = rustix::io::write(&tx, &report);
        // SAFETY: _exit ends the child at once, without the atexit
        // handlers and stdio flushes of the parent's state it inherited;
        // nothing after it runs.
        unsafe { libc::_exit(0) }
    }
    let pid = Pid::from_raw(pid).expect("a positive pid");
    drop(tx);
    drop(devnull);
    let mut report = [0u8; REPORT];
    let mut got = 0usize;
    let answered = loop {
        let left = dl.remaining();
        if left.is_zero() {
            break false;
        }
        let mut fds = [PollFd::new(&rx, PollFlags::IN)];
        let timeout = Timespec::try_from(left).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(_) => break false,
        }
        match rustix::io::read(&rx, &mut report[got..]) {
            Ok(0) | Err(_) => break got == REPORT,
            Ok(n) => {
                got += n;
                if got == REPORT {
                    break true;
                }
            }
        }
    };
    drop(rx);
    if !answered {
        let _ = kill_process(pid, Signal::KILL);
        let _ = waitpid(Some(pid), WaitOptions::NOHANG);
        return Err(format!(
            "no answer within {:.1}s (the I/O is stuck; left behind as pid {})",
            started.elapsed().as_secs_f64(),
            pid.as_raw_nonzero()
        ));
    }
    let _ = waitpid(Some(pid), WaitOptions::empty());
    if got != REPORT {
        return Err("the I/O child died without a report".into());
    }
    let f = decode(&report);
    Ok((f.step != 0).then_some(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    #[test]
    fn a_report_and_success_come_back() {
        let dl = Deadline::after(Duration::from_secs(10));
        assert_eq!(in_child(&dl, || Ok(())), Ok(None));
        let f = in_child(&dl, || Err(Failure::os(2, libc::EIO))).unwrap();
        assert_eq!(f, Some(Failure::os(2, libc::EIO)));
        assert_eq!(
            f.unwrap().describe(&["open", "read"]),
            format!("read: {}", std::io::Error::from_raw_os_error(libc::EIO))
        );
    }
}
