//! The server's processes as the kernel sees them: pid files, liveness,
//! identity, service users, and launching the server detached.
//!
//! A pid file alone lies after a crash (the PID may be reused), so a process
//! counts as the server only if it is alive (not a zombie: PID 1 may not reap
//! on every machine), runs a binary of the engine's names and works in the
//! data directory (both PostgreSQL and MariaDB chdir there).

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The first line of a pid file as a PID (PostgreSQL's postmaster.pid has
/// more lines after it). `None` when missing or not a positive number.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    let text = fs::read_to_string(path).ok()?;
    parse_pid(&text)
}

pub fn parse_pid(text: &str) -> Option<i32> {
    text.lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
}

/// The fields of /proc/<pid>/stat after the command name: index 0 is the
/// state (field 3), 1 the parent (field 4), 19 the start time (field 22).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": comm may contain spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// The state letter from /proc/<pid>/stat (R, S, D, T, Z, ...).
pub fn state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// The parent's PID.
pub fn ppid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// When the process started, in clock ticks after boot (field 22 of
/// /proc/<pid>/stat): with the PID, it names one process for the whole
/// uptime, so a recycled PID is never mistaken for the server.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The process's arguments (argv as the process shows it now).
pub fn cmdline(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Device and inode of a directory: what a process's working directory is
/// compared with, so a renamed data directory is still recognised and
/// another directory at the same path is not.
pub fn dir_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

/// Device and inode of a process's working directory.
pub fn cwd_id(pid: i32) -> Option<(u64, u64)> {
    dir_id(Path::new(&format!("/proc/{pid}/cwd")))
}

/// Alive: exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The file name of the program a process runs (" (deleted)" stripped, so
/// a server whose package was upgraded underneath still counts).
pub fn exe_name(pid: i32) -> Option<String> {
    let link = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = link.to_string_lossy();
    let s = s.strip_suffix(" (deleted)").unwrap_or(&s);
    Path::new(s)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

pub fn cwd(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// How a server process is recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Program file names that count (e.g. postgres, postmaster).
    pub names: Vec<String>,
    /// The data directory (for messages).
    pub datadir: PathBuf,
    /// Device and inode of the data directory, when it exists: a process
    /// counts only if it works there (PostgreSQL and MariaDB chdir to it).
    pub dir: Option<(u64, u64)>,
}

impl Identity {
    pub fn new(names: Vec<String>, datadir: &Path) -> Identity {
        Identity {
            names,
            datadir: datadir.to_path_buf(),
            dir: dir_id(datadir),
        }
    }

    pub fn matches(&self, pid: i32) -> bool {
        self.dir.is_some()
            && alive(pid)
            && exe_name(pid).is_some_and(|n| self.names.contains(&n))
            && cwd_id(pid) == self.dir
    }

    /// Every live process of this server (postmaster and backends, or
    /// mariadbd), found by a /proc scan.
    pub fn all_processes(&self) -> Vec<i32> {
        if self.dir.is_none() {
            return vec![];
        }
        let me = std::process::id() as i32;
        all_pids()
            .into_iter()
            .filter(|&pid| pid != me && self.matches(pid))
            .collect()
    }
}

/// Every PID in /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: plain syscall.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// A service user: ids, supplementary groups, home.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Look up a user (and optionally a group name overriding its primary
/// group) through NSS, like `id` would. No fork.
pub fn lookup_user(name: &str, group: Option<&str>) -> Result<User, String> {
    let cname = CString::new(name).map_err(|_| format!("bad user name {name:?}"))?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is plain data; getpwnam_r fills it and points into buf.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    if rc != 0 || res.is_null() {
        return Err(format!("user {name} does not exist on this node"));
    }
    let uid = pw.pw_uid;
    let mut gid = pw.pw_gid;
    if let Some(g) = group {
        gid = lookup_group(g)?;
    }
    let mut groups = vec![0 as libc::gid_t; 256];
    let mut n = groups.len() as libc::c_int;
    // SAFETY: groups has room for n entries; getgrouplist updates n.
    let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
    groups.truncate(if rc < 0 { 0 } else { n as usize });
    if !groups.contains(&gid) {
        groups.push(gid);
    }
    Ok(User {
        name: name.to_string(),
        uid,
        gid,
        groups,
    })
}

fn lookup_group(name: &str) -> Result<u32, String> {
    let cname = CString::new(name).map_err(|_| format!("bad group name {name:?}"))?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in lookup_user.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::group = std::ptr::null_mut();
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    if rc != 0 || res.is_null() {
        return Err(format!("group {name} does not exist on this node"));
    }
    Ok(gr.gr_gid)
}

/// Start `argv` as `user`, detached: its own session, stdin from /dev/null,
/// stdout and stderr appended to `log` (or /dev/null), a clean environment.
/// Nothing of ours stays open in it, so no caller waits on a pipe the
/// server holds. The ids are dropped with raw syscalls between fork and
/// exec (no NSS lookups there: the groups were resolved before the fork).
pub fn spawn_detached(argv: &[String], user: &User, log: Option<&Path>) -> io::Result<Child> {
    let out = match log {
        Some(p) => {
            let f = fs::OpenOptions::new().create(true).append(true).open(p)?;
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))?;
            f
        }
        None => fs::OpenOptions::new().write(true).open("/dev/null")?,
    };
    let err = out.try_clone()?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LC_ALL", "C")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let (uid, gid, groups) = (user.uid, user.gid, user.groups.clone());
    // SAFETY: only async-signal-safe syscalls run in the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0
                || libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Make `dir` (and missing parents) exist, owned by the user with `mode`.
pub fn ensure_dir(dir: &Path, user: &User, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// The line of a log file's tail that best says why a server died (the
/// last FATAL/PANIC/ERROR line, else the last line), for an exit reason.
pub fn last_log_line(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut s = String::new();
    f.take(4096).read_to_string(&mut s).ok()?;
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let bad = |l: &&&str| {
        ["FATAL", "PANIC", "[ERROR]", "ERROR:"]
            .iter()
            .any(|w| l.contains(w))
    };
    lines
        .iter()
        .rev()
        .find(bad)
        .or(lines.last())
        .map(|l| l.trim().chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files() {
        assert_eq!(parse_pid("1234\n/var/lib/pg\n"), Some(1234));
        assert_eq!(parse_pid(" 77 "), Some(77));
        assert_eq!(parse_pid("-5"), None);
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("abc"), None);
    }

    #[test]
    fn this_process_is_alive_and_known() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(exe_name(me).is_some());
        assert_eq!(cwd(me), std::env::current_dir().ok());
        let cwd = std::env::current_dir().unwrap();
        let mine = exe_name(me).unwrap();
        let id = Identity::new(vec!["no-such-server".into()], &cwd);
        assert!(!id.matches(me), "another program");
        let id = Identity::new(vec![mine.clone()], &cwd);
        assert!(id.matches(me), "this program in this directory");
        let id = Identity::new(vec![mine.clone()], Path::new("/proc"));
        assert!(!id.matches(me), "another directory");
        let id = Identity::new(vec![mine], Path::new("/nonexistent/dba"));
        assert!(
            !id.matches(me),
            "a directory that does not exist matches nothing"
        );
        assert!(!alive(i32::MAX));
        // The start time is fixed for the life of a process.
        let t = start_time(me).unwrap();
        assert!(t > 0);
        assert_eq!(start_time(me), Some(t));
        assert_eq!(ppid(me), Some(std::os::unix::process::parent_id() as i32));
        assert!(!cmdline(me).is_empty());
        assert_eq!(start_time(i32::MAX), None);
    }

    #[test]
    fn users_resolve() {
        let root = lookup_user("root", None).unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert!(lookup_user("dba-no-such-user", None).is_err());
        assert!(lookup_user("root", Some("dba-no-such-group")).is_err());
    }

    #[test]
    fn the_telling_log_line_is_quoted() {
        let f = std::env::temp_dir().join(format!("dba-unit-log-{}", std::process::id()));
        fs::write(
            &f,
            "LOG: starting\nFATAL:  could not bind: Address in use\nLOG: shut down\n\n",
        )
        .unwrap();
        assert_eq!(
            last_log_line(&f).unwrap(),
            "FATAL:  could not bind: Address in use"
        );
        fs::write(&f, "one\ntwo\n").unwrap();
        assert_eq!(last_log_line(&f).unwrap(), "two");
        fs::remove_file(&f).unwrap();
    }
}
