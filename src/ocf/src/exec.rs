//! Run an external tool by argv, with a deadline, in its own process group.
//!
//! Never a shell: the program and each argument are separate strings, so a
//! parameter value can never become syntax. The child leads a new process
//! group; when the deadline passes the whole group gets SIGKILL (a grandchild
//! holding our pipe dies with it), and once the child exits, stragglers left
//! in its group are killed so the pipes close. `PR_SET_PDEATHSIG` takes the
//! child down if we are killed ourselves. Output is captured, bounded, and
//! logged at debug level.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{self, Pid, Signal};

use crate::deadline::Deadline;

/// Most output kept per stream; the rest is read and dropped.
const MAX_CAPTURE: usize = 4 << 20;

/// Process groups of children still running, for the watchdog. Atomic
/// slots, not a lock: the watchdog reads them from a signal handler.
static CHILDREN: [AtomicI32; 32] = [const { AtomicI32::new(0) }; 32];

/// SIGKILL every child process group still running (the watchdog's last
/// act). Async-signal-safe: atomic loads and kill(2) only.
pub fn kill_all_children() {
    for slot in &CHILDREN {
        let pgid = slot.load(Ordering::SeqCst);
        if let Some(pgid) = Pid::from_raw(pgid) {
            // kill(2) is a plain system call: async-signal-safe.
            let _ = process::kill_process_group(pgid, Signal::KILL);
        }
    }
}

fn register(pgid: i32) {
    for slot in &CHILDREN {
        if slot
            .compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
    crate::warn!(
        "more than {} tools at once: the watchdog cannot track pgid {pgid}",
        CHILDREN.len()
    );
}

fn unregister(pgid: i32) {
    for slot in &CHILDREN {
        let _ = slot.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// A command line to run: program, arguments, environment, optional stdin.
#[derive(Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            cwd: None,
            uid: None,
            gid: None,
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }
    /// Bytes written to the child's stdin (the place for secrets: never argv).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(data.into());
        self
    }
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }
    /// Run as this user and group (set in the child before exec).
    pub fn user(mut self, uid: u32, gid: u32) -> Cmd {
        self.uid = Some(uid);
        self.gid = Some(gid);
        self
    }
    pub fn program(&self) -> &OsStr {
        &self.program
    }
}

/// The argv for logs, each word quoted only where needed.
/// The command line as shown (secrets masked), the environment's names
/// only, and how much stdin: a password goes there, never into `Debug`.
impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<_> = self.envs.iter().map(|(k, _)| k).collect();
        f.debug_struct("Cmd")
            .field("line", &self.to_string())
            .field("env", &env)
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("cwd", &self.cwd)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish()
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |w: &OsStr| {
            let s = w.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
            {
                s.into_owned()
            } else {
                format!("{s:?}")
            }
        };
        let mut line = word(&self.program);
        for a in &self.args {
            line.push(' ');
            line.push_str(&word(a));
        }
        // never a password in a log line or an exit reason
        f.write_str(&crate::secret::redact(&line))
    }
}

/// How a finished child ended, and what it printed.
#[derive(Clone, Debug)]
pub struct Output {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// One line for a log or an exit reason: how it ended and the start of stderr.
    pub fn describe(&self) -> String {
        let how = match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "unknown status".to_string(),
        };
        let err = self.stderr_str();
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        if first.is_empty() {
            how
        } else {
            format!("{how}: {first}")
        }
    }
}

/// Why a command did not produce an [`Output`].
#[derive(Debug)]
pub enum ExecError {
    /// The program was not found (or not executable).
    NotFound(String),
    /// Spawning or talking to the child failed.
    Io(String, io::Error),
    /// The deadline passed; the process group was killed.
    Timeout {
        command: String,
        elapsed: Duration,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotFound(p) => write!(f, "{p}: command not found"),
            ExecError::Io(c, e) => write!(f, "{c}: {e}"),
            ExecError::Timeout {
                command, elapsed, ..
            } => {
                write!(
                    f,
                    "{command}: no answer within {:.1}s, killed",
                    elapsed.as_secs_f64()
                )
            }
        }
    }
}

