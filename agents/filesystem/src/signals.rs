//! The signal lists of `term_signals` and `kill_signals`, and sending them.

use rustix::process::{Pid, Signal, kill_process};

/// Parse a signal list (`TERM`, `SIGHUP`, `9`; whitespace or comma separated).
pub fn parse_signals(v: &str) -> Result<Vec<i32>, String> {
    let mut out = Vec::new();
    for word in v.split(|c: char| c.is_whitespace() || c == ',') {
        if word.is_empty() {
            continue;
        }
        let n = signal_number(word).ok_or_else(|| format!("unknown signal {word:?}"))?;
        out.push(n);
    }
    if out.is_empty() {
        return Err("names no signal".into());
    }
    Ok(out)
}

/// SIGTERM, the default of `term_signals`.
pub const TERM: i32 = Signal::TERM.as_raw();
/// SIGKILL, the default of `kill_signals`.
pub const KILL: i32 = Signal::KILL.as_raw();

const SIGNALS: &[(&str, Signal)] = &[
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("ABRT", Signal::ABORT),
    ("KILL", Signal::KILL),
    ("USR1", Signal::USR1),
    ("USR2", Signal::USR2),
    ("PIPE", Signal::PIPE),
    ("ALRM", Signal::ALARM),
    ("TERM", Signal::TERM),
    ("CONT", Signal::CONT),
];

fn signal_number(word: &str) -> Option<i32> {
    if let Ok(n) = word.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = word.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s.as_raw())
}

/// The name of a signal number, for logs.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, s)| s.as_raw() == n)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| format!("signal {n}"))
}

/// Send `sig` (1 to 64, as [`parse_signals`] accepts) to `pid`; false if
/// it is already gone.
pub fn signal(pid: i32, sig: i32) -> bool {
    // Never 0 or negative: those name process groups, ours among them.
    let Some(pid) = Pid::from_raw(pid.max(0)) else {
        return false;
    };
    match Signal::from_named_raw(sig) {
        Some(s) => kill_process(pid, s).is_ok(),
        None => realtime(pid, sig),
    }
}

/// A real-time signal (32 to 64): rustix names only the classic ones and
/// makes a `Signal` of any other number only through an unsafe constructor
/// whose contract is about this process's own libc; kill(2) itself is
/// plain integers.
fn realtime(pid: Pid, sig: i32) -> bool {
    if !(32..=64).contains(&sig) {
        return false;
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours; the
    // kernel checks the signal number, and the target is another process
    // (never this one: holders::Guard protects us), so no handler or mask
    // of this process can be affected.
    unsafe { libc::kill(pid.as_raw_nonzero().get(), sig) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_lists() {
        assert_eq!(parse_signals("TERM").unwrap(), [libc::SIGTERM]);
        assert_eq!(
            parse_signals("SIGHUP, 15 kill").unwrap(),
            [libc::SIGHUP, 15, libc::SIGKILL]
        );
        assert!(parse_signals("TERM; rm").is_err());
        assert!(parse_signals("99").is_err());
        assert!(parse_signals(" ").is_err());
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!((TERM, KILL), (libc::SIGTERM, libc::SIGKILL));
    }

    #[test]
    fn every_signal_reaches_a_process() {
        for sig in [libc::SIGTERM, 40] {
            let mut child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            assert!(signal(child.id() as i32, sig), "signal {sig}");
            let status = child.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(sig));
        }
        assert!(!signal(0, libc::SIGTERM), "never a process group");
    }
}
