//! Name resolution under a deadline. `getaddrinfo` has no timeout of its
//! own and can wait for an unreachable DNS server for 5 s per try and per
//! server (resolv.conf's defaults: 30 s and more); an action must not. The
//! lookup runs in a helper thread; when the deadline passes first we stop
//! waiting for it (the thread ends with the process).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;

use crate::deadline::Deadline;

/// The addresses of `host:port`, or an error once `dl` passes. A literal
/// address is answered at once, without a thread.
pub fn resolve(host: &str, port: u16, dl: &Deadline) -> io::Result<Vec<SocketAddr>> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("ocf-resolve".into())
        .spawn(move || {
            let r = (name.as_str(), port).to_socket_addrs().map(Vec::from_iter);
            let _ = tx.send(r);
        })?;
    match rx.recv_timeout(dl.remaining()) {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("resolving {host} did not finish in time"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn literals_need_no_lookup_and_names_resolve() {
        let dl = Deadline::after(Duration::from_secs(5));
        assert_eq!(
            resolve("192.0.2.1", 5432, &dl).unwrap(),
            vec!["192.0.2.1:5432".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 3306, &dl).unwrap(),
            vec!["[::1]:3306".parse().unwrap()]
        );
        assert!(!resolve("localhost", 1, &dl).unwrap().is_empty());
    }

    #[test]
    fn an_expired_deadline_ends_the_wait() {
        let dl = Deadline::after(Duration::ZERO);
        let err = resolve("name.invalid", 1, &dl).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