impl std::error::Error for ExecError {}

/// Run `cmd` to completion or until `deadline`, whichever comes first.
pub fn run(cmd: &Cmd, deadline: &Deadline) -> Result<Output, ExecError> {
    let shown = cmd.to_string();
    let started = Instant::now();
    if deadline.expired() {
        return Err(ExecError::Timeout {
            command: shown,
            elapsed: Duration::ZERO,
            stdout: vec![],
            stderr: vec![],
        });
    }
    crate::debug!(
        "running: {shown} (within {:.1}s)",
        deadline.remaining().as_secs_f64()
    );
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .env("LC_ALL", "C")
        .envs(cmd.envs.iter().map(|(k, v)| (k, v)))
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    if let Some(gid) = cmd.gid {
        command.gid(gid);
    }
    if let Some(uid) = cmd.uid {
        command.uid(uid);
    }
    // SAFETY: between fork and exec the closure only makes one system call
    // (prctl PR_SET_PDEATHSIG), which is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            process::set_parent_process_death_signal(Some(Signal::KILL))
                .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))
        });
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ExecError::NotFound(shown)),
        Err(e)
            if e.kind() == io::ErrorKind::PermissionDenied
                && !cmd.program.to_string_lossy().contains('/') =>
        {
            return Err(ExecError::NotFound(shown));
        }
        Err(e) => return Err(ExecError::Io(shown, e)),
    };
    let pgid = child.id() as i32;
    register(pgid);
    let result = supervise(&mut child, cmd.stdin.as_deref(), deadline, started);
    unregister(pgid);
    match result {
        Ok(out) => {
            crate::debug!(
                "{shown}: {} after {:.3}s",
                out.describe(),
                out.elapsed.as_secs_f64()
            );
            Ok(out)
        }
        Err(Supervised::Timeout(stdout, stderr)) => {
            crate::warn!(
                "{shown}: killed after {:.1}s (deadline)",
                started.elapsed().as_secs_f64()
            );
            Err(ExecError::Timeout {
                command: shown,
                elapsed: started.elapsed(),
                stdout,
                stderr,
            })
        }
        Err(Supervised::Io(e)) => Err(ExecError::Io(shown, e)),
    }
}

enum Supervised {
    Timeout(Vec<u8>, Vec<u8>),
    Io(io::Error),
}

/// SIGKILL a process group; one that is already gone (ESRCH) is fine.
fn killpg(pgid: i32) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = process::kill_process_group(pgid, Signal::KILL);
    }
}

/// A descriptor that becomes readable when the child exits.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    process::pidfd_open(Pid::from_raw(pid)?, process::PidfdFlags::empty()).ok()
}

