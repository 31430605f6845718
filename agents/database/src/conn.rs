//! A client connection (TCP or unix socket) where every byte moved is
//! bounded by ONE deadline: connect, authentication and query together.
//!
//! The socket is non-blocking; each read and write that would block polls
//! for at most the time left before the deadline. A server that accepts and
//! then never answers costs at most the time left, never more; a host name
//! is resolved under the same deadline.
//!
//! The wire clients ([`crate::pg`], [`crate::mysql`]) talk through the
//! [`Wire`] trait: a [`Conn`] on the monitor's path, a [`Replay`] of
//! recorded server bytes in the fuzz targets and property tests, so both
//! exercise the very code the monitor runs.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::Deadline;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Gid, Uid};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use rustix::thread::{set_thread_res_gid, set_thread_res_uid};

/// Where the server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The step of a probe that failed: exit reasons name it, because "timed
/// out" alone does not tell a hung server from a slow network (RA#841).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Authentication,
    Query,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Authentication => "authentication",
            Phase::Query => "query",
        })
    }
}

/// What went wrong, sorted by what the operator has to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeErrorKind {
    /// Nothing listens (refused, socket file missing): a dead or starting server.
    Unreachable(String),
    /// The deadline passed: a hung or overloaded server.
    Timeout,
    /// The server refused the credentials: a configuration problem, the
    /// server itself is up.
    Credentials(String),
    /// The server answered with an error (not about credentials).
    Server(String),
    /// The server is up but says it cannot take connections yet (starting,
    /// shutting down, in recovery).
    NotReady(String),
    /// The query ran but returned no row.
    NoRow,
    /// The host name did not resolve (in time).
    Resolve(String),
    /// We refused to go on: the server's identity is not checked and it
    /// asks for the password in a form it could read or replay (cleartext,
    /// md5 without opt-in, an RSA key of its own), or the unix socket is
    /// served by another user than the service user.
    Refused(String),
    /// Anything else: I/O error, unexpected bytes, unsupported feature.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError {
    pub phase: Phase,
    pub kind: ProbeErrorKind,
}

impl ProbeError {
    pub fn new(phase: Phase, kind: ProbeErrorKind) -> ProbeError {
        ProbeError { phase, kind }
    }
    pub fn other(phase: Phase, msg: impl Into<String>) -> ProbeError {
        ProbeError::new(phase, ProbeErrorKind::Other(msg.into()))
    }
    /// Map an I/O error of `phase` to its kind.
    pub fn io(phase: Phase, e: &io::Error) -> ProbeError {
        use io::ErrorKind as K;
        let kind = match e.kind() {
            K::TimedOut | K::WouldBlock => ProbeErrorKind::Timeout,
            K::ConnectionRefused | K::NotFound | K::AddrNotAvailable if phase == Phase::Connect => {
                ProbeErrorKind::Unreachable(e.to_string())
            }
            K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe => {
                ProbeErrorKind::Other(format!("the server closed the connection ({e})"))
            }
            _ => ProbeErrorKind::Other(e.to_string()),
        };
        ProbeError { phase, kind }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProbeErrorKind::Unreachable(m) => write!(f, "cannot connect: {m}"),
            ProbeErrorKind::Timeout => write!(f, "no answer in time during {}", self.phase),
            ProbeErrorKind::Credentials(m) => write!(f, "credentials rejected: {m}"),
            ProbeErrorKind::Server(m) => write!(f, "server error during {}: {m}", self.phase),
            ProbeErrorKind::NotReady(m) => write!(f, "server not ready: {m}"),
            ProbeErrorKind::NoRow => write!(f, "the monitor query returned no row"),
            ProbeErrorKind::Resolve(m) => write!(f, "cannot resolve the host name: {m}"),
            ProbeErrorKind::Refused(m) => write!(f, "refused during {}: {m}", self.phase),
            ProbeErrorKind::Other(m) => write!(f, "{} failed: {m}", self.phase),
        }
    }
}

/// The connection's OS identity on a unix socket (peer authentication maps
/// it). `None` keeps the agent's own (root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub uid: u32,
    pub gid: u32,
}

/// What a server, hostile or broken, can make one probe do: the size of
/// one protocol message (PostgreSQL) or packet payload (MySQL, continuation
/// packets included), every byte of the session together, the messages
/// before the login completes and in answer to the query, and the PBKDF2
/// work of SCRAM, which no deadline can cut short (PostgreSQL's default is
/// 4096 iterations; 100 000, postgres-protocol's own limit since 0.6.12,
/// take about 20 ms of CPU in a release build).
pub const MAX_MESSAGE: usize = 1 << 20;
pub const MAX_RECEIVED: usize = 16 << 20;
pub const MAX_AUTH_MESSAGES: usize = 256;
pub const MAX_QUERY_MESSAGES: usize = 100_000;
pub const MAX_SCRAM_ITERATIONS: u32 = 100_000;

/// Server-supplied text (an error message) as it may appear in an exit
/// reason: one line, no control characters, at most 300 characters.
pub fn server_text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if s.chars().count() > 300 {
        out.push_str("...");
    }
    out
}

