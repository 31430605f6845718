//! Real PostgreSQL and MariaDB servers for the database agent's tests, each
//! in its own temporary directory `/var/tmp/dba-<name>-<pid>` (initialised
//! with the Debian packages' own tools), and a guard that SIGKILLs every
//! process working in that directory by PID, then removes it, even when the
//! test failed. Used as `use support::database as db;`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PG_UID_NAME: &str = "postgres";
pub const MY_UID_NAME: &str = "mysql";

/// uid and gid of a local user, from /etc/passwd.
pub fn ids(user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("user {user} does not exist: install postgresql and mariadb-server");
}

/// Run a program as `user`; returns (exit code, stdout, stderr).
pub fn run_as(user: Option<&str>, program: &str, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(program);
    c.args(args)
        .stdin(Stdio::null())
        .current_dir("/")
        .env("LC_ALL", "C");
    if let Some(u) = user {
        let (uid, gid) = ids(u);
        c.uid(uid).gid(gid);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every live process whose working directory is under `dir`.
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let mut found = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s[s.rfind(')')? + 1..]
                    .trim_start()
                    .chars()
                    .next()
                    .map(|c| c == 'Z')
            })
            .unwrap_or(true);
        if zombie {
            continue;
        }
        if fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(dir)) {
            found.push(pid);
        }
    }
    found
}

/// A temporary directory whose servers die with it.
pub struct Dir {
    pub base: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        let base = PathBuf::from(format!("/var/tmp/dba-{name}-{}", std::process::id()));
        kill_under(&base);
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        // Service users must be able to reach their files below it.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        Dir { base }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.base.join(p)
    }
    /// A subdirectory owned by `user`.
    pub fn owned(&self, p: &str, user: &str) -> PathBuf {
        let d = self.path(p);
        fs::create_dir_all(&d).unwrap();
        let (uid, gid) = ids(user);
        std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
        d
    }
}

/// Every live process whose arguments name a path under `dir` (a
/// mysqld_safe wrapper works in /usr, not in the data directory).
pub fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut found = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let args = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if pid != me && !args.is_empty() && String::from_utf8_lossy(&args).contains(&needle) {
            found.push(pid);
        }
    }
    found
}

/// mysqld_safe (mariadbd-safe) wrappers whose arguments name `dir`.
pub fn wrappers_naming(dir: &Path) -> Vec<i32> {
    processes_naming(dir)
        .into_iter()
        .filter(|p| {
            let args = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let a = String::from_utf8_lossy(&args);
            a.contains("mysqld_safe") || a.contains("mariadbd-safe")
        })
        .collect()
}

/// Start `program args` as `user` (or root) in its own session with no
/// standard streams, orphaned at once (the process in between exits before
/// it execs), so init, not the test, is its parent and reaps it, as for a
/// server started by hand on a node.
pub fn spawn_detached(user: Option<&str>, program: &Path, args: &[&str]) {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(u) = user {
        let (uid, gid) = ids(u);
        c.uid(uid).gid(gid);
    }
    // SAFETY: fork, setsid and _exit are async-signal-safe; the
    // intermediate process exits at once, the grandchild goes on to exec.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            Ok(())
        });
    }
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    child.wait().unwrap();
}

/// Start `/bin/sleep <seconds>` as `user`, orphaned at once (its parent
/// exits before it execs), so init reaps it when it dies, as it would any
/// process on a node: a stand-in for the process that got a recycled PID.
/// Returns its PID.
pub fn spawn_orphan_sleep(user: &str, seconds: &str) -> i32 {
    spawn_detached(Some(user), Path::new("/bin/sleep"), &[seconds]);
    let mut found = None;
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while found.is_none() && std::time::Instant::now() < end {
        found = fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let args = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (args == format!("/bin/sleep\0{seconds}\0").into_bytes()).then_some(pid)
        });
        std::thread::sleep(Duration::from_millis(10));
    }
    found.expect("the orphaned sleep")
}

