//! Deadlines derived from `CRM_meta_timeout`, phase budgets, and the
//! watchdog that ends the process before Pacemaker would SIGKILL it.
//!
//! Pacemaker SIGKILLs the agent's process group at the timeout with no
//! warning; a stop killed that way gets the node fenced. So every action has
//! two ends: the *soft* [`Deadline`] the agent's own code budgets against,
//! and a *hard* end slightly later at which the watchdog (a SIGALRM whose
//! handler does only async-signal-safe work) kills our children, writes an
//! exit reason naming the phase, and exits.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// A point in time an operation must finish by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// A deadline `d` from now.
    pub fn after(d: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + d,
        }
    }

    pub fn at(end: Instant) -> Deadline {
        Deadline { end }
    }

    pub fn end(&self) -> Instant {
        self.end
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// A phase budget: `fraction` (0..=1) of the time left now.
    pub fn share(&self, fraction: f64) -> Deadline {
        let f = fraction.clamp(0.0, 1.0);
        Deadline {
            end: (Instant::now() + self.remaining().mul_f64(f)).min(self.end),
        }
    }

    /// This deadline minus `reserve` kept back for a later phase (e.g. the
    /// force phase of a stop). Never earlier than now.
    pub fn keep_back(&self, reserve: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            end: self.end.checked_sub(reserve).unwrap_or(now).max(now),
        }
    }

    /// The sooner of this deadline and `d` from now: bounds one call.
    pub fn cap(&self, d: Duration) -> Deadline {
        Deadline {
            end: self.end.min(Instant::now() + d),
        }
    }

    /// Sleep for `d` but never past the deadline. False if the deadline passed.
    pub fn sleep(&self, d: Duration) -> bool {
        thread::sleep(d.min(self.remaining()));
        !self.expired()
    }

    /// Poll `check` every `every` until it returns `Some`, or the deadline passes.
    pub fn poll<T>(&self, every: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
        loop {
            if let Some(v) = check() {
                return Some(v);
            }
            if self.expired() || !self.sleep(every) {
                return check();
            }
        }
    }
}

/// The two ends of one action's time: what agent code budgets against, and
/// when the watchdog fires. Both sit safely before Pacemaker's kill.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub soft: Deadline,
    pub hard: Instant,
}

impl Budget {
    /// Split `timeout`, measured from `start` (process start is close enough:
    /// Pacemaker's clock starts at fork, a few hundred microseconds earlier).
    ///
    /// The hard end keeps back 5 % of the timeout (at least 200 ms, at most
    /// 2 s) for the exit itself; the soft end another 5 % (100 ms .. 1 s), so
    /// an agent that respects its deadline reports its own reason first.
    pub fn new(start: Instant, timeout: Duration) -> Budget {
        let hard_margin = (timeout / 20).clamp(Duration::from_millis(200), Duration::from_secs(2));
        let soft_margin = (timeout / 20).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let hard_len = timeout.saturating_sub(hard_margin).max(timeout / 2);
        let soft_len = hard_len.saturating_sub(soft_margin).max(hard_len / 2);
        Budget {
            soft: Deadline {
                end: start + soft_len,
            },
            hard: start + hard_len,
        }
    }
}

static PHASE: Mutex<String> = Mutex::new(String::new());

/// The watchdog's exit-reason line for the current phase, formatted ahead
/// of time: the signal handler only copies bytes and writes them. Two
/// buffers; [`set_phase`] fills the idle one, then flips `ACTIVE`, so the
/// handler (which may interrupt set_phase itself) always reads a whole line.
const LINE_MAX: usize = 512;
static LINES: [[AtomicU8; LINE_MAX]; 2] = [const { [const { AtomicU8::new(0) }; LINE_MAX] }; 2];
static LINE_LEN: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// "<action> did not finish within its N s timeout": set when armed.
static PREFIX: OnceLock<String> = OnceLock::new();

/// Name the phase the action is in; the watchdog's exit reason quotes it.
pub fn set_phase(name: &str) {
    if let Ok(mut p) = PHASE.lock() {
        p.clear();
        p.push_str(name);
    }
    prepare_line(name);
    crate::debug!("phase: {name}");
}

/// The phase last named with [`set_phase`].
pub fn phase() -> String {
    PHASE.lock().map(|p| p.clone()).unwrap_or_default()
}

fn prepare_line(phase: &str) {
    let Some(prefix) = PREFIX.get() else {
        return;
    };
    let phase = if phase.is_empty() { "startup" } else { phase };
    let line = format!(
        "{}\n",
        crate::exit::exit_reason_line(&format!("{prefix} (stopped in phase '{phase}')"))
    );
    let mut bytes = line.into_bytes();
    if bytes.len() > LINE_MAX {
        bytes.truncate(LINE_MAX - 1);
        bytes.push(b'\n');
    }
    let idle = 1 - ACTIVE.load(Ordering::SeqCst);
    for (slot, b) in LINES[idle].iter().zip(&bytes) {
        slot.store(*b, Ordering::Relaxed);
    }
    LINE_LEN[idle].store(bytes.len(), Ordering::SeqCst);
    ACTIVE.store(idle, Ordering::SeqCst);
}