/// A byte stream to a server, as the protocol clients see it.
pub trait Wire {
    /// Write all of `buf`.
    fn send(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Read at least one byte; the end of the stream is an error.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Read exactly `buf.len()` bytes.
    fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            done += self.recv(&mut buf[done..])?;
        }
        Ok(())
    }
    /// Is the server's identity checked (a unix socket served by the
    /// service user or root)? Only then may the password leave in a form
    /// the server can read (cleartext) or crack cheaply (md5).
    fn verified(&self) -> bool;
}

/// Recorded server bytes played back to a client, and what the client
/// sent: the fuzz targets and property tests drive the protocol clients
/// through it. The end of the bytes is the server closing the connection.
pub struct Replay<'a> {
    input: &'a [u8],
    at: usize,
    /// Everything the client wrote.
    pub sent: Vec<u8>,
    verified: bool,
}

impl<'a> Replay<'a> {
    /// `verified`: play a unix socket whose peer was checked (true) or an
    /// unchecked TCP server (false).
    pub fn new(input: &'a [u8], verified: bool) -> Replay<'a> {
        Replay {
            input,
            at: 0,
            sent: Vec::new(),
            verified,
        }
    }
}

impl Wire for Replay<'_> {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(buf);
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input[self.at..];
        if rest.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
    fn verified(&self) -> bool {
        self.verified
    }
}

