//! The server's processes as the kernel sees them: pid files, liveness,
//! identity (through `ocf::procfs`), signals, and launching the server
//! detached as the service user ([`ocf::user`]).
//!
//! A pid file alone lies after a crash (the PID may be reused), so a process
//! counts as the server only if it is alive (not a zombie: PID 1 may not reap
//! on every machine), runs a binary of the engine's names and works in the
//! data directory (both PostgreSQL and MariaDB chdir there).

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ocf::procfs;
use rustix::fs::{Gid, OFlags, Uid};
use rustix::process::{Pid, Signal};

use ocf::user::User;

/// How much of a pid file is read: its first line is all we use.
const PID_FILE_LIMIT: u64 = 256;

/// The first line of a pid file as a PID (PostgreSQL's postmaster.pid has
/// more lines after it). `None` when missing or not a positive number, and
/// when it is not a regular file: the service user writes these files (or
/// their directory), and a link to /dev/zero or a FIFO must not exhaust or
/// hang monitor and stop (`ocf::files::read_regular`: no link, no
/// blocking, bounded). The process it names is checked on its own anyway.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    let bytes = ocf::files::read_regular(path, PID_FILE_LIMIT, None).ok()?;
    parse_pid(&String::from_utf8_lossy(&bytes))
}

pub fn parse_pid(text: &str) -> Option<i32> {
    text.lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
}

/// The state letter from /proc/<pid>/stat (R, S, D, T, Z, ...).
pub fn state(pid: i32) -> Option<char> {
    procfs::get(pid).stat().map(|s| s.state)
}

/// The parent's PID.
pub fn ppid(pid: i32) -> Option<i32> {
    procfs::get(pid).stat().map(|s| s.ppid)
}

/// When the process started, in clock ticks after boot (field 22 of
/// /proc/<pid>/stat): with the PID, it names one process for the whole
/// uptime, so a recycled PID is never mistaken for the server.
pub fn start_time(pid: i32) -> Option<u64> {
    procfs::get(pid).stat().map(|s| s.start_time)
}

/// The process's arguments (argv as the process shows it now).
pub fn cmdline(pid: i32) -> Vec<String> {
    procfs::get(pid)
        .cmdline()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
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
    dir_id(&procfs::get(pid).dir().join("cwd"))
}

/// Alive: exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    procfs::get(pid).alive()
}

/// The file name of the program a process runs (" (deleted)" stripped, so
/// a server whose package was upgraded underneath still counts).
pub fn exe_name(pid: i32) -> Option<String> {
    let link = procfs::get(pid).exe()?;
    let s = link.to_string_lossy();
    let s = s.strip_suffix(" (deleted)").unwrap_or(&s);
    Path::new(s)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

pub fn cwd(pid: i32) -> Option<PathBuf> {
    procfs::get(pid).cwd()
}

/// The file name a program runs under, once links are resolved (what
/// /proc/<pid>/exe shows).
pub fn program_name(binary: &Path) -> Option<String> {
    fs::canonicalize(binary)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// A regular file someone may execute.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
    procfs::all().map(|p| p.pid()).collect()
}

/// Send `sig`; false when the process is gone (or not ours to signal).
pub fn signal(pid: i32, sig: Signal) -> bool {
    Pid::from_raw(pid).is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

/// Open the server's output log for appending, as the service user will
/// own it: created new (mode 0640) and handed over with `fchown` on the
/// descriptor, or an existing regular file that user already owns, never
/// through a link (`ocf::files::open_append_for`). The user can write to
/// the log's directory, so a link planted there must not make root open,
/// and give away, another file (/etc/shadow).
pub fn open_log(path: &Path, user: &User) -> io::Result<fs::File> {
    ocf::files::open_append_for(path, user.uid, user.gid, 0o640)
}

/// Start `argv` as `user`, detached: its own session, stdin from /dev/null,
/// stdout and stderr appended to `log` (see [`open_log`]; else /dev/null),
/// a clean environment. Nothing of ours stays open in it, so no caller
/// waits on a pipe the server holds. The ids are dropped with raw syscalls
/// between fork and exec (no NSS lookups there: the groups were resolved
/// before the fork).
pub fn spawn_detached(argv: &[String], user: &User, log: Option<fs::File>) -> io::Result<Child> {
    let out = match log {
        Some(f) => f,
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
    let uid = Uid::from_raw(user.uid);
    let gid = Gid::from_raw(user.gid);
    let groups: Vec<Gid> = user.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    // SAFETY: the closure runs in the forked child before exec and makes
    // only raw system calls through rustix (setsid, setgroups, setgid,
    // setuid): no allocation, no lock, nothing that is not
    // async-signal-safe. The child has one thread, so the thread-level id
    // calls change the whole process.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setsid()?;
            rustix::thread::set_thread_groups(&groups)?;
            rustix::thread::set_thread_gid(gid)?;
            rustix::thread::set_thread_uid(uid)?;
            Ok(())
        });
    }
    cmd.spawn()
}

