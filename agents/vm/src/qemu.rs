//! The QEMU processes of a domain, found in `/proc` without libvirt: the
//! last word when libvirtd is down or hung. Monitor uses it to answer
//! "running, but the hypervisor is unreachable" (1, never 7: RA#1613) and
//! stop to prove a domain gone, or to end its emulator itself.
//!
//! libvirt starts QEMU with `-name guest=<name>,debug-threads=on` (commas in
//! the name doubled); older versions passed `-name <name>`.

use std::fs;
use std::time::Duration;

use ocf::Deadline;

/// The name a QEMU command line (NUL-separated argv) gives its guest.
pub fn guest_name(cmdline: &[u8]) -> Option<String> {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let prog = args.first()?;
    let base = prog.rsplit(|b| *b == b'/').next()?;
    if !base.windows(4).any(|w| w == b"qemu") {
        return None;
    }
    let pos = args.iter().position(|a| *a == b"-name")?;
    let value = String::from_utf8_lossy(args.get(pos + 1)?).into_owned();
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

/// PIDs of QEMU processes running the guest `name`.
pub fn pids(name: &str) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .and_then(|c| guest_name(&c))
                .is_some_and(|n| n == name)
        })
        .collect()
}

/// End the guest's QEMU processes: SIGTERM, then SIGKILL after `grace` or
/// at the deadline. True when none is left.
pub fn kill(name: &str, grace: Duration, dl: &Deadline) -> bool {
    let found = pids(name);
    if found.is_empty() {
        return true;
    }
    for pid in &found {
        ocf::warn!("sending SIGTERM to QEMU process {pid} of {name}");
        // SAFETY: a plain signal to a process we identified by its cmdline.
        unsafe { libc::kill(*pid, libc::SIGTERM) };
    }
    let term = dl.cap(grace);
    if term
        .poll(Duration::from_millis(100), || {
            pids(name).is_empty().then_some(())
        })
        .is_some()
    {
        return true;
    }
    for pid in pids(name) {
        ocf::warn!("sending SIGKILL to QEMU process {pid} of {name}");
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    dl.poll(Duration::from_millis(100), || {
        pids(name).is_empty().then_some(())
    })
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<u8> {
        a.join("\0").into_bytes()
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
    fn no_process_means_nothing_to_kill() {
        assert!(pids("vma-surely-not-running-here").is_empty());
        assert!(kill(
            "vma-surely-not-running-here",
            Duration::from_millis(10),
            &Deadline::after(Duration::from_secs(1))
        ));
    }
}
