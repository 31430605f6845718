//! What of this resource runs on this node, whatever the configuration says
//! now (docs/architecture.md, "Truthful state").
//!
//! A server is found by what cannot change under us: the PID start
//! recorded together with the process's start time, its program and its
//! working directory (the data directory, compared by device and inode).
//! Three descriptions can name one: the record start left in `HA_RSCTMP`,
//! the configuration (its pid files, PostgreSQL's own `postmaster.pid`
//! included, else a scan of its data directory), and, when the parameters
//! do not even parse, the raw `datadir`/`pid` values. Stop stops every one
//! of them (and first any mysqld_safe wrapper, which would restart a killed
//! server behind Pacemaker's back); a probe answers 7 only when none runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult, Record};

use crate::process::{self, Identity};
use crate::{Config, Engine};

/// Where the description of a server came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The configuration as it is now.
    Configured,
    /// What start recorded.
    Recorded,
    /// The raw parameters of a configuration that does not parse.
    Raw,
}

/// One server of this resource that may run here, and how to know it.
#[derive(Clone, Debug)]
pub struct Server {
    /// None when the raw parameters do not say (either engine's programs count).
    pub engine: Option<Engine>,
    pub id: Identity,
    /// Files that may name the main process (checked against `id`).
    pub pid_files: Vec<PathBuf>,
    /// The PID start recorded and the process's start time.
    pub recorded: Option<(i32, u64)>,
    pub origin: Origin,
}

fn engine_names(engine: Option<Engine>) -> Vec<String> {
    let engines: &[Engine] = match engine {
        Some(Engine::Postgresql) => &[Engine::Postgresql],
        Some(Engine::Mysql) => &[Engine::Mysql],
        None => &[Engine::Postgresql, Engine::Mysql],
    };
    engines
        .iter()
        .flat_map(|e| e.process_names().iter().map(|s| s.to_string()))
        .collect()
}

fn parse_engine(v: Option<&str>) -> Option<Engine> {
    match v? {
        "postgresql" => Some(Engine::Postgresql),
        "mysql" => Some(Engine::Mysql),
        _ => None,
    }
}

