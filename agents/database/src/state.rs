//! What of this resource runs on this node, whatever the configuration says
//! now (docs/architecture.md, "Truthful state").
//!
//! A server is found by what cannot change under us: the PID start
//! recorded together with the process's start time, its program and its
//! working directory (the data directory, compared by device and inode).
//! Three descriptions can name one: the record start left in `HA_RSCTMP`,
//! the configuration (its pid files, PostgreSQL's own `postmaster.pid`
//! included, else a scan of its data directory), and, when the parameters
//! do not even parse, the raw `datadir`/`pid` values. Stop
//! ([`crate::stop`]) stops every one of them; a probe answers 7 only when
//! none runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::{Context, Deadline, Record};

use crate::config::Config;
use crate::engine::{self, Engine};
use crate::process::{self, Identity};

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
    /// None when the raw parameters do not say (every engine's programs count).
    pub engine: Option<&'static dyn Engine>,
    pub id: Identity,
    /// Files that may name the main process (checked against `id`).
    pub pid_files: Vec<PathBuf>,
    /// The PID start recorded and the process's start time.
    pub recorded: Option<(i32, u64)>,
    pub origin: Origin,
}

fn engine_names(engine: Option<&'static dyn Engine>) -> Vec<String> {
    engine::candidates(engine)
        .iter()
        .flat_map(|e| e.process_names().iter().map(|s| s.to_string()))
        .collect()
}

/// The pid files the engines write themselves in `datadir`, after `first`,
/// each once.
fn pid_files(
    first: Option<PathBuf>,
    engine: Option<&'static dyn Engine>,
    datadir: &Path,
) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = first.into_iter().collect();
    for e in engine::candidates(engine) {
        for f in e.own_pid_files(datadir) {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    files
}

impl Server {
    /// The server the configuration names.
    pub fn configured(cfg: &Config, binary: Option<&Path>) -> Server {
        Server {
            engine: Some(cfg.engine),
            id: cfg.identity(binary),
            pid_files: pid_files(Some(cfg.pid_file.clone()), Some(cfg.engine), &cfg.datadir),
            recorded: None,
            origin: Origin::Configured,
        }
    }

    /// The server a record names.
    pub fn recorded(rec: &Record) -> Option<Server> {
        let engine = rec.get("engine").and_then(engine::by_name);
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
        let pid_files = pid_files(rec.get_os("pid_file").map(PathBuf::from), engine, &datadir);
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
        let engine = get("engine").and_then(engine::by_name);
        let datadir = match get("datadir") {
            Some(d) if d.starts_with('/') => PathBuf::from(d),
            Some(_) => return None,
            None => PathBuf::from(engine?.default_datadir()?),
        };
        let mut names = engine_names(engine);
        if let Some(n) = get("binary")
            .filter(|b| b.starts_with('/'))
            .and_then(|b| process::program_name(Path::new(b)))
            && !names.contains(&n)
        {
            names.push(n);
        }
        let pid_file = match get("pid") {
            Some(p) if p.starts_with('/') => Some(PathBuf::from(p)),
            _ => engine.map(|e| e.default_pid_file(&datadir)),
        };
        Some(Server {
            engine,
            id: Identity::new(names, &datadir),
            pid_files: pid_files(pid_file, engine, &datadir),
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
            .find(|&p| !process::ppid(p).is_some_and(|pp| all.contains(&pp)) && !self.is_worker(p));
        (main, all)
    }

    /// The main process: named by the record or a pid file, else found in
    /// the data directory (a pid file removed, a server started by hand).
    pub fn find_main(&self) -> Option<i32> {
        self.main_pid().or_else(|| self.scan().0)
    }

    /// The engine of this server's main process `pid`.
    pub fn engine_of(&self, pid: i32) -> &'static dyn Engine {
        self.engine.unwrap_or_else(|| engine::of_process(pid))
    }

    fn is_worker(&self, pid: i32) -> bool {
        engine::candidates(self.engine)
            .iter()
            .any(|e| e.is_worker(pid))
    }
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
    r.set("engine", cfg.engine.name());
    r.set("datadir", &cfg.datadir);
    if let Some((dev, ino)) = process::dir_id(&cfg.datadir) {
        r.set("datadir_dev", dev.to_string());
        r.set("datadir_ino", ino.to_string());
    }
    r.set("pid_file", &cfg.pid_file);
    r.set("socket", cfg.engine.socket(cfg));
    r.set("binary", binary);
    if let Some(n) = process::program_name(binary) {
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

/// Every process of these servers now.
pub fn everything(servers: &[Server]) -> Vec<i32> {
    let mut v: Vec<i32> = servers.iter().flat_map(|s| s.id.all_processes()).collect();
    v.sort_unstable();
    v.dedup();
    v
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
        assert!(s.engine.is_none());
        assert!(s.id.names.contains(&"postgres".to_string()));
        assert!(s.id.names.contains(&"mariadbd".to_string()));
        assert_eq!(s.pid_files, [PathBuf::from("/srv/db/postmaster.pid")]);
        assert!(Server::raw(&p(&[("engine", "postgresql")])).is_none());
        assert!(Server::raw(&p(&[("datadir", "relative")])).is_none());
    }
}
