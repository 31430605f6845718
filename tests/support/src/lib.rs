//! The test-support crate of the integration tests (`tests/it`): run the
//! real binary as an agent (through an argv[0] symlink, as Pacemaker does),
//! install it system-wide for the Pacemaker tools, drive the one-node and
//! the multi-node test clusters, and make the real parts each agent's tests
//! need (loop devices, network namespaces, database servers, guests, the
//! DRBD and xl simulators).

pub mod cluster;
pub mod database;
pub mod drbd;
pub mod filesystem;
pub mod guest;
pub mod ipaddr;
pub mod nscluster;
pub mod scenarios;
pub mod vm;
pub mod xen;

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary cargo built for this test run: `target/<profile>/ocf-rs`,
/// next to the `deps/` directory the test binary runs from (nextest also
/// says it in `NEXTEST_BIN_EXE_ocf-rs`).
pub fn bin() -> PathBuf {
    use std::sync::OnceLock;
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("NEXTEST_BIN_EXE_ocf-rs") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let bin = dir.join("ocf-rs");
        assert!(bin.is_file(), "{} is not built", bin.display());
        bin
    })
    .clone()
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// A fresh scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ocf-rs-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What one agent call did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// The text of the last `ocf-exit-reason:` line (what Pacemaker keeps).
    pub fn reason(&self) -> Option<&str> {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }
}

/// An agent reachable as `<dir>/<agent>` -> the built binary, like the
/// installed symlink Pacemaker execs.
pub struct AgentLink {
    dir: Scratch,
    pub path: PathBuf,
}

impl AgentLink {
    /// The HA_RSCTMP [`ocf`] gives this link's runs unless told otherwise:
    /// what start records there must not meet another test's record of the
    /// same instance name in /run/resource-agents.
    pub fn rsctmp(&self) -> PathBuf {
        self.dir.path("rsctmp")
    }
}

pub fn agent_link(agent: &str) -> AgentLink {
    let dir = Scratch::new(&format!("link-{agent}-{}", unique()));
    let path = dir.path(agent);
    symlink(bin(), &path).unwrap();
    AgentLink { dir, path }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Run `program args` with exactly `env` (plus PATH), stdout and stderr
/// piped, reading both to EOF: if any child kept a pipe open after the
/// agent exited, this waits for it, and the caller sees it in `elapsed`.
pub fn run_env(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let stderr = err_reader.join().unwrap();
    let status = child.wait().unwrap();
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

/// Run an action of `agent` through its argv[0] symlink with `OCF_RESKEY_`
/// parameters and any other variables in `env`.
pub fn ocf(
    agent: &AgentLink,
    action: &str,
    params: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Outcome {
    let keys: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
        .collect();
    let mut all: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("OCF_ROOT", "/usr/lib/ocf"));
    let rsctmp = agent.rsctmp().display().to_string();
    if !env.iter().any(|(k, _)| *k == "HA_RSCTMP") {
        all.push(("HA_RSCTMP", rsctmp.as_str()));
    }
    all.extend_from_slice(env);
    run_env(&agent.path, &[action], &all)
}

/// Is `cmd` on PATH? Tests that need a Debian package fail loudly without it:
/// the test command installs everything, so a missing tool is a real defect.
pub fn require(cmd: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|d| d.join(cmd).is_file());
    assert!(
        found,
        "{cmd} is not installed: run scripts/install-deps.sh (scripts/test.sh does)"
    );
}

/// The OCF provider the tests install under: `rust` unless
/// `OCF_RS_TEST_PROVIDER` names another (so two checkouts on one machine can
/// test side by side without overwriting each other's links).
pub fn provider() -> String {
    std::env::var("OCF_RS_TEST_PROVIDER")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "rust".to_string())
}

/// Where tests install the binary for Pacemaker, ocf-tester and `nobody`:
/// a root-owned path everyone can read, unlike a build tree in someone's home.
pub fn system_binary() -> PathBuf {
    PathBuf::from(format!("/usr/local/lib/ocf-rs/{}/ocf-rs", provider()))
}

/// The installed agent Pacemaker runs: `/usr/lib/ocf/resource.d/<provider>/<agent>`.
pub fn installed_agent(agent: &str) -> PathBuf {
    system_install();
    PathBuf::from(format!("/usr/lib/ocf/resource.d/{}/{agent}", provider()))
}

