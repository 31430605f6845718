//! Who keeps a mount busy: a scan of `/proc/<pid>/{cwd,root,exe,fd/*,
//! map_files/*}` with readlink only. readlink never stats the target, so a
//! hung mount elsewhere (dead NFS, stopped FUSE daemon) cannot block the
//! scan, unlike `fuser -m` (RA#423). `map_files` also catches mmapped files
//! whose descriptors were closed (the qemu-on-OCFS2 case, RA#1426).
//!
//! Matching is by path prefix of the mount's *own* directory, never of a
//! bind mount's source (RA#1304), and `/` is never a prefix we kill for.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A process that holds something under the mount, and the first thing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub comm: String,
    /// e.g. `cwd /mnt/x/sub`, `fd 3 /mnt/x/file`, `map /mnt/x/lib.so`.
    pub what: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}): {}", self.pid, self.comm, self.what)
    }
}

/// Does the link text `target` name `dir` or something below it? Works on
/// bytes, so `/mnt/ab` is not below `/mnt/a`; a ` (deleted)` suffix still
/// matches.
pub fn link_is_within(target: &[u8], dir: &Path) -> bool {
    let d = dir.as_os_str().as_bytes();
    if d.is_empty() || d == b"/" {
        return false;
    }
    target.starts_with(d) && matches!(target.get(d.len()), None | Some(b'/') | Some(b' '))
}

fn readlink(p: &Path) -> Option<Vec<u8>> {
    fs::read_link(p)
        .ok()
        .map(|t| t.as_os_str().as_bytes().to_vec())
}

/// Pids we never signal: ourselves, init, and every ancestor of ours (a
/// shell or pacemaker-execd whose cwd happens to be inside the mount).
pub fn protected_pids() -> Vec<i32> {
    let mut out = vec![1, std::process::id() as i32];
    let mut pid = std::process::id() as i32;
    for _ in 0..64 {
        let Some(ppid) = parent_of(pid) else { break };
        if ppid <= 1 || out.contains(&ppid) {
            break;
        }
        out.push(ppid);
        pid = ppid;
    }
    out
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// What of `pid` lies within `dir`, if anything.
fn holds(proc_dir: &Path, dir: &Path) -> Option<String> {
    for name in ["cwd", "root", "exe"] {
        if let Some(t) = readlink(&proc_dir.join(name))
            && link_is_within(&t, dir)
        {
            return Some(format!("{name} {}", String::from_utf8_lossy(&t)));
        }
    }
    for (sub, label) in [("fd", "fd"), ("map_files", "map")] {
        let entries = match fs::read_dir(proc_dir.join(sub)) {
            Ok(e) => e,
            // map_files needs CAP_SYS_ADMIN (missing in some containers):
            // the text of maps names the same files.
            Err(_) if label == "map" => return mapped_in_maps(proc_dir, dir),
            Err(_) => continue,
        };
        for e in entries.flatten() {
            if let Some(t) = readlink(&e.path())
                && link_is_within(&t, dir)
            {
                let n = e.file_name();
                return Some(if label == "fd" {
                    format!("fd {} {}", n.to_string_lossy(), String::from_utf8_lossy(&t))
                } else {
                    format!("map {}", String::from_utf8_lossy(&t))
                });
            }
        }
    }
    None
}

/// A file under `dir` in `/proc/<pid>/maps` (the fallback for map_files).
fn mapped_in_maps(proc_dir: &Path, dir: &Path) -> Option<String> {
    let text = fs::read(proc_dir.join("maps")).ok()?;
    text.split(|&b| b == b'\n').find_map(|line| {
        // The path is the sixth field; it may itself contain spaces.
        let start = line.iter().position(|&b| b == b'/')?;
        let path = &line[start..];
        link_is_within(path, dir).then(|| format!("map {}", String::from_utf8_lossy(path)))
    })
}

/// Every process in our mount namespace that holds something within `dir`.
/// Processes in other mount namespaces hold other copies of the mount and
/// cannot make our umount fail with EBUSY, so they are left alone.
pub fn scan(dir: &Path) -> Vec<Holder> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") {
        return Vec::new();
    }
    let self_pid = std::process::id() as i32;
    let our_ns = readlink(Path::new("/proc/self/ns/mnt"));
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = pid_of(&e.file_name()) else {
            continue;
        };
        if pid == self_pid {
            continue;
        }
        let proc_dir = PathBuf::from("/proc").join(e.file_name());
        if our_ns.is_some() && readlink(&proc_dir.join("ns/mnt")) != our_ns {
            continue;
        }
        if let Some(what) = holds(&proc_dir, dir) {
            out.push(Holder {
                pid,
                comm: comm(pid),
                what,
            });
        }
    }
    out.sort_by_key(|h| h.pid);
    out
}

