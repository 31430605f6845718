//! Processes as `/proc` shows them: the one place the agents read them
//! from (who holds a mount, which server a pid file names, which QEMU runs a
//! domain, who keeps a network namespace).
//!
//! Paths stay bytes (`OsString`/`PathBuf`): a directory whose name is not
//! UTF-8 is still compared exactly. A pid alone names nothing for long (it
//! is recycled); with its start time it names one process for the whole
//! uptime ([`Stat::start_time`]).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// One process (which may have exited since it was listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    pid: i32,
    dir: PathBuf,
}

/// What `/proc/<pid>/stat` says, past the command name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The command name (`comm`, at most 15 bytes; may hold spaces and `)`).
    pub comm: OsString,
    /// R, S, D, T, Z, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// Clock ticks after boot when the process started (field 22).
    pub start_time: u64,
}

/// Every process `/proc` lists now.
pub fn all() -> impl Iterator<Item = Proc> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| pid_of(&e.file_name()).map(Proc::new))
}

/// `/proc/<pid>`: the process, whether or not it still exists.
pub fn get(pid: i32) -> Proc {
    Proc::new(pid)
}

/// Our own process.
pub fn myself() -> Proc {
    Proc::new(std::process::id() as i32)
}

fn pid_of(name: &OsStr) -> Option<i32> {
    let b = name.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl Proc {
    fn new(pid: i32) -> Proc {
        Proc {
            pid,
            dir: PathBuf::from(format!("/proc/{pid}")),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// `/proc/<pid>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stat(&self) -> Option<Stat> {
        parse_stat(&fs::read(self.dir.join("stat")).ok()?)
    }

    /// Alive and not a zombie (PID 1 does not reap on every machine).
    pub fn alive(&self) -> bool {
        self.stat()
            .is_some_and(|s| s.state != 'Z' && s.state != 'X')
    }

    /// The arguments as the process shows them now.
    pub fn cmdline(&self) -> Vec<OsString> {
        fs::read(self.dir.join("cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| OsString::from_vec(a.to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The command name (`/proc/<pid>/comm` without its newline).
    pub fn comm(&self) -> Option<OsString> {
        let mut b = fs::read(self.dir.join("comm")).ok()?;
        if b.last() == Some(&b'\n') {
            b.pop();
        }
        Some(OsString::from_vec(b))
    }

    pub fn exe(&self) -> Option<PathBuf> {
        fs::read_link(self.dir.join("exe")).ok()
    }

    pub fn cwd(&self) -> Option<PathBuf> {
        fs::read_link(self.dir.join("cwd")).ok()
    }

    pub fn root(&self) -> Option<PathBuf> {
        fs::read_link(self.dir.join("root")).ok()
    }

    /// The namespace of `kind` (`mnt`, `net`, `pid`, ...) as its nsfs inode.
    pub fn namespace(&self, kind: &str) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(self.dir.join("ns").join(kind))
            .ok()
            .map(|m| m.ino())
    }

    /// Each open file descriptor and where it points (sockets and pipes
    /// as the kernel names them: `socket:[N]`).
    pub fn fd_targets(&self) -> Vec<(i32, PathBuf)> {
        let mut out: Vec<(i32, PathBuf)> = fs::read_dir(self.dir.join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let fd = e.file_name().to_str()?.parse().ok()?;
                Some((fd, fs::read_link(e.path()).ok()?))
            })
            .collect();
        out.sort();
        out
    }

    /// The files mapped into the process: through `map_files` (exact, but
    /// root only), else the path field of `/proc/<pid>/maps`.
    pub fn mapped_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = match fs::read_dir(self.dir.join("map_files")) {
            Ok(dir) => dir
                .flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .collect(),
            Err(_) => fs::read(self.dir.join("maps"))
                .map(|t| t.split(|&b| b == b'\n').filter_map(maps_path).collect())
                .unwrap_or_default(),
        };
        out.sort();
        out.dedup();
        out
    }
}

/// The path of one `/proc/<pid>/maps` line: the sixth field, which runs to
/// the end of the line and may hold spaces; only when it is a path (not
/// `[heap]`, `[anon:...]` or empty).
pub fn maps_path(line: &[u8]) -> Option<PathBuf> {
    let mut rest = line;
    for _ in 0..5 {
        let sp = rest.iter().position(|&b| b == b' ')?;
        rest = &rest[sp..];
        let field = rest.iter().position(|&b| b != b' ')?;
        rest = &rest[field..];
    }
    rest.starts_with(b"/")
        .then(|| PathBuf::from(OsStr::from_bytes(rest)))
}

/// Parse `/proc/<pid>/stat`: "pid (comm) S ppid pgrp session ..."; the
/// command name may hold spaces and parentheses, so it ends at the last `)`.
pub fn parse_stat(raw: &[u8]) -> Option<Stat> {
    let open = raw.iter().position(|&b| b == b'(')?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = OsString::from_vec(raw[open + 1..close].to_vec());
    let rest = std::str::from_utf8(raw.get(close + 1..)?).ok()?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    Some(Stat {
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        start_time: f.get(19)?.parse().ok()?,
    })
}

/// Is `path` (as `/proc` shows a cwd, an fd or a mapping) `dir` itself or
/// inside it? Byte-exact: `/srv/data old` is not inside `/srv/data`; the
/// only suffix the kernel adds that still counts is exactly ` (deleted)`.
pub fn is_within(path: &Path, dir: &Path) -> bool {
    let whole = path.as_os_str().as_bytes();
    // A name that itself ends in " (deleted)" is compared as it is first.
    [Some(whole), whole.strip_suffix(b" (deleted)")]
        .into_iter()
        .flatten()
        .any(|p| within(p, dir))
}

fn within(p: &[u8], dir: &Path) -> bool {
    let d = dir.as_os_str().as_bytes();
    let d = if d.len() > 1 {
        d.strip_suffix(b"/").unwrap_or(d)
    } else {
        d
    };
    if d == b"/" {
        return p.starts_with(b"/");
    }
    p == d || (p.starts_with(d) && p.get(d.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_an_awkward_command_name() {
        let raw =
            b"4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3\n";
        let s = parse_stat(raw).unwrap();
        assert_eq!(s.comm, OsString::from("a) b (c"));
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.session, s.start_time),
            ('S', 1, 4242, 4242, 987654)
        );
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 x) S"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn our_own_process() {
        let me = myself();
        let st = me.stat().unwrap();
        assert!(me.alive());
        assert_eq!(st.ppid, std::os::unix::process::parent_id() as i32);
        assert!(!me.cmdline().is_empty());
        assert!(me.exe().is_some() && me.cwd().is_some());
        assert!(me.namespace("mnt").is_some());
        assert!(all().any(|p| p.pid() == me.pid()));
        assert!(!get(i32::MAX).alive());
    }

    #[test]
    fn within_is_byte_exact() {
        let d = Path::new("/srv/data");
        for (p, yes) in [
            ("/srv/data", true),
            ("/srv/data/x", true),
            ("/srv/data (deleted)", true),
            ("/srv/data/x (deleted)", true),
            ("/srv/data old", false),
            ("/srv/data old/x", false),
            ("/srv/database", false),
            ("/srv", false),
            ("/srv/data (deleted) x", false),
        ] {
            assert_eq!(is_within(Path::new(p), d), yes, "{p}");
        }
        assert!(is_within(Path::new("/srv/data/x"), Path::new("/srv/data/")));
        let odd = PathBuf::from(OsStr::from_bytes(b"/srv/\xff\xfe"));
        assert!(is_within(&odd.join("f"), &odd));
        assert!(!is_within(Path::new("/srv/\u{fffd}\u{fffd}/f"), &odd));
        // a directory whose own name ends in " (deleted)"
        let dd = Path::new("/srv/x (deleted)");
        assert!(is_within(dd, dd));
        assert!(is_within(Path::new("/srv/x (deleted)/f"), dd));
        assert!(is_within(Path::new("/srv/x (deleted) (deleted)"), dd));
    }

    #[test]
    fn maps_lines() {
        let l = b"7f00-7f01 r-xp 00000000 08:01 1234                       /usr/lib/a b.so";
        assert_eq!(maps_path(l), Some(PathBuf::from("/usr/lib/a b.so")));
        assert_eq!(
            maps_path(b"7f00-7f01 rw-p 00000000 00:00 0 [anon:/x]"),
            None
        );
        assert_eq!(maps_path(b"7f00-7f01 rw-p 00000000 00:00 0"), None);
        assert_eq!(maps_path(b"garbage"), None);
        assert!(!myself().mapped_files().is_empty());
        assert!(myself().fd_targets().iter().any(|(fd, _)| *fd == 0));
    }
}