/// Make `dir` exist for the service user: an existing directory is left as
/// it is; missing ones are created one by one relative to the descriptor
/// of their parent (`mkdirat`, then opened with `O_NOFOLLOW`), the missing
/// ancestors root's (0755) and `dir` itself handed to the user with
/// `fchown`/`fchmod` on its descriptor. The user may write to the parent
/// (`/run/mysqld/...`): a link swapped in after the mkdir is never
/// followed, so no other directory is given away.
pub fn ensure_dir(dir: &Path, user: &User, mode: u32) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut base = dir;
    while !base.is_dir() {
        let (Some(name), Some(parent)) = (base.file_name(), base.parent()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no existing parent", dir.display()),
            ));
        };
        missing.push(name);
        base = parent;
    }
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    // The existing part is the administrator's path: links there are theirs.
    let mut fd = rustix::fs::open(base, dir_flags, Mode::empty())?;
    let last = missing.len() - 1;
    for (i, name) in missing.into_iter().rev().enumerate() {
        let created = match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return Err(e.into()),
        };
        let sub = rustix::fs::openat(&fd, name, dir_flags | OFlags::NOFOLLOW, Mode::empty())?;
        if created {
            if i == last {
                rustix::fs::fchown(
                    &sub,
                    Some(rustix::fs::Uid::from_raw(user.uid)),
                    Some(rustix::fs::Gid::from_raw(user.gid)),
                )?;
                rustix::fs::fchmod(&sub, Mode::from_raw_mode(mode))?;
            } else {
                rustix::fs::fchmod(&sub, Mode::from_raw_mode(0o755))?;
            }
        }
        fd = sub;
    }
    Ok(())
}

/// The line of a log file's tail that best says why a server died, for an
/// exit reason. Read only from a regular file the service user owns, never
/// through a link and never blocking (the user can swap the log for a link
/// to a secret of root's, or a FIFO, after start opened it).
pub fn last_log_line(path: &Path, owner: u32) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .ok()?;
    let m = f.metadata().ok()?;
    if !m.file_type().is_file() || m.uid() != owner {
        return None;
    }
    f.seek(SeekFrom::Start(m.len().saturating_sub(4096))).ok()?;
    let mut tail = Vec::new();
    f.take(4096).read_to_end(&mut tail).ok()?;
    // Bytes, then lossy: the seek may land inside a character.
    telling_line(&String::from_utf8_lossy(&tail))
}

/// The last FATAL/PANIC/ERROR line of a log's tail, else its last line,
/// trimmed to 300 characters and without control characters.
pub fn telling_line(tail: &str) -> Option<String> {
    let lines: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
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
        .map(|l| crate::conn::server_text(l.trim().as_bytes()))
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

    /// Missing directories are made one by one: the ancestors root's 0755,
    /// the last one the user's with its mode; what exists (a link too) is
    /// left as it is.
    #[test]
    fn directories_are_made_for_the_user_without_following_links() {
        use std::os::unix::fs::MetadataExt;
        let base = std::env::temp_dir().join(format!("dba-unit-mkdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let nobody = User {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            groups: vec![],
        };
        let deep = base.join("a/b/run");
        ensure_dir(&deep, &nobody, 0o2775).unwrap();
        let m = |p: &Path| fs::metadata(p).unwrap();
        assert_eq!((m(&deep).uid(), m(&deep).mode() & 0o7777), (65534, 0o2775));
        let a = base.join("a");
        assert_eq!((m(&a).uid(), m(&a).mode() & 0o7777), (0, 0o755));
        let elsewhere = base.join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        ensure_dir(&link, &nobody, 0o700).unwrap();
        assert_eq!(
            m(&elsewhere).uid(),
            0,
            "an existing directory is not given away"
        );
        fs::remove_dir_all(&base).unwrap();
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
            last_log_line(&f, 0).unwrap(),
            "FATAL:  could not bind: Address in use"
        );
        fs::write(&f, "one\ntwo\n").unwrap();
        assert_eq!(last_log_line(&f, 0).unwrap(), "two");
        assert_eq!(last_log_line(&f, 1).as_deref(), None, "another owner's");
        fs::remove_file(&f).unwrap();
    }
}