fn kill_under(dir: &Path) {
    for _ in 0..50 {
        let mut pids = wrappers_naming(dir);
        pids.extend(processes_under(dir));
        if pids.is_empty() {
            return;
        }
        for p in pids {
            // SAFETY: plain syscall on a PID we just found in our directory.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        kill_under(&self.base);
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// The newest installed PostgreSQL's bin directory.
pub fn pg_bin() -> PathBuf {
    let mut v: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .expect("postgresql is not installed: run scripts/install-deps.sh")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((n, e.path().join("bin")))
        })
        .collect();
    v.sort();
    v.pop().expect("no /usr/lib/postgresql/<version>").1
}

/// A PostgreSQL data directory, initialised and configured, not started.
pub struct Pg {
    pub dir: Dir,
    pub data: PathBuf,
    pub sock: PathBuf,
    pub port: u16,
}

/// The superuser's password (for TCP logins as postgres).
pub const PG_SUPER_PASSWORD: &str = "dba-super-pw";

impl Pg {
    pub fn init(name: &str, port: u16) -> Pg {
        let dir = Dir::new(name);
        let root = dir.owned("pg", PG_UID_NAME);
        let sock = dir.owned("sock", PG_UID_NAME);
        let data = root.join("data");
        let pwfile = root.join("pw");
        fs::write(&pwfile, PG_SUPER_PASSWORD).unwrap();
        let (uid, gid) = ids(PG_UID_NAME);
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        let initdb = pg_bin().join("initdb");
        let (code, out, err) = run_as(
            Some(PG_UID_NAME),
            initdb.to_str().unwrap(),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ],
        );
        assert_eq!(code, 0, "initdb failed:\n{out}\n{err}");
        // What ocf:heartbeat:pgsql also needs (env-lab section 10): socket
        // directory, port and listen address in postgresql.conf.
        let mut conf = fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(&format!(
            "\nport = {port}\nunix_socket_directories = '{}'\nlisten_addresses = '127.0.0.1'\n\
             fsync = off\nmax_connections = 40\n",
            sock.display()
        ));
        fs::write(data.join("postgresql.conf"), conf).unwrap();
        fs::write(
            data.join("pg_hba.conf"),
            "local all all peer\n\
             host all mon_md5 127.0.0.1/32 md5\n\
             host all mon_trust 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        Pg {
            dir,
            data,
            sock,
            port,
        }
    }

    /// The agent parameters that run this server.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("engine", "postgresql".into()),
            ("datadir", self.data.display().to_string()),
            ("socketdir", self.sock.display().to_string()),
            ("port", self.port.to_string()),
            ("log", self.dir.path("server.log").display().to_string()),
        ]
    }

    /// psql as the postgres OS user over the socket; stdout on success.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let psql = pg_bin().join("psql");
        let port = self.port.to_string();
        let (code, out, err) = run_as(
            Some(PG_UID_NAME),
            psql.to_str().unwrap(),
            &[
                "-X",
                "-h",
                self.sock.to_str().unwrap(),
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
        );
        if code == 0 {
            Ok(out.trim().to_string())
        } else {
            Err(format!("psql exit {code}: {err}"))
        }
    }

    pub fn postmaster_pid(&self) -> Option<i32> {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    pub fn processes(&self) -> Vec<i32> {
        processes_under(&self.data)
    }

    /// Start the postmaster by hand, as its user, outside any agent; wait
    /// until it answers.
    pub fn start_by_hand(&self) {
        spawn_detached(
            Some(PG_UID_NAME),
            &pg_bin().join("postgres"),
            &["-D", self.data.to_str().unwrap()],
        );
        let end = std::time::Instant::now() + Duration::from_secs(30);
        while self.psql("SELECT 1").is_err() {
            assert!(
                std::time::Instant::now() < end,
                "postgres started by hand does not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A MariaDB data directory, initialised, with a my.cnf; not started.
pub struct My {
    pub dir: Dir,
    pub data: PathBuf,
    pub sock: PathBuf,
    pub pid: PathBuf,
    pub cnf: PathBuf,
    pub port: u16,
}

impl My {
    pub fn init(name: &str, port: u16) -> My {
        My::init_as(name, port, MY_UID_NAME)
    }

    /// The same, for a server run by `user`.
    pub fn init_as(name: &str, port: u16, user: &str) -> My {
        let dir = Dir::new(name);
        let root = dir.owned("my", user);
        let data = root.join("data");
        let run = dir.path("run"); // created by the agent's start
        // The bootstrap's temporary tables in a directory of its own, not
        // the shared /tmp: side by side, bootstraps there failed now and
        // then ("Could not remove temporary table '/tmp/#sql-temptable-...'",
        // then "Unknown table 'mysql.tmp_user_sys'").
        let tmp = dir.owned("my/tmp", user);
        let (code, out, err) = run_as(
            None,
            "mariadb-install-db",
            &[
                "--no-defaults",
                &format!("--user={user}"),
                &format!("--datadir={}", data.display()),
                "--skip-test-db",
                "--skip-name-resolve",
                &format!("--tmpdir={}", tmp.display()),
            ],
        );
        assert_eq!(code, 0, "mariadb-install-db failed:\n{out}\n{err}");
        let cnf = dir.path("my.cnf");
        fs::write(
            &cnf,
            format!(
                "[mysqld]\nport = {port}\nbind-address = 127.0.0.1\nskip-name-resolve\n\
                 innodb_buffer_pool_size = 16M\ninnodb_log_file_size = 8M\n\
                 innodb_flush_log_at_trx_commit = 2\nperformance_schema = OFF\n"
            ),
        )
        .unwrap();
        My {
            dir,
            data,
            sock: run.join("mysqld.sock"),
            pid: run.join("mysqld.pid"),
            cnf,
            port,
        }
    }

    pub fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("engine", "mysql".into()),
            ("datadir", self.data.display().to_string()),
            ("config", self.cnf.display().to_string()),
            ("socket", self.sock.display().to_string()),
            ("pid", self.pid.display().to_string()),
            ("log", self.dir.path("server.log").display().to_string()),
        ]
    }

    /// The mariadb client as root over the socket (unix_socket auth).
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let (code, out, err) = run_as(
            None,
            "mariadb",
            &[
                "--no-defaults",
                "-S",
                self.sock.to_str().unwrap(),
                "-uroot",
                "-N",
                "-B",
                "-e",
                sql,
            ],
        );
        if code == 0 {
            Ok(out.trim().to_string())
        } else {
            Err(format!("mariadb exit {code}: {err}"))
        }
    }

    pub fn server_pid(&self) -> Option<i32> {
        fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }

    /// Start the server the way heartbeat mysql and init scripts do, under
    /// mysqld_safe (which restarts it when it dies), as root with
    /// --user=mysql; wait until it answers.
    pub fn start_under_mysqld_safe(&self) {
        let run = self.pid.parent().unwrap();
        fs::create_dir_all(run).unwrap();
        let (uid, gid) = ids(MY_UID_NAME);
        std::os::unix::fs::chown(run, Some(uid), Some(gid)).unwrap();
        let arg = |k: &str, v: &Path| format!("--{k}={}", v.display());
        let args = [
            arg("defaults-file", &self.cnf),
            arg("datadir", &self.data),
            arg("pid-file", &self.pid),
            arg("socket", &self.sock),
            arg("log-error", &run.join("safe.log")),
            "--user=mysql".to_string(),
        ];
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn_detached(None, Path::new("/usr/bin/mysqld_safe"), &argv);
        let end = std::time::Instant::now() + Duration::from_secs(30);
        while self.sql("SELECT 1").is_err() || self.server_pid().is_none() {
            assert!(
                std::time::Instant::now() < end,
                "mariadbd under mysqld_safe does not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn processes(&self) -> Vec<i32> {
        processes_under(&self.data)
    }
}

/// Owner uid of a path (to check what start created).
pub fn owner(p: &Path) -> u32 {
    fs::metadata(p).unwrap().uid()
}

/// Send a signal to a PID.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: plain syscall on a PID the test owns.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

/// Owned (key, value) pairs as the borrowed slice `common::ocf` takes.
pub fn kv<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `base` plus overrides (same key replaced).
pub fn with(
    base: &[(&'static str, String)],
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    v.extend(extra.iter().map(|(k, val)| (*k, val.to_string())));
    v
}

/// A cluster made the Debian way (`pg_createcluster`): its configuration in
/// /etc/postgresql/<version>/dba-<name>-<pid>/ (ssl on with the snakeoil
/// key, readable through the ssl-cert group), its socket in
/// /var/run/postgresql, its data under /var/tmp. Dropped with
/// `pg_dropcluster` after its processes are killed.
pub struct DebianPg {
    pub dir: Dir,
    pub name: String,
    pub version: String,
    pub data: PathBuf,
    pub port: u16,
}

impl DebianPg {
    pub fn create(name: &str, port: u16) -> DebianPg {
        let dir = Dir::new(name);
        let root = dir.owned("deb", PG_UID_NAME);
        let data = root.join("data");
        let version = pg_bin()
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let cluster = format!("dba-{name}-{}", std::process::id());
        let port_s = port.to_string();
        let (code, out, err) = run_as(
            None,
            "pg_createcluster",
            &[
                &version,
                &cluster,
                "-p",
                &port_s,
                "-d",
                data.to_str().unwrap(),
                "--",
                "--no-sync",
            ],
        );
        assert_eq!(code, 0, "pg_createcluster failed:\n{out}\n{err}");
        DebianPg {
            dir,
            name: cluster,
            version,
            data,
            port,
        }
    }

    pub fn config(&self) -> PathBuf {
        PathBuf::from(format!(
            "/etc/postgresql/{}/{}/postgresql.conf",
            self.version, self.name
        ))
    }
}

impl Drop for DebianPg {
    fn drop(&mut self) {
        kill_under(&self.dir.base);
        let _ = run_as(None, "pg_dropcluster", &[&self.version, &self.name]);
        let _ = fs::remove_dir_all(format!("/etc/postgresql/{}/{}", self.version, self.name));
        let _ = fs::remove_file(format!(
            "/var/log/postgresql/postgresql-{}-{}.log",
            self.version, self.name
        ));
        for f in [".s.PGSQL.{}", ".s.PGSQL.{}.lock"] {
            let _ = fs::remove_file(
                PathBuf::from("/var/run/postgresql").join(f.replace("{}", &self.port.to_string())),
            );
        }
    }
}