/// Install this build as the system's `ocf-rs` and link the provider,
/// once per test process, under a lock so concurrent test binaries agree.
pub fn system_install() -> PathBuf {
    use std::sync::OnceLock;
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let _lock = FileLock::take("/run/ocf-rs-test-install.lock");
        let target = system_binary();
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        let tmp = target.with_extension(format!("new{}", std::process::id()));
        fs::copy(bin(), &tmp).unwrap();
        fs::rename(&tmp, &target).unwrap();
        let prov = provider();
        let out = run_env(&target, &["install", "--provider", &prov], &[]);
        assert_eq!(out.code, 0, "ocf-rs install failed: {out:?}");
        target
    })
    .clone()
}

/// Run ClusterLabs' ocf-tester on an installed agent through
/// `ocf-tester/run.sh` (which bounds every action). Returns (exit code, output).
pub fn ocf_tester(
    agent: &str,
    instance: &str,
    params: &[(&str, &str)],
    timeout_s: u32,
) -> (i32, String) {
    let path = installed_agent(agent);
    let mut args: Vec<String> = vec![
        "-t".into(),
        timeout_s.to_string(),
        "-n".into(),
        instance.into(),
    ];
    for (k, v) in params {
        args.push("-o".into());
        args.push(format!("{k}={v}"));
    }
    args.push(path.to_string_lossy().into_owned());
    let script = repo().join("ocf-tester/run.sh");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    sh(script.to_str().unwrap(), &argv)
}

/// An exclusive flock held until drop. Whoever holds it writes
/// "PID COMMAND" into the file, so a waiter can name the holder.
pub struct FileLock {
    /// Held only for its lock: closing it releases the flock.
    _held: fs::File,
}

/// How long a test waits for a machine lock before it fails naming the
/// holder: `OCF_RS_LOCK_WAIT` seconds, default 600 (nextest already runs the
/// tests of one lock one at a time, so a long wait means someone else, a
/// demo cluster or a stuck run, holds it).
pub fn lock_wait() -> Duration {
    let s = std::env::var("OCF_RS_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(s)
}

impl FileLock {
    pub fn take(path: &str) -> FileLock {
        FileLock::take_within(path, lock_wait())
    }

    /// Take the lock, waiting at most `limit`; panics with the holder's PID
    /// and command line when it is still held then.
    pub fn take_within(path: &str, limit: Duration) -> FileLock {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap();
        let start = Instant::now();
        let mut told = Duration::ZERO;
        loop {
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let waited = start.elapsed();
            assert!(
                waited < limit,
                "{path} is still held after {} s by {}: giving up",
                limit.as_secs(),
                lock_holder(path)
            );
            if waited >= told + Duration::from_secs(60) || told.is_zero() {
                eprintln!("waiting for {path}, held by {}", lock_holder(path));
                told = waited.max(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        f.set_len(0).unwrap();
        let me = fs::read(format!("/proc/{}/cmdline", std::process::id())).unwrap_or_default();
        let me = String::from_utf8_lossy(&me).replace('\0', " ");
        let _ = writeln!(f, "{} {}", std::process::id(), me.trim_end());
        FileLock { _held: f }
    }
}

/// "pid N (COMMAND)" of the process recorded in the lock file when it is
/// alive, else of every process that has the file open.
pub fn lock_holder(path: &str) -> String {
    let cmdline = |pid: &str| {
        fs::read(format!("/proc/{pid}/cmdline")).ok().map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim_end()
                .to_string()
        })
    };
    let recorded = fs::read_to_string(path).unwrap_or_default();
    let pid = recorded
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    if let Some(cmd) = (!pid.is_empty()).then(|| cmdline(&pid)).flatten() {
        return format!("pid {pid} ({cmd})");
    }
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for proc_dir in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = proc_dir.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let open = fs::read_dir(proc_dir.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t == Path::new(path)));
        if open {
            found.push(format!("pid {pid} ({})", cmdline(&pid).unwrap_or_default()));
        }
    }
    if found.is_empty() {
        "nobody we can see".into()
    } else {
        found.join(", ")
    }
}

/// Poll `f` until it returns true or `limit` passes.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Run a command, return (exit code, stdout+stderr).
pub fn sh(program: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}