enum Inner {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected socket whose every operation is bounded by `deadline`.
pub struct Conn {
    inner: Inner,
    deadline: Deadline,
    pub target: Target,
    /// Set by [`Conn::check_peer`].
    verified: bool,
}

impl Conn {
    pub fn connect(
        target: &Target,
        deadline: Deadline,
        identity: Option<PeerIdentity>,
    ) -> Result<Conn, ProbeError> {
        let fail = |e: io::Error| ProbeError::io(Phase::Connect, &e);
        if deadline.expired() {
            return Err(ProbeError::new(Phase::Connect, ProbeErrorKind::Timeout));
        }
        let inner = match target {
            Target::Tcp { host, port } => {
                // getaddrinfo has no timeout of its own: bounded here.
                let addrs = ocf::net::resolve(host, *port, &deadline).map_err(|e| {
                    let why = if e.kind() == io::ErrorKind::TimedOut {
                        format!("resolving {host} did not finish in time (DNS server unreachable?)")
                    } else {
                        format!("{host}: {e}")
                    };
                    ProbeError::new(Phase::Connect, ProbeErrorKind::Resolve(why))
                })?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut stream = None;
                for a in addrs {
                    let left = deadline.remaining();
                    if left.is_zero() {
                        last = io::ErrorKind::TimedOut.into();
                        break;
                    }
                    match TcpStream::connect_timeout(&a, left) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = stream.ok_or_else(|| fail(last))?;
                let _ = s.set_nodelay(true);
                s.set_nonblocking(true).map_err(fail)?;
                Inner::Tcp(s)
            }
            Target::Unix(path) => {
                Inner::Unix(unix_connect(path, deadline, identity).map_err(fail)?)
            }
        };
        Ok(Conn {
            inner,
            deadline,
            target: target.clone(),
            verified: false,
        })
    }

    pub fn is_unix(&self) -> bool {
        matches!(self.inner, Inner::Unix(_))
    }

    /// The uid of the process serving a unix socket (SO_PEERCRED: the
    /// effective uid it had when it called listen(2)); None over TCP.
    pub fn peer_uid(&self) -> Option<io::Result<u32>> {
        let Inner::Unix(s) = &self.inner else {
            return None;
        };
        Some(
            rustix::net::sockopt::socket_peercred(s)
                .map(|cred| cred.uid.as_raw())
                .map_err(io::Error::from),
        )
    }

    /// On a unix socket, refuse a server run by anyone but `allowed` (the
    /// service user, root): anyone may create a socket where a stopped
    /// server's was, and a password sent there is theirs. Over TCP there is
    /// no such check: the connection stays unverified and the clients
    /// refuse the logins that would hand the password over.
    pub fn check_peer(&mut self, allowed: &[u32]) -> Result<(), ProbeError> {
        let Some(peer) = self.peer_uid() else {
            return Ok(());
        };
        match peer {
            Ok(uid) if allowed.contains(&uid) => {
                self.verified = true;
                Ok(())
            }
            Ok(uid) => Err(ProbeError::new(
                Phase::Connect,
                ProbeErrorKind::Refused(format!(
                    "the socket {} is served by uid {uid}, not by the service user (uid {}): \
                     not talking to it",
                    self.target,
                    allowed.first().copied().unwrap_or(0)
                )),
            )),
            Err(e) => Err(ProbeError::other(
                Phase::Connect,
                format!("cannot tell who serves {}: {e}", self.target),
            )),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Tcp(s) => s.as_fd(),
            Inner::Unix(s) => s.as_fd(),
        }
    }

    /// Wait until the socket is ready for `events`, or the deadline passes.
    /// poll(2) runs on high-resolution timers; SO_RCVTIMEO rides the timer
    /// wheel, which overshoots a few-second timeout by up to a tenth or more.
    fn wait(&self, events: PollFlags) -> io::Result<()> {
        loop {
            let left = self.deadline.remaining();
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let fd = self.fd();
            let mut fds = [PollFd::new(&fd, events)];
            // At least 1 ms, as poll(2) counts in milliseconds.
            let left = left.max(Duration::from_millis(1));
            let timeout = Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(n) if n > 0 => return Ok(()),
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Wire for Conn {
    /// Write all of `buf` before the deadline.
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = match &mut self.inner {
                Inner::Tcp(s) => s.write(&buf[done..]),
                Inner::Unix(s) => s.write(&buf[done..]),
            };
            match n {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(PollFlags::OUT)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read some bytes (at least one) before the deadline; EOF is an error.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = match &mut self.inner {
                Inner::Tcp(s) => s.read(buf),
                Inner::Unix(s) => s.read(buf),
            };
            match n {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(PollFlags::IN)?,
                Err(e) => return Err(e),
            }
        }
    }

    fn verified(&self) -> bool {
        self.verified
    }
}

/// Connect a unix stream socket without blocking past the deadline (a
/// stopped server's full backlog blocks a plain connect), optionally with
/// another OS identity so that peer authentication sees it.
///
/// The identity is switched with the raw setresgid/setresuid syscalls
/// (rustix's `set_thread_res_*`) in a short-lived thread: unlike the libc
/// wrappers, they change that thread only, and the kernel records the peer
/// credentials at connect time. No fork, and the agent's other threads
/// stay root.
fn unix_connect(
    path: &Path,
    deadline: Deadline,
    identity: Option<PeerIdentity>,
) -> io::Result<UnixStream> {
    match identity {
        None => unix_connect_here(path, deadline),
        Some(id) => std::thread::scope(|s| {
            s.spawn(|| {
                set_thread_res_gid(None, Gid::from_raw(id.gid), None)?;
                set_thread_res_uid(None, Uid::from_raw(id.uid), None)?;
                unix_connect_here(path, deadline)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("connect thread panicked")))
        }),
    }
}

fn unix_connect_here(path: &Path, deadline: Deadline) -> io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    // sockaddr_un's sun_path holds 108 bytes with the NUL.
    if path.as_os_str().as_bytes().len() >= 108 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket path {} is too long", path.display()),
        ));
    }
    let addr = SocketAddrUnix::new(path)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    // A stopped server's full backlog gives EAGAIN on a non-blocking unix
    // connect: retry, bounded by the deadline.
    loop {
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => break,
            Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(e.into()),
        }
        if !deadline.sleep(Duration::from_millis(10)) {
            return Err(io::ErrorKind::TimedOut.into());
        }
    }
    Ok(UnixStream::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn a_silent_tcp_server_costs_only_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let started = Instant::now();
        let mut c = Conn::connect(&t, Deadline::after(Duration::from_millis(300)), None).unwrap();
        let mut b = [0u8; 4];
        let e = c.recv_exact(&mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(l);
    }

    #[test]
    fn missing_unix_socket_is_unreachable() {
        let t = Target::Unix("/nonexistent/dba-test/.s.PGSQL.1".into());
        let e = Conn::connect(&t, Deadline::after(Duration::from_secs(1)), None)
            .err()
            .unwrap();
        assert!(matches!(e.kind, ProbeErrorKind::Unreachable(_)), "{e:?}");
        assert_eq!(e.phase, Phase::Connect);
    }

    /// A stopped server's full listen backlog makes a non-blocking unix
    /// connect fail with EAGAIN: that is retried until the deadline, then
    /// reported as a timeout in phase 'connect', never a hang.
    #[test]
    fn a_full_unix_backlog_times_out_in_the_connect_phase() {
        let dir = std::env::temp_dir().join(format!("dba-conn-backlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let t = Target::Unix(sock);
        let mut held = vec![];
        let mut last = None;
        for _ in 0..10_000 {
            match Conn::connect(&t, Deadline::after(Duration::from_millis(200)), None) {
                Ok(c) => held.push(c),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        let e = last.expect("the backlog never filled");
        assert_eq!(e, ProbeError::new(Phase::Connect, ProbeErrorKind::Timeout));
        let started = Instant::now();
        let e = Conn::connect(&t, Deadline::after(Duration::from_millis(300)), None)
            .err()
            .unwrap();
        assert_eq!(e.kind, ProbeErrorKind::Timeout);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unix_socket_round_trip() {
        let dir = std::env::temp_dir().join(format!("dba-conn-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"hi").unwrap();
        });
        let mut c = Conn::connect(
            &Target::Unix(sock.clone()),
            Deadline::after(Duration::from_secs(2)),
            None,
        )
        .unwrap();
        assert!(c.is_unix());
        let mut b = [0u8; 2];
        c.recv_exact(&mut b).unwrap();
        assert_eq!(&b, b"hi");
        h.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
