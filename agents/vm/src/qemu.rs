//! The QEMU processes of a domain, found in `/proc` ([`ocf::procfs`])
//! without libvirt: the last word when libvirtd is down or hung. Monitor
//! uses it to answer "running, but the hypervisor is unreachable" (1, never
//! 7: RA#1613) and stop to prove a domain gone, or to end its emulator
//! itself (signals through rustix).
//!
//! libvirt starts QEMU with `-name guest=<name>,debug-threads=on` (commas in
//! the name doubled); older versions passed `-name <name>`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use ocf::{Deadline, procfs};
use rustix::process::{self, Pid, Signal};

/// The name a QEMU command line (its arguments) gives its guest.
pub fn guest_name<A: AsRef<OsStr>>(args: &[A]) -> Option<String> {
    let prog = args.first()?.as_ref().as_bytes();
    let base = prog.rsplit(|b| *b == b'/').next()?;
    if !base.windows(4).any(|w| w == b"qemu") {
        return None;
    }
    let pos = args.iter().position(|a| a.as_ref() == "-name")?;
    let value = args.get(pos + 1)?.as_ref().to_string_lossy().into_owned();
    let Some(opts) = value.strip_prefix("guest=") else {
        // Old form: the whole value, up to a ",process=..." suffix.
        return Some(value.split(',').next().unwrap_or("").to_string());
    };
    // Up to the first single comma; ",," is an escaped comma.
    let mut name = String::new();
    let mut chars = opts.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                name.push(',');
            } else {
                break;
            }
        } else {
            name.push(c);
        }
    }
    Some(name)
}

/// The `-uuid` a QEMU command line gives its guest (libvirt always passes it).
pub fn guest_uuid<A: AsRef<OsStr>>(args: &[A]) -> Option<String> {
    let mut args = args.iter();
    args.by_ref().find(|a| a.as_ref() == "-uuid")?;
    Some(args.next()?.as_ref().to_string_lossy().into_owned())
}

/// Which QEMU guest: by name, or (when the UUID is known) by UUID, the
/// identity that a same-named domain of someone else's does not share.
#[derive(Clone, Copy, Debug)]
pub struct Guest<'a> {
    pub name: &'a str,
    pub uuid: Option<&'a str>,
}

impl Guest<'_> {
    fn matches<A: AsRef<OsStr>>(&self, args: &[A]) -> bool {
        if guest_name(args).is_none() {
            return false; // not a QEMU at all
        }
        match self.uuid {
            Some(u) => guest_uuid(args).is_some_and(|g| g.eq_ignore_ascii_case(u)),
            None => guest_name(args).is_some_and(|n| n == self.name),
        }
    }
}

/// PIDs of QEMU processes running the guest `name`.
pub fn pids(name: &str) -> Vec<i32> {
    pids_of(Guest { name, uuid: None })
}

/// PIDs of QEMU processes running `guest`.
pub fn pids_of(guest: Guest) -> Vec<i32> {
    procfs::all()
        .filter(|p| guest.matches(&p.cmdline()))
        .map(|p| p.pid())
        .collect()
}

/// Send `signal` to `pid`; a process gone meanwhile is no error.
fn signal(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = process::kill_process(pid, signal);
    }
}

/// End the guest's QEMU processes: SIGTERM, then SIGKILL after `grace` or
/// at the deadline. True when none is left.
pub fn kill(guest: Guest, grace: Duration, dl: &Deadline) -> bool {
    let name = guest.name;
    let pids = || pids_of(guest);
    let found = pids();
    if found.is_empty() {
        return true;
    }
    for pid in &found {
        ocf::warn!("sending SIGTERM to QEMU process {pid} of {name}");
        signal(*pid, Signal::TERM);
    }
    let term = dl.cap(grace);
    if term
        .poll(Duration::from_millis(100), || {
            pids().is_empty().then_some(())
        })
        .is_some()
    {
        return true;
    }
    for pid in pids() {
        ocf::warn!("sending SIGKILL to QEMU process {pid} of {name}");
        signal(pid, Signal::KILL);
    }
    dl.poll(Duration::from_millis(100), || {
        pids().is_empty().then_some(())
    })
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv<'a>(a: &[&'a str]) -> Vec<&'a str> {
        a.to_vec()
    }

    #[test]
    fn names_from_command_lines() {
        let modern = argv(&[
            "/usr/bin/qemu-system-x86_64",
            "-name",
            "guest=vma-a,,b'\"c,debug-threads=on",
            "-S",
        ]);
        assert_eq!(guest_name(&modern).as_deref(), Some("vma-a,b'\"c"));
        let old = argv(&["qemu-kvm", "-name", "web1,process=qemu:web1"]);
        assert_eq!(guest_name(&old).as_deref(), Some("web1"));
        assert_eq!(guest_name(&argv(&["/bin/sleep", "-name", "guest=x"])), None);
        assert_eq!(guest_name(&argv(&["qemu-system-x86_64", "-m", "64"])), None);
    }

    #[test]
    fn uuid_identifies_the_guest() {
        let cmd = argv(&[
            "/usr/bin/qemu-system-x86_64",
            "-name",
            "guest=vma-a,debug-threads=on",
            "-uuid",
            "818f08a3-3569-4c5e-ae90-bc9291dc0e9f",
        ]);
        assert_eq!(
            guest_uuid(&cmd).as_deref(),
            Some("818f08a3-3569-4c5e-ae90-bc9291dc0e9f")
        );
        let ours = Guest {
            name: "vma-a",
            uuid: Some("818F08A3-3569-4C5E-AE90-BC9291DC0E9F"),
        };
        assert!(ours.matches(&cmd));
        let theirs = Guest {
            name: "vma-a",
            uuid: Some("00000000-3569-4c5e-ae90-bc9291dc0e9f"),
        };
        assert!(!theirs.matches(&cmd), "same name, another UUID: not ours");
        assert!(
            Guest {
                name: "vma-a",
                uuid: None
            }
            .matches(&cmd)
        );
        assert!(
            !Guest {
                name: "vma-a",
                uuid: None
            }
            .matches(&argv(&["/bin/sleep", "-uuid", "x"]))
        );
    }

    #[test]
    fn no_process_means_nothing_to_kill() {
        assert!(pids("vma-surely-not-running-here").is_empty());
        assert!(kill(
            Guest {
                name: "vma-surely-not-running-here",
                uuid: None
            },
            Duration::from_millis(10),
            &Deadline::after(Duration::from_secs(1))
        ));
    }
}
