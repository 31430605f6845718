//! Who keeps a mount busy: a scan of `/proc/<pid>/{cwd,root,exe,fd/*,
//! map_files/*}` with readlink only. readlink never stats the target, so a
//! hung mount elsewhere (dead NFS, stopped FUSE daemon) cannot block the
//! scan, unlike `fuser -m` (RA#423). `map_files` also catches mmapped files
//! whose descriptors were closed (the qemu-on-OCFS2 case, RA#1426).
//!
//! Matching is by path prefix of the mount's *own* directory, never of a
//! bind mount's source (RA#1304), and `/` is never a prefix we kill for.
//! Processes are read through `ocf::procfs`, paths compared as bytes.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ocf::procfs::{self, Proc};

/// A process that holds something under the mount, and the first thing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub comm: String,
    /// e.g. `cwd /mnt/x/sub`, `fd 3 /mnt/x/file`, `map /mnt/x/lib.so`.
    pub what: String,
    /// Why it must never be signalled, if it must not: ours, an ancestor
    /// or a child of ours, init, a daemon of the cluster stack.
    pub protected: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}): {}", self.pid, self.comm, self.what)
    }
}

/// The only text the kernel appends to a path in a `/proc` link or in
/// `maps`: the file or directory was removed.
const DELETED: &[u8] = b" (deleted)";

/// Does the link text `target` name `dir` or something below it? Bytes,
/// component-wise (`ocf::procfs::is_within`): `/mnt/ab` is not below
/// `/mnt/a`, and neither is `/mnt/a old` (a sibling with a space in its
/// name); only the exact ` (deleted)` suffix may follow. Never for `/`.
pub fn link_is_within(target: &[u8], dir: &Path) -> bool {
    let d = dir.as_os_str().as_bytes();
    let d = d.strip_suffix(b"/").filter(|d| !d.is_empty()).unwrap_or(d);
    if d.is_empty() || d == b"/" {
        return false;
    }
    // A directory whose own name ends in " (deleted)" is itself too.
    target == d || procfs::is_within(Path::new(OsStr::from_bytes(target)), dir)
}

fn bytes(p: std::path::PathBuf) -> Vec<u8> {
    p.into_os_string().into_encoded_bytes()
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
    procfs::get(pid).stat().map(|s| s.ppid)
}

/// The real and effective uid in the text of `/proc/<pid>/status`.
pub fn status_uids(status: &[u8]) -> Option<(u32, u32)> {
    let line = status
        .split(|&c| c == b'\n')
        .find_map(|l| l.strip_prefix(b"Uid:"))?;
    let mut ids = line
        .split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .map(|f| std::str::from_utf8(f).ok()?.parse::<u32>().ok());
    Some((ids.next()??, ids.next()??))
}

fn comm(p: &Proc) -> String {
    p.comm()
        .map(|c| String::from_utf8_lossy(c.as_bytes().trim_ascii_end()).into_owned())
        .unwrap_or_else(|| "?".into())
}

/// Is `name` (a program's file name, or its 15-character comm) a daemon of
/// the cluster stack: Corosync, Pacemaker (current and pre-2.0 names), sbd,
/// the DLM and lock daemons that cluster filesystems and LVM need, booth?
/// Signalling any of them takes the node out of the cluster or fences it.
pub fn is_cluster_daemon_name(name: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"corosync",
        b"pacemakerd",
        b"sbd",
        b"dlm_controld",
        b"gfs_controld",
        b"lvmlockd",
        b"clvmd",
        b"cmirrord",
        b"booth",
        b"boothd",
        b"crmd",
        b"lrmd",
        b"stonithd",
        b"cib",
        b"attrd",
        b"pengine",
        b"pcsd",
    ];
    const PREFIX: &[&[u8]] = &[
        b"corosync-",
        b"pacemaker-",
        b"pacemaker_",
        b"ocfs2_controld",
    ];
    EXACT.contains(&name) || PREFIX.iter().any(|p| name.starts_with(p))
}

/// The uid the Pacemaker daemons that do not run as root run as (through
/// NSS: the account may come from LDAP rather than /etc/passwd).
fn hacluster_uid() -> Option<u32> {
    ocf::user::uid("hacluster")
}

/// What decides whether a holder may be signalled, gathered once per scan.
pub struct Guard {
    /// Ourselves, init, our ancestors.
    pids: Vec<i32>,
    me: i32,
    cluster_uids: Vec<u32>,
}