/// The file name a program runs under, once links are resolved (what
/// /proc/<pid>/exe shows).
fn program_name(binary: &Path) -> Option<String> {
    std::fs::canonicalize(binary)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

impl Server {
    /// The server the configuration names.
    pub fn configured(cfg: &Config, binary: Option<&Path>) -> Server {
        let mut pid_files = vec![cfg.pid_file.clone()];
        // The postmaster always writes its own lock file, whatever `pid` says.
        let postmaster = cfg.datadir.join("postmaster.pid");
        if cfg.engine == Engine::Postgresql && postmaster != cfg.pid_file {
            pid_files.push(postmaster);
        }
        Server {
            engine: Some(cfg.engine),
            id: cfg.identity(binary),
            pid_files,
            recorded: None,
            origin: Origin::Configured,
        }
    }

    /// The server a record names.
    pub fn recorded(rec: &Record) -> Option<Server> {
        let engine = parse_engine(rec.get("engine"));
        let datadir = PathBuf::from(rec.get_os("datadir")?);
        let mut names = engine_names(engine);
        if let Some(exe) = rec.get("exe").filter(|e| !e.is_empty())
            && !names.iter().any(|n| n == exe)
        {
            names.push(exe.to_string());
        }
        let dir = match (rec.get_u64("datadir_dev"), rec.get_u64("datadir_ino")) {
            (Some(d), Some(i)) => Some((d, i)),
            _ => process::dir_id(&datadir),
        };
        let mut pid_files: Vec<PathBuf> = rec
            .get_os("pid_file")
            .map(PathBuf::from)
            .into_iter()
            .collect();
        if engine != Some(Engine::Mysql) {
            pid_files.push(datadir.join("postmaster.pid"));
        }
        let recorded = match (rec.get_u64("pid"), rec.get_u64("start_time")) {
            (Some(p), Some(t)) if p > 0 && p <= i32::MAX as u64 => Some((p as i32, t)),
            _ => None,
        };
        Some(Server {
            engine,
            id: Identity {
                names,
                datadir,
                dir,
            },
            pid_files,
            recorded,
            origin: Origin::Recorded,
        })
    }

    /// What the raw parameters of a configuration that does not parse still
    /// identify safely: a server program working in that data directory.
    pub fn raw(params: &BTreeMap<String, String>) -> Option<Server> {
        let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let engine = parse_engine(get("engine"));
        let datadir = match get("datadir") {
            Some(d) if d.starts_with('/') => PathBuf::from(d),
            Some(_) => return None,
            None if engine == Some(Engine::Mysql) => PathBuf::from("/var/lib/mysql"),
            None => return None,
        };
        let mut names = engine_names(engine);
        if let Some(n) = get("binary")
            .filter(|b| b.starts_with('/'))
            .and_then(|b| program_name(Path::new(b)))
            && !names.contains(&n)
        {
            names.push(n);
        }
        let mut pid_files = Vec::new();
        match get("pid") {
            Some(p) if p.starts_with('/') => pid_files.push(PathBuf::from(p)),
            _ if engine == Some(Engine::Mysql) => {
                pid_files.push(PathBuf::from("/run/mysqld/mysqld.pid"))
            }
            _ => {}
        }
        if engine != Some(Engine::Mysql) {
            pid_files.push(datadir.join("postmaster.pid"));
        }
        Some(Server {
            engine,
            id: Identity::new(names, &datadir),
            pid_files,
            recorded: None,
            origin: Origin::Raw,
        })
    }

    /// Is `pid` the very process start recorded (same start time too)?
    pub fn is_recorded(&self, pid: i32) -> bool {
        self.recorded
            .is_some_and(|(p, t)| p == pid && process::start_time(pid) == Some(t))
    }

    /// The main process as the record or a pid file names it: no scan.
    pub fn main_pid(&self) -> Option<i32> {
        if let Some((pid, _)) = self.recorded
            && self.is_recorded(pid)
            && self.id.matches(pid)
        {
            return Some(pid);
        }
        self.pid_files
            .iter()
            .filter_map(|f| process::read_pid_file(f))
            .find(|&pid| self.id.matches(pid))
    }

    /// Every process of this server (a /proc scan), and among them the main
    /// one: not a child of another of them, not a PostgreSQL backend.
    pub fn scan(&self) -> (Option<i32>, Vec<i32>) {
        let all = self.id.all_processes();
        let main = all
            .iter()
            .copied()
            .find(|&p| !process::ppid(p).is_some_and(|pp| all.contains(&pp)) && !is_backend(p));
        (main, all)
    }

    /// The main process: named by the record or a pid file, else found in
    /// the data directory (a pid file removed, a server started by hand).
    pub fn find_main(&self) -> Option<i32> {
        self.main_pid().or_else(|| self.scan().0)
    }

    fn kind(&self, pid: i32) -> Engine {
        self.engine
            .unwrap_or_else(|| match process::exe_name(pid).as_deref() {
                Some("postgres" | "postmaster") => Engine::Postgresql,
                _ => Engine::Mysql,
            })
    }
}

/// A PostgreSQL child process: it rewrites its title to "postgres: ...".
fn is_backend(pid: i32) -> bool {
    process::cmdline(pid)
        .first()
        .is_some_and(|a| a.starts_with("postgres:"))
}

/// The servers stop and probe look for when the configuration or the
/// environment does not validate: the configured one (or the raw
/// parameters' one) and the recorded one.
pub fn servers_of(cfg: Option<&Config>, rec: Option<&Record>, ctx: &Context) -> Vec<Server> {
    let mut v: Vec<Server> = match cfg {
        Some(cfg) => vec![Server::configured(cfg, cfg.binary.as_deref())],
        None => Server::raw(&ctx.params).into_iter().collect(),
    };
    v.extend(rec.and_then(Server::recorded));
    v
}

/// Record what start is about to run (`pid` None) or runs (`pid` Some).
pub fn record(cfg: &Config, binary: &Path, ctx: &Context, pid: Option<i32>) {
    let mut r = Record::new();
    r.set(
        "engine",
        match cfg.engine {
            Engine::Postgresql => "postgresql",
            Engine::Mysql => "mysql",
        },
    );
    r.set("datadir", &cfg.datadir);
    if let Some((dev, ino)) = process::dir_id(&cfg.datadir) {
        r.set("datadir_dev", dev.to_string());
        r.set("datadir_ino", ino.to_string());
    }
    r.set("pid_file", &cfg.pid_file);
    r.set(
        "socket",
        match cfg.engine {
            Engine::Postgresql => cfg.pg_socket(),
            Engine::Mysql => cfg.socket.clone(),
        },
    );
    r.set("binary", binary);
    if let Some(n) = program_name(binary) {
        r.set("exe", n);
    }
    if let Some(pid) = pid
        && let Some(t) = process::start_time(pid)
    {
        r.set("pid", pid.to_string());
        r.set("start_time", t.to_string());
    }
    r.save(ctx);
}

/// The scripts that run mysqld in a loop and start it again when it dies.
const WRAPPERS: [&str; 3] = ["mysqld_safe", "mariadbd-safe", "safe_mysqld"];

fn is_wrapper(args: &[String]) -> bool {
    args.iter().take(2).any(|a| {
        Path::new(a)
            .file_name()
            .is_some_and(|n| WRAPPERS.iter().any(|w| n == *w))
    })
}

/// mysqld_safe processes of these servers: an ancestor of a main process,
/// or one whose arguments name a server's data directory or pid file
/// (between two restarts, no server runs under it).
pub fn wrappers(servers: &[Server], mains: &[i32]) -> Vec<i32> {
    let mut found = Vec::new();
    for &m in mains {
        let mut p = m;
        for _ in 0..4 {
            match process::ppid(p) {
                Some(pp) if pp > 1 => {
                    if is_wrapper(&process::cmdline(pp)) {
                        found.push(pp);
                    }
                    p = pp;
                }
                _ => break,
            }
        }
    }
    if servers.iter().any(|s| s.engine != Some(Engine::Postgresql)) {
        let names_ours = |a: &str| {
            if let Some(d) = a.strip_prefix("--datadir=") {
                let d = Path::new(d);
                servers.iter().any(|s| {
                    s.id.datadir == d || (s.id.dir.is_some() && process::dir_id(d) == s.id.dir)
                })
            } else if let Some(f) = a.strip_prefix("--pid-file=") {
                servers
                    .iter()
                    .any(|s| s.pid_files.iter().any(|p| p == Path::new(f)))
            } else {
                false
            }
        };
        for pid in process::all_pids() {
            let args = process::cmdline(pid);
            if is_wrapper(&args) && args.iter().any(|a| names_ours(a)) {
                found.push(pid);
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Every process of these servers now.
fn everything(servers: &[Server]) -> Vec<i32> {
    let mut v: Vec<i32> = servers.iter().flat_map(|s| s.id.all_processes()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn ours(servers: &[Server], pid: i32) -> bool {
    servers.iter().any(|s| s.id.matches(pid))
}

/// A pid file that names no live process of these servers goes, so the
/// next start and monitor do not trust it.
fn remove_stale_pid_files(servers: &[Server]) {
    let mut files: Vec<&PathBuf> = servers.iter().flat_map(|s| &s.pid_files).collect();
    files.sort();
    files.dedup();
    for f in files {
        if process::read_pid_file(f).is_some_and(|p| !ours(servers, p)) {
            match std::fs::remove_file(f) {
                Ok(()) => ocf::info!("removed stale pid file {}", f.display()),
                Err(e) => ocf::warn!("cannot remove {}: {e}", f.display()),
            }
        }
    }
}

/// Stop every server in `servers` within `dl`: mysqld_safe wrappers first
/// (SIGKILL: they ignore SIGTERM), then PostgreSQL fast shutdown and MySQL
/// `SHUTDOWN` (with `cfg`'s login, for the configured server) or SIGTERM,
/// then PostgreSQL immediate shutdown, then SIGKILL of every process left,
/// keeping a fifth of the time (0.5 s to 10 s) for that. 0 only when no
/// process of any of them is left.
pub fn stop_all(
    servers: &[Server],
    cfg: Option<&Config>,
    ctx: &Context,
    dl: &Deadline,
) -> OcfResult<()> {
    let mut mains: Vec<(i32, Engine, Origin)> = Vec::new();
    for s in servers {
        if let Some(pid) = s.find_main()
            && !mains.iter().any(|m| m.0 == pid)
        {
            mains.push((pid, s.kind(pid), s.origin));
        }
    }
    let main_pids: Vec<i32> = mains.iter().map(|m| m.0).collect();
    let mut known = everything(servers);
    let wrapped = wrappers(servers, &main_pids);
    if mains.is_empty() && known.is_empty() && wrapped.is_empty() {
        remove_stale_pid_files(servers);
        ocf::info!("{} is already stopped", ctx.instance);
        return Ok(());
    }
    if !wrapped.is_empty() {
        ocf::deadline::set_phase("stop: mysqld_safe");
        ocf::warn!(
            "killing the mysqld_safe wrapper {wrapped:?} first: it would start the server again"
        );
        for &w in &wrapped {
            process::signal(w, libc::SIGKILL);
        }
    }
    let poll = Duration::from_millis(50);
    let left =
        |pids: &[i32]| -> Vec<i32> { pids.iter().copied().filter(|&p| ours(servers, p)).collect() };
    // Keep a share for the force phase whatever the timeout.
    let force_reserve =
        (dl.remaining() / 5).clamp(Duration::from_millis(500), Duration::from_secs(10));
    let graceful = dl.keep_back(force_reserve);
    let any_pg = mains.iter().any(|m| m.1 == Engine::Postgresql);
    let first = graceful.share(if any_pg { 0.7 } else { 0.5 });
    let mut termed = Vec::new();
    for &(pid, engine, origin) in &mains {
        match engine {
            Engine::Postgresql => {
                ocf::deadline::set_phase("stop: fast shutdown");
                ocf::info!("fast shutdown of PostgreSQL (SIGINT to {pid})");
                process::signal(pid, libc::SIGINT);
            }
            Engine::Mysql => {
                ocf::deadline::set_phase("stop: SHUTDOWN");
                let shutdown = match cfg {
                    Some(c) if c.engine == Engine::Mysql && origin == Origin::Configured => {
                        crate::mysql_shutdown(c, graceful.share(0.5)).map_err(|e| e.to_string())
                    }
                    _ => Err("not the configured server".to_string()),
                };
                match shutdown {
                    Ok(()) => ocf::info!("MySQL accepted SHUTDOWN"),
                    Err(e) => {
                        ocf::info!("SHUTDOWN statement not possible ({e}): SIGTERM to {pid}");
                        process::signal(pid, libc::SIGTERM);
                        termed.push(pid);
                    }
                }
            }
        }
    }
    first.poll(poll, || left(&main_pids).is_empty().then_some(()));
    let slow = left(&main_pids);
    if !slow.is_empty() {
        for &(pid, engine, _) in mains.iter().filter(|m| slow.contains(&m.0)) {
            match engine {
                Engine::Postgresql => {
                    ocf::deadline::set_phase("stop: immediate shutdown");
                    ocf::warn!(
                        "fast shutdown did not finish: immediate shutdown (SIGQUIT to {pid})"
                    );
                    process::signal(pid, libc::SIGQUIT);
                }
                Engine::Mysql if !termed.contains(&pid) => {
                    ocf::deadline::set_phase("stop: SIGTERM");
                    ocf::info!("MySQL did not stop after SHUTDOWN: SIGTERM to {pid}");
                    process::signal(pid, libc::SIGTERM);
                }
                Engine::Mysql => {}
            }
        }
        graceful.poll(poll, || left(&main_pids).is_empty().then_some(()));
    }
    // Whatever is left (a hung server, orphaned backends, a wrapper that
    // started a new server meanwhile).
    known.extend(everything(servers));
    known.extend(&main_pids);
    let wrapped_now = wrappers(servers, &left(&known));
    known.sort_unstable();
    known.dedup();
    let rest = left(&known);
    if !rest.is_empty() || !wrapped_now.is_empty() {
        ocf::deadline::set_phase("stop: SIGKILL");
        ocf::warn!("killing the remaining database processes: {rest:?} {wrapped_now:?}");
        for &p in wrapped_now.iter().chain(&rest) {
            process::signal(p, libc::SIGKILL);
        }
        dl.poll(poll, || left(&rest).is_empty().then_some(()));
    }
    let still = everything(servers);
    let wrappers_left: Vec<i32> = wrappers(servers, &still)
        .into_iter()
        .filter(|&w| process::alive(w))
        .collect();
    if !still.is_empty() || !wrappers_left.is_empty() {
        return Err(OcfError::generic(format!(
            "database server processes still running after SIGKILL: {still:?} {wrappers_left:?}"
        )));
    }
    remove_stale_pid_files(servers);
    ocf::info!("{} stopped", ctx.instance);
    Ok(())
}

/// Processes of a server whose main process is gone (PostgreSQL backends
/// of a killed postmaster) exit by themselves within moments; wait up to
/// 2 s (inside `dl`) for that, and return those still there.
pub fn leftovers(servers: &[Server], dl: &Deadline) -> Vec<i32> {
    let wait = dl.cap(Duration::from_secs(2));
    let mut last = everything(servers);
    if last.is_empty() {
        return last;
    }
    wait.poll(Duration::from_millis(50), || {
        last = everything(servers);
        last.is_empty().then_some(())
    });
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_are_told_by_their_script_name() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_wrapper(&v(&[
            "/bin/sh",
            "/usr/bin/mysqld_safe",
            "--datadir=/x"
        ])));
        assert!(is_wrapper(&v(&["/bin/sh", "/usr/bin/mariadbd-safe"])));
        assert!(is_wrapper(&v(&["safe_mysqld"])));
        assert!(!is_wrapper(&v(&["/usr/sbin/mariadbd", "--datadir=/x"])));
        assert!(!is_wrapper(&v(&["/bin/sh", "-c", "mysqld_safe"])));
    }

    #[test]
    fn a_record_names_a_server_and_a_recycled_pid_is_not_it() {
        let me = std::process::id() as i32;
        let cwd = std::env::current_dir().unwrap();
        let exe = process::exe_name(me).unwrap();
        let (dev, ino) = process::dir_id(&cwd).unwrap();
        let t = process::start_time(me).unwrap();
        let rec = |start: u64| {
            Record::new()
                .with("engine", "mysql")
                .with("datadir", "/renamed/since/start")
                .with("datadir_dev", dev.to_string())
                .with("datadir_ino", ino.to_string())
                .with("exe", &exe)
                .with("pid", me.to_string())
                .with("start_time", start.to_string())
        };
        // This test process stands in for the server: same program, same
        // working directory by device and inode (the path may have moved).
        let s = Server::recorded(&rec(t)).unwrap();
        assert_eq!(s.main_pid(), Some(me));
        assert!(s.is_recorded(me));
        // The same PID with another start time is another process.
        let s = Server::recorded(&rec(t + 1)).unwrap();
        assert!(!s.is_recorded(me));
        assert_eq!(s.main_pid(), None);
        // Without a data directory nothing is named.
        assert!(Server::recorded(&Record::new().with("engine", "mysql")).is_none());
    }

    #[test]
    fn raw_parameters_name_a_server_only_by_an_absolute_data_directory() {
        let p = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = Server::raw(&p(&[("engine", "mysql"), ("port", "99999")])).unwrap();
        assert_eq!(s.id.datadir, PathBuf::from("/var/lib/mysql"));
        assert_eq!(s.pid_files, [PathBuf::from("/run/mysqld/mysqld.pid")]);
        assert!(s.id.names.contains(&"mariadbd".to_string()));
        assert!(!s.id.names.contains(&"postgres".to_string()));
        let s = Server::raw(&p(&[("engine", "oracle"), ("datadir", "/srv/db")])).unwrap();
        assert_eq!(s.engine, None);
        assert!(s.id.names.contains(&"postgres".to_string()));
        assert!(s.id.names.contains(&"mariadbd".to_string()));
        assert_eq!(s.pid_files, [PathBuf::from("/srv/db/postmaster.pid")]);
        assert!(Server::raw(&p(&[("engine", "postgresql")])).is_none());
        assert!(Server::raw(&p(&[("datadir", "relative")])).is_none());
    }
}
