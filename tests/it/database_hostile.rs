//! ocf:rust:database among hostile neighbours (issue 14), against real
//! PostgreSQL 15 and MariaDB 10.11 servers (PostgreSQL ports 55700-55799,
//! MariaDB 33700-33799): the service user's planted links and FIFOs, fake
//! servers on a real TCP port or a unix socket of another user that ask for
//! the password, a DNS server that never answers, a service user in
//! hundreds of groups with a huge directory entry. The agent runs through
//! its argv[0] symlink as Pacemaker runs it.

use support::database as db;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use db::{My, Pg, kv, with};
use support::{AgentLink, Outcome, agent_link, ocf};

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

/// The monitor password of these tests: no server byte can make a client
/// echo it (a comma never appears in a SCRAM nonce).
const PW: &str = "hostile,pw-14";

fn instance_of(p: &[(&'static str, String)]) -> String {
    let d = p
        .iter()
        .find(|(k, _)| *k == "datadir")
        .map(|(_, v)| v.as_str())
        .unwrap_or("default");
    let tail: String = d
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("db{tail}")
}

fn env_of(a: &AgentLink, p: &[(&'static str, String)]) -> Vec<(String, String)> {
    vec![
        ("HA_RSCTMP".into(), a.rsctmp().display().to_string()),
        ("OCF_RESOURCE_INSTANCE".into(), instance_of(p)),
    ]
}

fn run(a: &AgentLink, action: &str, p: &[(&'static str, String)], env: &[(&str, &str)]) -> Outcome {
    let base = env_of(a, p);
    let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(env);
    ocf(a, action, &kv(p), &all)
}

fn monitor(a: &AgentLink, p: &[(&'static str, String)]) -> Outcome {
    run(
        a,
        "monitor",
        p,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "10000")],
    )
}

#[track_caller]
fn assert_code(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o:#?}");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---- Files the service user controls ----

/// A file of root's that the service user would love to own or read.
struct RootFile {
    path: PathBuf,
    content: &'static str,
}

impl RootFile {
    fn new(path: PathBuf) -> RootFile {
        let content = "root:only-root-reads-this:19000::::::\n";
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        RootFile { path, content }
    }

    #[track_caller]
    fn assert_untouched(&self, what: &str) {
        let m = fs::metadata(&self.path).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0), "{what}: owner changed");
        assert_eq!(m.mode() & 0o7777, 0o600, "{what}: mode changed");
        assert_eq!(
            fs::read_to_string(&self.path).unwrap(),
            self.content,
            "{what}: content changed"
        );
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// The service user may write to the log's directory: a link, a hard link
/// or a FIFO planted there as the log must not make start open, give away
/// or block on anything; a log of the user's is used; a new one is made
/// for the user (mode 0640).
#[test]
fn a_planted_log_is_never_followed_given_away_or_blocked_on() {
    let a = agent_link("database");
    let pg = Pg::init("h-log", 55701);
    let logs = pg.dir.owned("logs", db::PG_UID_NAME);
    let log = logs.join("server.log");
    let secret = RootFile::new(pg.dir.path("shadow"));
    let p = with(&pg.params(), &[("log", log.to_str().unwrap())]);
    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant); 3] = [
        ("symlink", |target, log| {
            std::os::unix::fs::symlink(target, log).unwrap()
        }),
        ("hard link", |target, log| {
            fs::hard_link(target, log).unwrap()
        }),
        ("FIFO", |_, log| mkfifo(log)),
    ];
    for (what, plant) in plants {
        plant(&secret.path, &log);
        let o = run(&a, "start", &p, &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
        assert_code(&o, 1, &format!("start with a {what} as log"));
        assert!(
            o.elapsed < Duration::from_secs(10),
            "{what}: {:?}",
            o.elapsed
        );
        let r = o.reason().unwrap_or_default();
        assert!(r.contains("log file") && r.contains("server.log"), "{r}");
        secret.assert_untouched(what);
        assert!(pg.processes().is_empty(), "{what}: a server was started");
        fs::remove_file(&log).unwrap();
    }
    // Nothing there: created for the user, mode 0640, and used.
    assert_code(&run(&a, "start", &p, &[]), 0, "start with a fresh log");
    let m = fs::metadata(&log).unwrap();
    assert_eq!(m.uid(), db::ids(db::PG_UID_NAME).0);
    assert_eq!(m.mode() & 0o777, 0o640);
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    let len = fs::metadata(&log).unwrap().len();
    assert!(len > 0, "the server wrote its log");
    // The user's own log is appended to.
    assert_code(&run(&a, "start", &p, &[]), 0, "start with the user's log");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    assert!(fs::metadata(&log).unwrap().len() > len, "appended");
    secret.assert_untouched("after all");
}

/// The pid file (or its directory) belongs to the service user: a link to
/// /dev/zero or a FIFO in its place must not exhaust or hang monitor and
/// stop, which then find the server by its data directory.
#[test]
fn pid_files_that_are_fifos_or_links_to_dev_zero_hang_nothing() {
    let a = agent_link("database");
    let my = My::init("h-pid", 33701);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let timeout = [RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "10000")];
    for (what, plant) in [
        (
            "a link to /dev/zero",
            (|f: &Path| std::os::unix::fs::symlink("/dev/zero", f).unwrap()) as fn(&Path),
        ),
        ("a FIFO", |f: &Path| mkfifo(f)),
    ] {
        fs::remove_file(&my.pid).unwrap();
        plant(&my.pid);
        for (action, env) in [("monitor", &timeout[..]), ("monitor", &timeout[1..])] {
            let o = run(&a, action, &p, env);
            assert_code(&o, 0, &format!("{action} with {what} as pid file"));
            assert!(
                o.elapsed < Duration::from_secs(5),
                "{what}: {:?}",
                o.elapsed
            );
        }
    }
    let o = run(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    assert_code(&o, 0, "stop with a FIFO as pid file");
    assert!(o.elapsed < Duration::from_secs(15), "{:?}", o.elapsed);
    assert!(o.stderr.contains("SHUTDOWN"), "a clean stop: {o:?}");
    assert!(my.processes().is_empty());
    let o = run(
        &a,
        "monitor",
        &p,
        &[("OCF_RESKEY_CRM_meta_timeout", "10000")],
    );
    assert_code(&o, 7, "probe of a stopped server with a FIFO as pid file");
    assert!(o.elapsed < Duration::from_secs(5), "{:?}", o.elapsed);

    // PostgreSQL: `pid` is read by the agent only; postmaster.pid too.
    let pg = Pg::init("h-pgpid", 55702);
    let fifo = pg.dir.path("pg.pid");
    mkfifo(&fifo);
    let p = with(&pg.params(), &[("pid", fifo.to_str().unwrap())]);
    let o = run(&a, "start", &p, &[("OCF_RESKEY_CRM_meta_timeout", "30000")]);
    assert_code(&o, 0, "start with a FIFO as pid");
    let o = monitor(&a, &p);
    assert_code(&o, 0, "monitor with a FIFO as pid");
    assert!(o.elapsed < Duration::from_secs(5), "{:?}", o.elapsed);
    let o = run(&a, "stop", &p, &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    assert_code(&o, 0, "stop with a FIFO as pid");
    assert!(o.stderr.contains("fast shutdown"), "{o:?}");
    assert!(pg.processes().is_empty());
}

// ---- Fake servers on real sockets ----

/// What the fake server got from the client.
struct Recorder<S> {
    s: S,
    got: Vec<u8>,
}

impl<S: Read> Recorder<S> {
    fn read_exact(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.s.read_exact(&mut b)?;
        self.got.extend_from_slice(&b);
        Ok(b)
    }
    /// Everything else the client sends, until it closes or goes quiet.
    fn drain(&mut self) {
        let mut rest = Vec::new();
        let _ = self.s.read_to_end(&mut rest);
        self.got.extend_from_slice(&rest);
    }
}

type Script = fn(&mut Recorder<&mut dyn ReadWrite>) -> std::io::Result<()>;

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn serve(mut s: impl ReadWrite, script: Script) -> Vec<u8> {
    let mut r = Recorder {
        s: &mut s as &mut dyn ReadWrite,
        got: Vec::new(),
    };
    let _ = script(&mut r);
    r.drain();
    r.got
}

/// A fake server on 127.0.0.1: its port, and what it will have received.
fn fake_tcp(script: Script) -> (u16, JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    return serve(s, script);
                }
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => return Vec::new(),
            }
        }
    });
    (port, h)
}

/// A fake server on a unix socket at `path`, listening as `uid` (its
/// SO_PEERCRED): a user who created a socket where a stopped server's was.
fn fake_unix_as(uid: u32, gid: u32, path: PathBuf, script: Script) -> JoinHandle<Vec<u8>> {
    let (ready, wait) = mpsc::channel();
    let h = std::thread::spawn(move || {
        // SAFETY: raw syscalls change this thread's ids only (the saved uid
        // stays 0); the kernel records them at listen(2).
        unsafe {
            assert_eq!(
                libc::syscall(libc::SYS_setresgid, -1i64, gid as i64, -1i64),
                0
            );
            assert_eq!(
                libc::syscall(libc::SYS_setresuid, -1i64, uid as i64, -1i64),
                0
            );
        }
        let l = UnixListener::bind(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
        l.set_nonblocking(true).unwrap();
        ready.send(()).unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    return serve(s, script);
                }
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => return Vec::new(),
            }
        }
    });
    wait.recv().unwrap();
    h
}