fn set_nonblocking(fd: impl AsFd) {
    if let Ok(flags) = rustix::fs::fcntl_getfl(&fd) {
        let _ = rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
}

/// Read whatever is available without blocking; false at EOF.
fn drain(r: &mut impl Read, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn supervise(
    child: &mut Child,
    input: Option<&[u8]>,
    deadline: &Deadline,
    started: Instant,
) -> Result<Output, Supervised> {
    let pgid = child.id() as i32;
    if let (Some(mut stdin), Some(data)) = (child.stdin.take(), input) {
        // Small payloads (passwords, SQL) fit in the pipe buffer; a child
        // that never reads cannot block us past the deadline either way.
        set_nonblocking(&stdin);
        let _ = stdin.write_all(data);
    }
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    if let Some(o) = &out {
        set_nonblocking(o);
    }
    if let Some(e) = &err {
        set_nonblocking(e);
    }
    let pidfd = pidfd_open(pgid);
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let mut status = None;
    // After the leader exits, give stragglers' pipes at most this long to close.
    let mut drain_until: Option<Deadline> = None;

    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    killpg(pgid);
                    drain_until = Some(deadline.cap(Duration::from_millis(500)));
                }
                Ok(None) => {}
                Err(e) => return Err(Supervised::Io(e)),
            }
        }
        if status.is_some() && out.is_none() && err.is_none() {
            break;
        }
        let limit = drain_until.unwrap_or(*deadline);
        if limit.expired() {
            if status.is_some() {
                break; // something outside the group holds the pipe: stop reading
            }
            killpg(pgid);
            // Reap it, bounded: a child stuck in D state cannot be waited for.
            let reap = Deadline::after(Duration::from_secs(1));
            let _ = reap.poll(Duration::from_millis(10), || {
                child.try_wait().ok().flatten()
            });
            return Err(Supervised::Timeout(out_buf, err_buf));
        }
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
        if let Some(o) = &out {
            fds.push(PollFd::new(o, PollFlags::IN));
        }
        if let Some(e) = &err {
            fds.push(PollFd::new(e, PollFlags::IN));
        }
        if status.is_none()
            && let Some(p) = &pidfd
        {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        // Without a pidfd (old kernels) wake up often enough to notice the exit.
        let wait = if pidfd.is_none() && status.is_none() {
            limit.remaining().min(Duration::from_millis(20))
        } else {
            limit.remaining()
        };
        let ts = rustix::event::Timespec::try_from(wait.max(Duration::from_millis(1))).ok();
        let _ = rustix::event::poll(&mut fds, ts.as_ref());
        drop(fds);
        if let Some(o) = out.as_mut()
            && !drain(o, &mut out_buf)
        {
            out = None;
        }
        if let Some(e) = err.as_mut()
            && !drain(e, &mut err_buf)
        {
            err = None;
        }
    }
    let status = status.expect("loop exits only after the child was reaped");
    Ok(Output {
        code: status.code(),
        signal: status.signal(),
        stdout: out_buf,
        stderr: err_buf,
        elapsed: started.elapsed(),
    })
}

/// Run `work` in a child that goes on after the action returns (IPaddr2's
/// `arp_bg`): in its own session, its stdio on /dev/null (so Pacemaker's
/// pipes close when the agent exits: an action's end is not held up), and
/// bounded: the watchdog ends it at `bound` whatever `work` does. Returns
/// the child's pid; the agent does not wait for it.
pub fn detach(bound: Duration, work: impl FnOnce()) -> io::Result<i32> {
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: the agent runs no other thread when it forks (the watchdog
    // is a signal, not a thread), so no lock can be held by a thread that
    // does not exist in the child, and glibc's fork re-initialises malloc's
    // locks in the child. The child runs `work` and leaves with _exit
    // below, never returning into our caller.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let _ = process::setsid();
        let _ = rustix::stdio::dup2_stdin(&devnull);
        let _ = rustix::stdio::dup2_stdout(&devnull);
        let _ = rustix::stdio::dup2_stderr(&devnull);
        drop(devnull);
        // Timers are not inherited: the child arms its own.
        crate::deadline::arm_watchdog("detached work", bound, Instant::now() + bound);
        work();
        // SAFETY: _exit ends the child at once, without running the atexit
        // handlers and stdio flushes of the parent's state it inherited;
        // nothing after it runs.
        unsafe { libc::_exit(0) }
    }
    Ok(pid)
}

/// A program word as a path to run: itself when it names a path, else
/// where PATH has it (left as the bare name when PATH has none: running it
/// then fails and says so).
pub fn program_path(word: &str) -> PathBuf {
    if word.contains('/') {
        return PathBuf::from(word);
    }
    which(word).unwrap_or_else(|| PathBuf::from(word))
}