fn pid_of(name: &OsStr) -> Option<i32> {
    let b = name.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Loop devices whose backing file lies within `dir`: the kernel holds
/// those, no process does, so no signal can free the mount. Named in the
/// log so the user knows what to detach.
pub fn loop_devices_within(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                return None;
            }
            let f = fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let f = f.trim_end_matches('\n');
            link_is_within(f.as_bytes(), dir).then(|| format!("/dev/{name} (backed by {f})"))
        })
        .collect();
    out.sort();
    out
}

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

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ABRT", libc::SIGABRT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CONT", libc::SIGCONT),
];

fn signal_number(word: &str) -> Option<i32> {
    if let Ok(n) = word.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = word.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The name of a signal number, for logs.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, s)| *s == n)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| format!("signal {n}"))
}

/// Send `sig` to `pid`; false if it is already gone.
pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a plain pid and signal number.
    unsafe { libc::kill(pid, sig) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matching_is_by_component() {
        let d = Path::new("/mnt/a");
        assert!(link_is_within(b"/mnt/a", d));
        assert!(link_is_within(b"/mnt/a/f", d));
        assert!(link_is_within(b"/mnt/a (deleted)", d));
        assert!(!link_is_within(b"/mnt/ab", d));
        assert!(!link_is_within(b"/mnt", d));
        assert!(!link_is_within(b"socket:[123]", d));
        assert!(!link_is_within(b"/", Path::new("/")), "never for /");
        assert!(!link_is_within(b"/etc", Path::new("/")));
    }

    #[test]
    fn maps_fallback_finds_a_mapped_file() {
        let dir = std::env::temp_dir().join(format!("fsa-maps-{}", std::process::id()));
        fs::create_dir_all(dir.join("proc")).unwrap();
        fs::write(
            dir.join("proc/maps"),
            "7f00-7f01 r--p 00000000 07:03 12 /mnt/data/lib x.so (deleted)\n\
             7f01-7f02 r--p 00000000 00:00 0 [heap]\n",
        )
        .unwrap();
        let got = mapped_in_maps(&dir.join("proc"), Path::new("/mnt/data"));
        let none = mapped_in_maps(&dir.join("proc"), Path::new("/mnt/dat"));
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got.as_deref(), Some("map /mnt/data/lib x.so (deleted)"));
        assert_eq!(none, None);
    }

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
    }

    #[test]
    fn scan_finds_a_child_with_its_cwd_inside_and_spares_us() {
        let dir = std::env::temp_dir().join(format!("fsa-holders-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&dir)
            .spawn()
            .unwrap();
        let found = scan(&dir);
        let _ = child.kill();
        let _ = child.wait();
        let _ = fs::remove_dir_all(&dir);
        let h = found
            .iter()
            .find(|h| h.pid == child.id() as i32)
            .expect("the sleeping child");
        assert!(h.what.starts_with("cwd "), "{h}");
        assert_eq!(h.comm, "sleep");
        assert!(found.iter().all(|h| h.pid != std::process::id() as i32));
        assert!(scan(Path::new("/")).is_empty());
        let prot = protected_pids();
        assert!(prot.contains(&1) && prot.contains(&(std::process::id() as i32)));
    }
}