/// A directory anyone may create a socket in.
fn open_dir(d: &db::Dir, name: &str) -> PathBuf {
    let p = d.path(name);
    fs::create_dir_all(&p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
    p
}

fn pg_msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Read the startup message, answer with authentication request `code`.
fn pg_ask(r: &mut Recorder<&mut dyn ReadWrite>, code: u32, extra: &[u8]) -> std::io::Result<()> {
    let len = r.read_exact(4)?;
    r.read_exact(u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize - 4)?;
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(extra);
    r.s.write_all(&pg_msg(b'R', &body))
}

/// Only the startup message: its length is its first four bytes.
fn only_pg_startup(got: &[u8]) -> bool {
    got.len() >= 4 && u32::from_be_bytes([got[0], got[1], got[2], got[3]]) as usize == got.len()
}

fn nobody() -> (u32, u32) {
    db::ids("nobody")
}

/// Impostors of PostgreSQL: on the TCP port (anyone may listen there when
/// the server runs elsewhere) asking for the password in clear text or as
/// md5, and on a unix socket of another user. None gets the password, and
/// the reason says why; md5 goes out only with monitor_allow_md5, as a hash.
#[test]
fn postgresql_impostors_never_receive_the_password() {
    let a = agent_link("database");
    let pg = Pg::init("h-pgfake", 55703);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let login = [("monitor_user", "mon"), ("monitor_password", PW)];

    // Cleartext on TCP.
    let (port, got) = fake_tcp(|r| pg_ask(r, 3, &[]));
    let port_s = port.to_string();
    let tcp = with(&p, &[("host", "127.0.0.1"), ("port", &port_s)]);
    let o = monitor(&a, &with(&tcp, &login));
    let got = got.join().unwrap();
    assert_code(&o, 1, "cleartext request over TCP");
    assert!(
        !contains(&got, PW.as_bytes()),
        "the password leaked: {got:?}"
    );
    assert!(only_pg_startup(&got), "nothing after the startup: {got:?}");
    let r = o.reason().unwrap();
    assert!(r.contains("clear text") && r.contains(&port_s), "{r}");
    assert!(!o.stderr.contains(PW), "{o:?}");

    // md5 on TCP: refused by default, a hash (never the password) with the opt-in.
    let (port, got) = fake_tcp(|r| pg_ask(r, 5, b"salt"));
    let port_s = port.to_string();
    let tcp = with(&p, &[("host", "127.0.0.1"), ("port", &port_s)]);
    let o = monitor(&a, &with(&tcp, &login));
    let got = got.join().unwrap();
    assert_code(&o, 1, "md5 request over TCP");
    assert!(only_pg_startup(&got), "no hash sent: {got:?}");
    assert!(o.reason().unwrap().contains("monitor_allow_md5"), "{o:?}");
    let (port, got) = fake_tcp(|r| pg_ask(r, 5, b"salt"));
    let port_s = port.to_string();
    let tcp = with(&p, &[("host", "127.0.0.1"), ("port", &port_s)]);
    let o = monitor(
        &a,
        &with(&tcp, &[login[0], login[1], ("monitor_allow_md5", "true")]),
    );
    let got = got.join().unwrap();
    assert_code(&o, 1, "the fake cannot complete the login");
    assert!(!contains(&got, PW.as_bytes()), "{got:?}");
    assert!(contains(&got, b"md5"), "the opt-in sends the hash: {got:?}");

    // A unix socket served by another user, asking for cleartext: not even
    // the startup message reaches it.
    let fake = open_dir(&pg.dir, "fake-sock");
    let (uid, gid) = nobody();
    let got = fake_unix_as(uid, gid, fake.join(format!(".s.PGSQL.{}", pg.port)), |r| {
        pg_ask(r, 3, &[])
    });
    let sock = with(&p, &[("socketdir", fake.to_str().unwrap())]);
    let o = monitor(&a, &with(&sock, &login));
    let got = got.join().unwrap();
    assert_code(&o, 1, "a socket of another user");
    assert!(got.is_empty(), "nothing sent: {got:?}");
    let r = o.reason().unwrap();
    assert!(r.contains(&format!("uid {uid}")), "{r}");

    assert_code(&monitor(&a, &p), 0, "the real server still answers");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

/// A MySQL/MariaDB initial handshake (protocol 10) offering `plugin`.
fn my_handshake(plugin: &str) -> Vec<u8> {
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    let caps: u32 = 0xf7ff | (1 << 19) | (1 << 16) | (1 << 17);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

fn my_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    v.push(seq);
    v.extend_from_slice(payload);
    v
}

fn my_read(r: &mut Recorder<&mut dyn ReadWrite>) -> std::io::Result<Vec<u8>> {
    let h = r.read_exact(4)?;
    r.read_exact(u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize)
}

/// Impostors of MariaDB/MySQL: on TCP switching to mysql_clear_password,
/// on TCP asking for caching_sha2's full authentication and ready to hand
/// out their own RSA key (also planted as the key file, owned by another
/// user), and on a unix socket of another user. None gets the password.
#[test]
fn mysql_impostors_never_receive_the_password() {
    let a = agent_link("database");
    let my = My::init("h-myfake", 33702);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let login = [("monitor_user", "mon"), ("monitor_password", PW)];

    // TCP: switch to cleartext after the handshake.
    let (port, got) = fake_tcp(|r| {
        r.s.write_all(&my_packet(0, &my_handshake("mysql_native_password")))?;
        my_read(r)?;
        r.s.write_all(&my_packet(2, b"\xfemysql_clear_password\0"))
    });
    let port_s = port.to_string();
    let tcp = with(&p, &[("host", "127.0.0.1"), ("port", &port_s)]);
    let o = monitor(&a, &with(&tcp, &login));
    let got = got.join().unwrap();
    assert_code(&o, 1, "switch to cleartext over TCP");
    assert!(
        !contains(&got, PW.as_bytes()),
        "the password leaked: {got:?}"
    );
    assert!(o.reason().unwrap().contains("clear text"), "{o:?}");

    // TCP: caching_sha2 full authentication; the fake answers a key
    // request with its own key, and plants that key as the key file.
    let key_dir = open_dir(&my.dir, "fake-key");
    let planted = key_dir.join("public_key.pem");
    fs::write(&planted, FAKE_KEY).unwrap();
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&planted, Some(uid), Some(gid)).unwrap();
    for key in [None, Some(planted.to_str().unwrap())] {
        let (port, got) = fake_tcp(|r| {
            r.s.write_all(&my_packet(0, &my_handshake("caching_sha2_password")))?;
            my_read(r)?;
            r.s.write_all(&my_packet(2, &[0x01, 0x04]))?;
            if my_read(r)? == [0x02] {
                let mut k = vec![0x01];
                k.extend_from_slice(FAKE_KEY.as_bytes());
                r.s.write_all(&my_packet(4, &k))?;
            }
            Ok(())
        });
        let port_s = port.to_string();
        let mut params = with(&p, &[("host", "127.0.0.1"), ("port", &port_s)]);
        if let Some(k) = key {
            params = with(&params, &[("server_public_key", k)]);
        }
        let o = monitor(&a, &with(&params, &login));
        let got = got.join().unwrap();
        assert_code(&o, 1, "caching_sha2 full authentication over TCP");
        // One packet only: the handshake response (a scramble, not the
        // password); no key request, nothing sealed with the fake's key.
        let first = u32::from_le_bytes([got[0], got[1], got[2], 0]) as usize + 4;
        assert_eq!(got.len(), first, "{key:?}: {got:?}");
        assert!(!contains(&got, PW.as_bytes()));
        let r = o.reason().unwrap();
        assert!(r.contains("public key"), "{r}");
        if key.is_some() {
            assert!(r.contains(&format!("owned by uid {uid}")), "{r}");
        }
    }

    // A unix socket of another user offering mysql_clear_password.
    let fake = open_dir(&my.dir, "fake-sock");
    let sock = fake.join("mysqld.sock");
    let got = fake_unix_as(uid, gid, sock.clone(), |r| {
        r.s.write_all(&my_packet(0, &my_handshake("mysql_clear_password")))?;
        my_read(r).map(drop)
    });
    let o = monitor(
        &a,
        &with(&with(&p, &[("socket", sock.to_str().unwrap())]), &login),
    );
    let got = got.join().unwrap();
    assert_code(&o, 1, "a socket of another user");
    assert!(got.is_empty(), "nothing sent: {got:?}");
    assert!(o.reason().unwrap().contains(&format!("uid {uid}")), "{o:?}");

    assert_code(&monitor(&a, &p), 0, "the real server still answers");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

/// A MySQL 8 server (a fake on TCP: for MariaDB the agent takes another
/// path) and a `monitor_query` whose sixth byte falls inside a character:
/// the monitor answers instead of panicking (exit 101, no reason), and the
/// query reaches the server as written.
#[test]
fn a_multibyte_monitor_query_reaches_a_mysql_8_server() {
    let a = agent_link("database");
    let my = My::init("h-utf8", 33705);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    let (port, got) = fake_tcp(|r| {
        r.s.write_all(&my_packet(0, &my_handshake("mysql_native_password")))?;
        my_read(r)?;
        r.s.write_all(&my_packet(2, &[0, 0, 0, 2, 0, 0, 0]))?;
        my_read(r)?;
        let coldef = b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0";
        let eof = [0xfe, 0, 0, 2, 0];
        let answer = [
            my_packet(1, &[1]),
            my_packet(2, coldef),
            my_packet(3, &eof),
            my_packet(4, &[1, b'1']),
            my_packet(5, &eof),
        ]
        .concat();
        r.s.write_all(&answer)
    });
    let port_s = port.to_string();
    let query = "/* prüfung */ SELECT 1";
    let q = with(
        &p,
        &[
            ("host", "127.0.0.1"),
            ("port", &port_s),
            ("monitor_user", "mon"),
            ("monitor_password", PW),
            ("monitor_query", query),
        ],
    );
    let o = monitor(&a, &q);
    let got = got.join().unwrap();
    assert_code(&o, 0, "monitor with a multi-byte query");
    assert!(
        contains(&got, query.as_bytes()),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

/// An RSA public key made once with OpenSSL for these tests (its private
/// half was thrown away: only the fake's willingness to be asked counts).
const FAKE_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA17FvUoUQPAo6JUiHzJPk
b4fkMAspzlSqF5ovB/1t+EbT0fJ9fZF7VT/8zmnbVygXXMToDI/ajJvaB2XEvpHi
KWuIUvRTV1lrTfDzIj6LCQNO//DTzgGu22j3C4y49yEiNcVEHDYbmDeZtnU2iRU4
pkA7MYu90FeAErAUU7831Cyz/L+a+ND9DUOP9bvc9C0vpiujE1t3zVc5+SV+wpLQ
R4P/1KOtF4n3iaKzE6RwXckbB/Zxm8aB0Zxn/vx1bZoqvRwL741zMjjJatG/ZgYk
gbMyFn+2Jtm8UZVdARa98T/EfUPVedwhLG/si4LICyc8/DPu+A7gbTPP59m+hLQh
8wIDAQAB
-----END PUBLIC KEY-----
";

/// The real servers still log in where the password is safe: PostgreSQL
/// scram-sha-256 over TCP (no opt-in), md5 over TCP with the opt-in,
/// cleartext (`password`) and peer over the unix socket, whose server runs
/// as the service user; MariaDB root by unix_socket over its socket.
#[test]
fn real_servers_log_in_where_the_password_is_safe() {
    let a = agent_link("database");
    let pg = Pg::init("h-pgreal", 55704);
    let p = pg.params();
    let mut hba = String::from("local all mon_clear password\n");
    hba.push_str(&fs::read_to_string(pg.data.join("pg_hba.conf")).unwrap());
    fs::write(pg.data.join("pg_hba.conf"), hba).unwrap();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    pg.psql(
        "SET password_encryption = 'scram-sha-256'; \
         CREATE ROLE mon_scram LOGIN PASSWORD 'hostile,pw-14'; \
         CREATE ROLE mon_clear LOGIN PASSWORD 'hostile,pw-14'; \
         SET password_encryption = 'md5'; \
         CREATE ROLE mon_md5 LOGIN PASSWORD 'hostile,pw-14';",
    )
    .unwrap();
    let tcp = with(&p, &[("host", "127.0.0.1")]);
    let pw = ("monitor_password", PW);
    assert_code(
        &monitor(&a, &with(&tcp, &[("monitor_user", "mon_scram"), pw])),
        0,
        "scram-sha-256 over TCP",
    );
    let o = monitor(&a, &with(&tcp, &[("monitor_user", "mon_md5"), pw]));
    assert_code(&o, 1, "md5 over TCP without the opt-in");
    assert!(o.reason().unwrap().contains("monitor_allow_md5"), "{o:?}");
    assert_code(
        &monitor(
            &a,
            &with(
                &tcp,
                &[
                    ("monitor_user", "mon_md5"),
                    pw,
                    ("monitor_allow_md5", "yes"),
                ],
            ),
        ),
        0,
        "md5 over TCP with the opt-in",
    );
    assert_code(
        &monitor(&a, &with(&p, &[("monitor_user", "mon_clear"), pw])),
        0,
        "cleartext over the checked socket",
    );
    assert_code(&monitor(&a, &p), 0, "peer over the socket");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");

    let my = My::init("h-myreal", 33703);
    let p = my.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    assert_code(&monitor(&a, &p), 0, "root by unix_socket");
    let o = run(&a, "stop", &p, &[]);
    assert_code(&o, 0, "stop");
    assert!(o.stderr.contains("MySQL accepted SHUTDOWN"), "{o:?}");
}

// ---- Name resolution ----

/// Run an action in a private mount namespace whose /etc/resolv.conf is
/// `resolv` (a bind mount): the agent sees a DNS server of the test's.
fn ocf_with_resolv(
    a: &AgentLink,
    action: &str,
    p: &[(&'static str, String)],
    env: &[(&str, &str)],
    resolv: &Path,
) -> Outcome {
    use std::os::unix::process::CommandExt;
    let src = std::ffi::CString::new(resolv.as_os_str().as_encoded_bytes()).unwrap();
    let mut c = Command::new(&a.path);
    c.arg(action)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCF_ROOT", "/usr/lib/ocf")
        .stdin(Stdio::null());
    for (k, v) in p {
        c.env(format!("OCF_RESKEY_{k}"), v);
    }
    for (k, v) in env_of(a, p) {
        c.env(k, v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    // SAFETY: unshare and mount are plain syscalls, fine between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let none = c"none".as_ptr();
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    none,
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                || libc::mount(
                    src.as_ptr(),
                    c"/etc/resolv.conf".as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let out = c.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// A `host` name whose DNS server never answers: the monitor still ends
/// within its own deadline, with a reason naming the resolution, not the
/// watchdog's "did not finish".
#[test]
fn a_silent_dns_server_costs_only_the_monitor_deadline() {
    let a = agent_link("database");
    let pg = Pg::init("h-dns", 55705);
    let p = pg.params();
    assert_code(&run(&a, "start", &p, &[]), 0, "start");
    // A DNS server that reads every query and never answers.
    let dns = UdpSocket::bind("127.0.0.114:53").expect("127.0.0.114:53 is free");
    dns.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let resolv = pg.dir.path("resolv.conf");
    fs::write(
        &resolv,
        "nameserver 127.0.0.114\noptions timeout:5 attempts:3\n",
    )
    .unwrap();
    let q = with(
        &p,
        &[
            ("host", "db.ocf-rs-test.example"),
            ("monitor_user", "postgres"),
            ("monitor_password", db::PG_SUPER_PASSWORD),
        ],
    );
    let o = ocf_with_resolv(
        &a,
        "monitor",
        &q,
        &[RECURRING, ("OCF_RESKEY_CRM_meta_timeout", "4000")],
        &resolv,
    );
    let mut b = [0u8; 512];
    let asked = dns.recv_from(&mut b).is_ok();
    assert!(asked, "the agent asked our DNS server: {o:?}");
    assert_code(&o, 1, "monitor with a silent DNS server");
    assert!(o.elapsed < Duration::from_millis(4000), "{:?}", o.elapsed);
    let r = o.reason().unwrap_or_default();
    assert!(
        r.contains("resolv") && r.contains("db.ocf-rs-test.example"),
        "{r}"
    );
    assert!(
        !r.contains("did not finish within"),
        "the watchdog answered: {r}"
    );
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
}

// ---- A service user with a large directory entry in many groups ----

/// A local user with a 20 000-character gecos (past the 16 KiB buffer the
/// lookup used to have) in 300 supplementary groups of its own (past the
/// 256 slots); removed with its groups on drop.
struct BigUser {
    name: String,
    groups: Vec<String>,
}

impl BigUser {
    fn create() -> BigUser {
        let id = std::process::id() % 100_000;
        let name = format!("dba14u{id}");
        let gecos = "g".repeat(20_000);
        let mut u = BigUser {
            name: name.clone(),
            groups: Vec::new(),
        };
        let _ = Command::new("userdel").arg(&name).output();
        let ok = |args: &[&str], prog: &str| {
            let o = Command::new(prog).args(args).output().unwrap();
            assert!(o.status.success(), "{prog} {args:?}: {o:?}");
        };
        ok(
            &["-M", "-U", "-s", "/usr/sbin/nologin", "-c", &gecos, &name],
            "useradd",
        );
        for i in 0..300 {
            let g = format!("dba14g{id}_{i}");
            let _ = Command::new("groupdel").arg(&g).output();
            ok(&[&g], "groupadd");
            u.groups.push(g);
        }
        ok(&["-a", "-G", &u.groups.join(","), &name], "usermod");
        u
    }

    fn gids(&self) -> Vec<u32> {
        let group = fs::read_to_string("/etc/group").unwrap();
        group
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                self.groups
                    .iter()
                    .any(|g| g == f[0])
                    .then(|| f[2].parse().unwrap())
            })
            .collect()
    }
}

impl Drop for BigUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
        for g in &self.groups {
            let _ = Command::new("groupdel").arg(g).output();
        }
    }
}

/// The server runs with every one of the user's 300 groups, and the user's
/// 20 KB passwd entry is found.
#[test]
fn a_service_user_with_a_large_entry_keeps_all_its_groups() {
    let a = agent_link("database");
    let user = BigUser::create();
    let my = My::init_as("h-groups", 33704, &user.name);
    let p = with(&my.params(), &[("user", &user.name)]);
    let o = run(&a, "start", &p, &[("OCF_RESKEY_CRM_meta_timeout", "60000")]);
    assert_code(&o, 0, "start as the big user");
    let pid = my.server_pid().expect("the server's pid");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let have: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .unwrap()
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    let want = user.gids();
    assert_eq!(want.len(), 300);
    let missing: Vec<&u32> = want.iter().filter(|g| !have.contains(g)).collect();
    assert!(missing.is_empty(), "{} groups missing", missing.len());
    assert_code(&monitor(&a, &p), 0, "monitor");
    assert_code(&run(&a, "stop", &p, &[]), 0, "stop");
    assert!(my.processes().is_empty());
}