/// Find `program` on PATH (or check it when it is a path), as `have_binary`
/// does. Honours `OCF_TESTER_FAIL_HAVE_BINARY=1`: then nothing is installed.
pub fn which(program: &str) -> Option<PathBuf> {
    if std::env::var_os("OCF_TESTER_FAIL_HAVE_BINARY").is_some_and(|v| v == "1") {
        return None;
    }
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CIFS password in a mount command line never shows: not in the
    /// line we log, not in an exec timeout's exit reason, not in Debug.
    #[test]
    fn secrets_never_show_in_command_lines() {
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg("sleep 5")
            .arg("user=bob,password=hunter2")
            .env("PGPASSWORD", "hunter2")
            .stdin(b"hunter2".to_vec());
        assert_eq!(cmd.to_string(), "sh -c \"sleep 5\" user=bob,password=***");
        let dbg = format!("{cmd:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        let err = run(&cmd, &Deadline::after(Duration::from_millis(100))).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("password=***"), "{err}");
    }

    // Tests may use sh to build awkward children; product code never does.
    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").arg("-c").arg(script)
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn captures_output_and_code() {
        let out = run(
            &sh("echo out; echo err >&2; exit 3"),
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(out.stderr_str(), "err\n");
        assert_eq!(out.describe(), "exit code 3: err");
    }

    #[test]
    fn args_are_never_interpreted() {
        let out = run(
            &Cmd::new("echo").arg("$(id); rm -rf /").arg("a b"),
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(out.stdout_str(), "$(id); rm -rf / a b\n");
    }

    #[test]
    fn stdin_reaches_the_child() {
        let out = run(
            &Cmd::new("cat").stdin("secret\n"),
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(out.stdout_str(), "secret\n");
    }

    #[test]
    fn missing_program() {
        let e = run(
            &Cmd::new("/nonexistent/tool"),
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::NotFound(_)), "{e}");
        let e = run(
            &Cmd::new("no-such-tool-ocf-rs"),
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::NotFound(_)), "{e}");
    }

    /// The case Pacemaker and ocf-tester care about: a child that forks a
    /// grandchild which keeps our stdout pipe open and ignores SIGTERM.
    /// On expiry the whole group dies and we return promptly.
    #[test]
    fn timeout_kills_the_group_including_a_grandchild_holding_the_pipe() {
        let started = Instant::now();
        let cmd = sh(
            "trap '' TERM; (trap '' TERM; echo $$ >/dev/null; sleep 60) & echo grandchild=$!; sleep 60",
        );
        let e = run(&cmd, &Deadline::after(Duration::from_millis(700))).unwrap_err();
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        let ExecError::Timeout { stdout, .. } = e else {
            panic!("expected timeout, got {e}")
        };
        let text = String::from_utf8_lossy(&stdout);
        let gc: i32 = text
            .trim()
            .strip_prefix("grandchild=")
            .and_then(|p| p.parse().ok())
            .expect("grandchild pid");
        let gone = Deadline::after(Duration::from_secs(2))
            .poll(Duration::from_millis(20), || (!alive(gc)).then_some(()));
        assert!(gone.is_some(), "grandchild {gc} survived");
    }

    /// A leader that exits while a background child still holds the pipe:
    /// the straggler is killed and we do not wait for it.
    #[test]
    fn stragglers_after_exit_do_not_hold_us() {
        let started = Instant::now();
        let out = run(
            &sh("sleep 60 & echo bg=$!; exit 0"),
            &Deadline::after(Duration::from_secs(30)),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        assert!(out.success());
        let bg: i32 = out
            .stdout_str()
            .trim()
            .strip_prefix("bg=")
            .unwrap()
            .parse()
            .unwrap();
        let gone = Deadline::after(Duration::from_secs(2))
            .poll(Duration::from_millis(20), || (!alive(bg)).then_some(()));
        assert!(gone.is_some(), "background child {bg} survived");
    }

    #[test]
    fn expired_deadline_spawns_nothing() {
        let d = Deadline::after(Duration::ZERO);
        assert!(matches!(
            run(&Cmd::new("true"), &d),
            Err(ExecError::Timeout { .. })
        ));
    }

    #[test]
    fn large_output_is_read_while_running() {
        let out = run(
            &sh("head -c 300000 /dev/zero"),
            &Deadline::after(Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 300000);
    }

    #[test]
    fn which_finds_and_honours_the_tester_switch() {
        assert!(which("sh").is_some());
        assert!(which("/bin/sh").is_some());
        assert!(which("no-such-tool-ocf-rs").is_none());
    }

    #[test]
    fn display_quotes_only_when_needed() {
        let c = Cmd::new("crm_attribute")
            .arg("--name")
            .arg("a b")
            .arg("x=1");
        assert_eq!(c.to_string(), "crm_attribute --name \"a b\" x=1");
    }
}