/// SIGALRM at the hard end: kill our tools' process groups, one write(2) of
/// the prepared exit reason to stderr, `_exit(1)`. Nothing here allocates,
/// locks or logs: the stuck main thread may hold any lock (syslog, a log
/// file on a hung mount, the allocator).
extern "C" fn on_deadline(_sig: libc::c_int) {
    crate::exec::kill_all_children();
    let which = ACTIVE.load(Ordering::SeqCst);
    let len = LINE_LEN[which].load(Ordering::SeqCst).min(LINE_MAX);
    let mut buf = [0u8; LINE_MAX];
    for (b, slot) in buf.iter_mut().zip(&LINES[which]).take(len) {
        *b = slot.load(Ordering::Relaxed);
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe; buf is ours.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::_exit(i32::from(crate::Status::ErrGeneric.code()));
    }
}

/// Arm the watchdog for one action: a SIGALRM (setitimer) at `hard` whose
/// handler kills every child process group [`crate::exec`] started, writes
/// `ocf-exit-reason:<action> did not finish within its Ns timeout (stopped
/// in phase '<phase>')` and exits 1. A timer, not a thread: no thread spawn
/// on every monitor, and nothing after the deadline that can block.
pub fn arm_watchdog(action: &str, timeout: Duration, hard: Instant) {
    let _ = PREFIX.set(format!(
        "{action} did not finish within its {:.1}s timeout",
        timeout.as_secs_f64()
    ));
    prepare_line(&phase());
    let left = hard
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    // SAFETY: installing a handler that only does async-signal-safe work,
    // unblocking SIGALRM for this thread, and arming the process's real-time
    // interval timer; all structures are zeroed and owned here.
    let armed = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_deadline as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        let timer = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: left.as_secs() as libc::time_t,
                tv_usec: left.subsec_micros() as libc::suseconds_t,
            },
        };
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()) == 0
            && libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) == 0
    };
    if !armed {
        crate::warn!(
            "could not arm the deadline watchdog: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_margins() {
        let t0 = Instant::now();
        let b = Budget::new(t0, Duration::from_secs(20));
        assert_eq!(b.hard - t0, Duration::from_secs(19));
        assert_eq!(b.soft.end() - t0, Duration::from_secs(18));
        let b = Budget::new(t0, Duration::from_secs(120));
        assert_eq!(b.hard - t0, Duration::from_secs(118));
        assert_eq!(b.soft.end() - t0, Duration::from_secs(117));
        let b = Budget::new(t0, Duration::from_secs(2));
        assert_eq!(b.hard - t0, Duration::from_millis(1800));
        assert_eq!(b.soft.end() - t0, Duration::from_millis(1700));
        // Absurdly short timeouts still give both ends a positive share.
        let b = Budget::new(t0, Duration::from_millis(100));
        assert!(b.soft.end() > t0 && b.hard > b.soft.end() - Duration::from_millis(1));
        assert!(b.hard - t0 < Duration::from_millis(100));
    }

    #[test]
    fn shares_and_reserves() {
        let d = Deadline::after(Duration::from_secs(10));
        let half = d.share(0.5).remaining();
        assert!(half <= Duration::from_secs(5) && half > Duration::from_millis(4900));
        let kept = d.keep_back(Duration::from_secs(4)).remaining();
        assert!(kept <= Duration::from_secs(6) && kept > Duration::from_millis(5900));
        assert!(d.keep_back(Duration::from_secs(60)).expired());
        assert!(d.cap(Duration::from_secs(1)).remaining() <= Duration::from_secs(1));
        assert_eq!(d.cap(Duration::from_secs(60)).end(), d.end());
        assert!(d.share(7.0).end() <= d.end());
    }

    #[test]
    fn sleep_and_poll_respect_the_end() {
        let d = Deadline::after(Duration::from_millis(50));
        let t = Instant::now();
        assert!(!d.sleep(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(d.expired());
        let d = Deadline::after(Duration::from_millis(100));
        let mut n = 0;
        assert_eq!(
            d.poll(Duration::from_millis(10), || {
                n += 1;
                (n == 3).then_some(n)
            }),
            Some(3)
        );
        let never: Option<()> =
            Deadline::after(Duration::from_millis(30)).poll(Duration::from_millis(10), || None);
        assert!(never.is_none());
    }

    #[test]
    fn phase_is_remembered() {
        set_phase("graceful shutdown");
        assert_eq!(phase(), "graceful shutdown");
    }
}