impl Guard {
    pub fn new() -> Guard {
        let mut cluster_uids = vec![0];
        cluster_uids.extend(hacluster_uid());
        Guard {
            pids: protected_pids(),
            me: std::process::id() as i32,
            cluster_uids,
        }
    }

    /// Why `pid` must never be signalled, if it must not. A cluster daemon
    /// counts only when it runs as root or hacluster: anyone can name a
    /// program `corosync`, and such a name must not make a user's process
    /// unkillable (and the stop fail, and the node fenced).
    pub fn reason(&self, pid: i32, comm: &str) -> Option<String> {
        if pid == self.me {
            return Some("this agent".into());
        }
        if pid == 1 {
            return Some("init".into());
        }
        if self.pids.contains(&pid) {
            return Some("an ancestor of this agent (pacemaker-execd or the caller)".into());
        }
        if self.is_descendant(pid) {
            return Some("a child of this agent".into());
        }
        let p = procfs::get(pid);
        let exe = p.exe().map(bytes).map(|t| {
            let t = t.strip_suffix(DELETED).unwrap_or(&t);
            t.rsplit(|&c| c == b'/').next().unwrap_or(&[]).to_vec()
        });
        let named = exe.as_deref().is_some_and(is_cluster_daemon_name)
            || is_cluster_daemon_name(comm.as_bytes());
        if named {
            let uids = fs::read(p.dir().join("status"))
                .ok()
                .and_then(|s| status_uids(&s));
            // Unreadable: assume the worst, it may be the cluster's.
            let theirs = uids.is_none_or(|(r, e)| {
                self.cluster_uids.contains(&r) || self.cluster_uids.contains(&e)
            });
            if theirs {
                return Some("a daemon of the cluster stack".into());
            }
        }
        None
    }

