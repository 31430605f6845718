//! A client connection (TCP or unix socket) where every byte moved is
//! bounded by ONE deadline: connect, authentication and query together.
//!
//! The socket is non-blocking; each read and write that would block polls
//! for at most the time left before the deadline. A server that accepts and
//! then never answers costs at most the time left, never more.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::Deadline;

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

enum Inner {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected socket whose every operation is bounded by `deadline`.
pub struct Conn {
    inner: Inner,
    deadline: Deadline,
    pub target: Target,
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
                let addrs: Vec<_> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| {
                        ProbeError::new(
                            Phase::Connect,
                            ProbeErrorKind::Unreachable(format!("cannot resolve {host}: {e}")),
                        )
                    })?
                    .collect();
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
        })
    }

    pub fn is_unix(&self) -> bool {
        matches!(self.inner, Inner::Unix(_))
    }

    /// TCP to this host's own loopback: no one can sit in between.
    pub fn is_loopback(&self) -> bool {
        match &self.inner {
            Inner::Tcp(s) => s.peer_addr().is_ok_and(|a| a.ip().is_loopback()),
            Inner::Unix(_) => false,
        }
    }

    fn fd(&self) -> RawFd {
        match &self.inner {
            Inner::Tcp(s) => s.as_raw_fd(),
            Inner::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Wait until the socket is ready for `events`, or the deadline passes.
    /// poll(2) runs on high-resolution timers; SO_RCVTIMEO rides the timer
    /// wheel, which overshoots a few-second timeout by up to a tenth or more.
    fn wait(&self, events: libc::c_short) -> io::Result<()> {
        loop {
            let left = self.deadline.remaining();
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let mut p = libc::pollfd {
                fd: self.fd(),
                events,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n > 0 {
                return Ok(());
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }

    /// Write all of `buf` before the deadline.
    pub fn send(&mut self, buf: &[u8]) -> io::Result<()> {
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLOUT)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read some bytes (at least one) before the deadline; EOF is an error.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = match &mut self.inner {
                Inner::Tcp(s) => s.read(buf),
                Inner::Unix(s) => s.read(buf),
            };
            match n {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(libc::POLLIN)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Read exactly `buf.len()` bytes before the deadline.
    pub fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            done += self.recv(&mut buf[done..])?;
        }
        Ok(())
    }
}

/// Connect a unix stream socket without blocking past the deadline (a
/// stopped server's full backlog blocks a plain connect), optionally with
/// another OS identity so that peer authentication sees it.
///
/// The identity is switched with the raw setresgid/setresuid syscalls in a
/// short-lived thread: unlike the libc wrappers, they change that thread
/// only, and the kernel records the peer credentials at connect time. No
/// fork, and the agent's other threads stay root.
fn unix_connect(
    path: &Path,
    deadline: Deadline,
    identity: Option<PeerIdentity>,
) -> io::Result<UnixStream> {
    match identity {
        None => unix_connect_here(path, deadline),
        Some(id) => std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: plain syscalls changing only this thread's ids.
                unsafe {
                    if libc::syscall(libc::SYS_setresgid, -1i64, id.gid as i64, -1i64) != 0
                        || libc::syscall(libc::SYS_setresuid, -1i64, id.uid as i64, -1i64) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                unix_connect_here(path, deadline)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("connect thread panicked")))
        }),
    }
}

fn unix_connect_here(path: &Path, deadline: Deadline) -> io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data; zeroed is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket path {} is too long", path.display()),
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: a new socket; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // A stopped server's full backlog gives EAGAIN on a non-blocking unix
    // connect: retry, bounded by the deadline.
    loop {
        // SAFETY: addr is a valid sockaddr_un of `len` bytes.
        let rc = unsafe { libc::connect(fd, (&raw const addr).cast(), len) };
        if rc == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
        if !deadline.sleep(Duration::from_millis(10)) {
            return Err(io::ErrorKind::TimedOut.into());
        }
    }
    Ok(UnixStream::from(owned))
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