    fn is_descendant(&self, pid: i32) -> bool {
        let mut cur = pid;
        for _ in 0..64 {
            match parent_of(cur) {
                Some(p) if p == self.me => return true,
                Some(p) if p > 1 && p != cur => cur = p,
                _ => return false,
            }
        }
        false
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

/// What of `p` lies within `dir`, if anything. The fd number is read
/// with each link (the log names it), so the fd and map_files directories
/// are read here, below the process's `/proc` directory.
fn holds(p: &Proc, dir: &Path) -> Option<String> {
    for (name, link) in [("cwd", p.cwd()), ("root", p.root()), ("exe", p.exe())] {
        if let Some(t) = link.map(bytes)
            && link_is_within(&t, dir)
        {
            return Some(format!("{name} {}", String::from_utf8_lossy(&t)));
        }
    }
    for (sub, label) in [("fd", "fd"), ("map_files", "map")] {
        let entries = match fs::read_dir(p.dir().join(sub)) {
            Ok(e) => e,
            // map_files needs CAP_SYS_ADMIN (missing in some containers):
            // the text of maps names the same files.
            Err(_) if label == "map" => return mapped_in_maps(p.dir(), dir),
            Err(_) => continue,
        };
        for e in entries.flatten() {
            if let Ok(t) = fs::read_link(e.path()).map(bytes)
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

/// The path of one line of `/proc/<pid>/maps`: the sixth field, which runs
/// to the end of the line and may itself contain spaces. `None` for an
/// anonymous mapping (`[heap]`, nothing) or a malformed line.
pub fn maps_path(line: &[u8]) -> Option<&[u8]> {
    let mut rest = line;
    for _ in 0..5 {
        let sp = rest.iter().position(|&c| c == b' ')?;
        rest = &rest[sp + 1..];
    }
    let start = rest.iter().position(|&c| c != b' ')?;
    let path = &rest[start..];
    path.starts_with(b"/").then_some(path)
}

/// A file under `dir` in `/proc/<pid>/maps` (the fallback for map_files).
fn mapped_in_maps(proc_dir: &Path, dir: &Path) -> Option<String> {
    let text = fs::read(proc_dir.join("maps")).ok()?;
    text.split(|&b| b == b'\n').find_map(|line| {
        let path = maps_path(line)?;
        link_is_within(path, dir).then(|| format!("map {}", String::from_utf8_lossy(path)))
    })
}

/// Every process in our mount namespace that holds something within `dir`,
/// each with what protects it from signals, if anything. Processes in other
/// mount namespaces hold other copies of the mount and cannot make our
/// umount fail with EBUSY, so they are left alone.
pub fn scan(dir: &Path, guard: &Guard) -> Vec<Holder> {
    if dir.as_os_str().is_empty() || dir == Path::new("/") {
        return Vec::new();
    }
    let me = procfs::myself();
    let our_ns = me.namespace("mnt");
    let mut out = Vec::new();
    for p in procfs::all() {
        if p.pid() == me.pid() {
            continue;
        }
        if our_ns.is_some() && p.namespace("mnt") != our_ns {
            continue;
        }
        if let Some(what) = holds(&p, dir) {
            let comm = comm(&p);
            out.push(Holder {
                pid: p.pid(),
                protected: guard.reason(p.pid(), &comm),
                comm,
                what,
            });
        }
    }
    out.sort_by_key(|h| h.pid);
    out
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
            let f = fs::read(e.path().join("loop/backing_file")).ok()?;
            let f = f.strip_suffix(b"\n").unwrap_or(&f);
            link_is_within(f, dir)
                .then(|| format!("/dev/{name} (backed by {})", String::from_utf8_lossy(f)))
        })
        .collect();
    out.sort();
    out
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
        assert!(link_is_within(b"/mnt/a/f (deleted)", d));
        assert!(!link_is_within(b"/mnt/ab", d));
        assert!(!link_is_within(b"/mnt/a old", d), "a sibling with a space");
        assert!(!link_is_within(b"/mnt/a (deleted)x", d));
        assert!(!link_is_within(b"/mnt/a old (deleted)", d));
        assert!(link_is_within(
            b"/mnt/a\xff/x",
            Path::new(OsStr::from_bytes(b"/mnt/a\xff"))
        ));
        assert!(link_is_within(b"/mnt/a/f", Path::new("/mnt/a/")));
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
    fn proc_text_parsers_are_total() {
        // /proc/<pid>/stat is read by ocf::procfs.
        let stat_ppid = |s: &[u8]| procfs::parse_stat(s).map(|s| s.ppid);
        let tail = " 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3";
        assert_eq!(
            stat_ppid(format!("42 (a) b) c) S 7{tail}").as_bytes()),
            Some(7)
        );
        assert_eq!(
            stat_ppid(format!("42 (sleep) S 1{tail}").as_bytes()),
            Some(1)
        );
        assert_eq!(
            stat_ppid(b"1 (x)"),
            None,
            "nothing after the comm: no panic"
        );
        assert_eq!(stat_ppid(b"1 (x) "), None);
        assert_eq!(stat_ppid(b""), None);
        assert_eq!(
            status_uids(b"Name:\tsleep\nUid:\t1000\t0\t0\t0\nGid:\t0\n"),
            Some((1000, 0))
        );
        assert_eq!(status_uids(b"Uid:\t1\n"), None);
        assert_eq!(status_uids(b"Uid:"), None);
        assert_eq!(
            maps_path(b"7f00-7f01 r--p 00000000 07:03 12     /mnt/d/lib x.so (deleted)"),
            Some(&b"/mnt/d/lib x.so (deleted)"[..])
        );
        assert_eq!(maps_path(b"7f01-7f02 rw-p 00000000 00:00 0 "), None);
        assert_eq!(maps_path(b"7f01-7f02 rw-p 00000000 00:00 0   [heap]"), None);
        assert_eq!(maps_path(b"short /x"), None);
    }

    #[test]
    fn cluster_daemon_names() {
        for n in [
            &b"corosync"[..],
            b"pacemakerd",
            b"pacemaker-controld",
            b"pacemaker-contr",
            b"pacemaker-based",
            b"sbd",
            b"dlm_controld",
            b"corosync-qdevice",
            b"pacemaker_remoted",
        ] {
            assert!(is_cluster_daemon_name(n), "{}", String::from_utf8_lossy(n));
        }
        for n in [&b"sleep"[..], b"corosyncx", b"sbd2", b"postgres", b""] {
            assert!(!is_cluster_daemon_name(n), "{}", String::from_utf8_lossy(n));
        }
        let g = Guard::new();
        assert!(g.reason(1, "init").is_some());
        assert!(g.reason(std::process::id() as i32, "x").is_some());
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
        let found = scan(&dir, &Guard::new());
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
        assert!(scan(Path::new("/"), &Guard::new()).is_empty());
        let prot = protected_pids();
        assert!(prot.contains(&1) && prot.contains(&(std::process::id() as i32)));
    }
}
