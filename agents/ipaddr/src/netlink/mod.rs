//! A small synchronous rtnetlink client: exactly the requests this agent
//! needs (addresses, one link, routes, address labels), as
//! `netlink-packet-route` messages over a `netlink-sys` socket. No `ip`
//! fork, no async runtime; every receive is bounded by a socket timeout,
//! and a dump raced by another change is read again.

mod message;
mod reply;

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use netlink_packet_core::{Emitable, NetlinkHeader};
use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::AddressHeader;
use netlink_packet_route::link::{LinkFlags, LinkHeader};
use netlink_packet_route::route::RouteHeader;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use ocf::{Deadline, OcfError, OcfResult};

pub use message::{
    Addr, Link, NewAddr, RT_TABLE_MAIN, Route, add_message, add_request, addrlabel_message,
    family_of, parse_addr, parse_link, parse_route,
};
pub use netlink_packet_route::AddressFamily;
pub use netlink_packet_route::address::AddressFlags;
pub use netlink_packet_route::route::{RouteScope, RouteType};
pub use reply::{Collect, HEADER_LEN, Message, done_status, error_status, messages};

// Message types of <linux/rtnetlink.h> (netlink-packet-route keeps its
// own private): each request goes out as its own message, not through
// RouteNetlinkMessage, whose serializer would link in the emitters of
// every message the kernel knows (traffic control, link kinds, ...).
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWADDRLABEL: u16 = 72;
const RTM_DELADDRLABEL: u16 = 73;

/// How many times a dump is read before the caller gets an error while
/// the kernel marks each one interrupted (and within the socket's deadline
/// too). Only an interface with hundreds of addresses needs more than one
/// datagram for its dump, which a change can interrupt; with 3,000 and
/// another writer changing addresses without a pause, about half of the
/// dumps here were marked, and 10 tries in a row were seen to fail.
pub const DUMP_TRIES: u32 = 50;

/// The size of the receive buffer: a dump datagram is at most 32 KiB.
const RECV_BUF: usize = 1 << 16;

pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
    /// Past this, an interrupted dump is not read again.
    until: Instant,
    /// Dumps read again because the kernel marked them interrupted.
    pub interrupted: u32,
}

impl Netlink {
    /// Open a route socket in the calling thread's network namespace; every
    /// answer must come within `timeout`.
    pub fn open(timeout: Duration) -> io::Result<Netlink> {
        let socket = Socket::new(NETLINK_ROUTE)?;
        let t = timeout.max(Duration::from_millis(100));
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(t),
        )?;
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
            until: Instant::now() + t,
            interrupted: 0,
        })
    }

    /// The socket, for tests that bind it to learn its port.
    #[cfg(test)]
    pub(crate) fn socket_mut(&mut self) -> &mut Socket {
        &mut self.socket
    }

    /// The sequence number of the next request.
    #[cfg(test)]
    pub(crate) fn next_seq(&self) -> u32 {
        self.seq.wrapping_add(1)
    }

    /// Send one request: a netlink header of type `kind`, then `body` (a
    /// message of netlink-packet-route, or only its fixed header).
    fn send(&mut self, kind: u16, flags: u16, body: &impl Emitable) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut h = NetlinkHeader::default();
        h.length = (HEADER_LEN + body.buffer_len()) as u32;
        h.message_type = kind;
        h.flags = flags | NLM_F_REQUEST;
        h.sequence_number = self.seq;
        let mut buf = vec![0; h.length as usize];
        h.emit(&mut buf[..HEADER_LEN]);
        body.emit(&mut buf[HEADER_LEN..]);
        self.socket.send_to(&buf, &SocketAddr::new(0, 0), 0)?;
        Ok(self.seq)
    }

    /// Read the kernel's datagrams into `c` until its answer is complete.
    fn receive<T>(&mut self, mut c: Collect<T>) -> io::Result<Collect<T>> {
        loop {
            self.buf.clear();
            // MSG_TRUNC makes the answer the datagram's real length.
            let (n, from) = match self.socket.recv_from(&mut self.buf, libc::MSG_TRUNC) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel (netlink)",
                    ));
                }
                Err(e) => return Err(e),
            };
            // Only the kernel (port 0) answers; a part of a reply cut off
            // would be read as the whole of it.
            if from.port_number() != 0 {
                continue;
            }
            if n > self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a netlink reply of {n} bytes does not fit {}",
                        self.buf.capacity()
                    ),
                ));
            }
            if c.take(&self.buf[..n])? {
                return Ok(c);
            }
        }
    }

    /// A request answered by an ACK or a NACK.
    fn acked(&mut self, kind: u16, flags: u16, body: &impl Emitable) -> io::Result<()> {
        let seq = self.send(kind, flags | NLM_F_ACK, body)?;
        self.receive(Collect::new(seq, 0, false, |_| Some(())))
            .map(|_| ())
    }

    /// A dump, read again while the kernel marks it interrupted, unless it
    /// shows an item `wanted` picks.
    fn dump<T>(
        &mut self,
        kind: u16,
        body: &impl Emitable,
        want: u16,
        parse: fn(&[u8]) -> Option<T>,
        wanted: impl Fn(&T) -> bool,
    ) -> io::Result<Vec<T>> {
        let until = self.until;
        let mut seen = 0;
        let r = until_consistent(DUMP_TRIES, until, wanted, || {
            let seq = self.send(kind, NLM_F_DUMP, body)?;
            let c = self.receive(Collect::new(seq, want, true, parse))?;
            seen += u32::from(c.interrupted);
            Ok((c.items, c.interrupted))
        });
        self.interrupted += seen;
        r
    }

    /// Every address of `family` on every link, from a dump the kernel did
    /// not mark interrupted.
    pub fn addresses(&mut self, family: AddressFamily) -> io::Result<Vec<Addr>> {
        self.addresses_seeking(family, |_| false)
    }

    /// Every address of `family`, from a dump the kernel did not mark
    /// interrupted, or from one that shows an address `wanted` picks: what
    /// a raced dump shows was there, only what it lacks is in doubt. So a
    /// monitor that finds its address needs no quiet moment to say so.
    pub fn addresses_seeking(
        &mut self,
        family: AddressFamily,
        wanted: impl Fn(&Addr) -> bool,
    ) -> io::Result<Vec<Addr>> {
        let h = AddressHeader {
            family,
            ..AddressHeader::default()
        };
        self.dump(RTM_GETADDR, &h, RTM_NEWADDR, parse_addr, wanted)
    }

    /// One link by index.
    pub fn link(&mut self, index: u32) -> io::Result<Link> {
        let h = LinkHeader {
            index,
            ..LinkHeader::default()
        };
        let seq = self.send(RTM_GETLINK, 0, &h)?;
        self.receive(Collect::new(seq, RTM_NEWLINK, false, parse_link))?
            .items
            .pop()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    /// Every route of `family` in every table.
    pub fn routes(&mut self, family: AddressFamily) -> io::Result<Vec<Route>> {
        let h = RouteHeader {
            address_family: family,
            ..RouteHeader::default()
        };
        self.dump(RTM_GETROUTE, &h, RTM_NEWROUTE, parse_route, |_| false)
    }

    /// `ip link set dev <index> up`.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let h = LinkHeader {
            index,
            flags: LinkFlags::Up,
            change_mask: LinkFlags::Up,
            ..LinkHeader::default()
        };
        self.acked(RTM_NEWLINK, 0, &h)
    }

    /// `ip addr add` (fails with EEXIST if the same address is there).
    pub fn add_address(&mut self, a: &NewAddr) -> io::Result<()> {
        let m = add_message(a);
        self.acked(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &m)
    }

    /// `ip addr del ip/prefix dev <index>`.
    pub fn del_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> io::Result<()> {
        let m = message::del_message(index, ip, prefix);
        self.acked(RTM_DELADDR, 0, &m)
    }

    /// `ip addrlabel add prefix IP/128 label N` (EEXIST if it is there).
    pub fn add_addrlabel(&mut self, ip: Ipv6Addr, label: u32) -> io::Result<()> {
        let m = addrlabel_message(ip, label);
        self.acked(RTM_NEWADDRLABEL, NLM_F_CREATE | NLM_F_EXCL, &m)
    }

    /// `ip addrlabel del prefix IP/128 label N` (ESRCH if it is not there).
    pub fn del_addrlabel(&mut self, ip: Ipv6Addr, label: u32) -> io::Result<()> {
        let m = addrlabel_message(ip, label);
        self.acked(RTM_DELADDRLABEL, 0, &m)
    }
}

/// A socket for one action: every answer within the action's deadline,
/// and at most 5 s; an interrupted dump read again until that deadline.
pub fn open(dl: &Deadline) -> OcfResult<Netlink> {
    let mut nl = Netlink::open(dl.remaining().min(Duration::from_secs(5)))
        .map_err(|e| err("open a netlink socket", e))?;
    // Dumps are read again until the action's deadline, whatever each
    // answer may take.
    nl.until = nl.until.max(Instant::now() + dl.remaining());
    Ok(nl)
}

/// The action's error for a request that failed.
pub fn err(what: &str, e: io::Error) -> OcfError {
    OcfError::generic(format!("cannot {what}: {e}"))
}

/// Run `once` (one whole dump: its items, and whether the kernel marked it
/// interrupted) until a dump comes back whole, at most `tries` times and
/// not past `until`. A dump raced by another change may miss entries (our
/// address among them: monitor would answer 7 and Pacemaker recover for
/// nothing), so an interrupted one is returned only when it shows an item
/// `wanted` picks (it cannot invent one: what it shows was there).
pub fn until_consistent<T>(
    tries: u32,
    until: Instant,
    wanted: impl Fn(&T) -> bool,
    mut once: impl FnMut() -> io::Result<(Vec<T>, bool)>,
) -> io::Result<Vec<T>> {
    for n in 1..=tries {
        let (items, interrupted) = once()?;
        if !interrupted {
            return Ok(items);
        }
        if items.iter().any(&wanted) {
            ocf::debug!(
                "a netlink dump was interrupted by a concurrent change (NLM_F_DUMP_INTR), but it shows what we look for"
            );
            return Ok(items);
        }
        ocf::debug!(
            "a netlink dump was interrupted by a concurrent change (NLM_F_DUMP_INTR) and may miss entries: reading it again"
        );
        if Instant::now() >= until {
            return Err(io::Error::other(format!(
                "the kernel's netlink dump was interrupted by concurrent changes {n} times, until the deadline"
            )));
        }
    }
    Err(io::Error::other(format!(
        "the kernel's netlink dump was interrupted by concurrent changes {tries} times in a row"
    )))
}

/// A socket for the interface ioctls, in the calling thread's namespace.
fn ioctl_socket() -> io::Result<std::os::fd::OwnedFd> {
    Ok(rustix::net::socket_with(
        rustix::net::AddressFamily::NETLINK,
        rustix::net::SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        None, // protocol 0: NETLINK_ROUTE
    )?)
}

/// The index of interface `name` in the current namespace (no fork: the
/// SIOCGIFINDEX ioctl, as if_nametoindex(3) does).
pub fn index_of(name: &str) -> Option<u32> {
    let fd = ioctl_socket().ok()?;
    rustix::net::netdevice::name_to_index(&fd, name)
        .ok()
        .filter(|i| *i != 0)
}

/// The name of interface `index`, for log lines.
pub fn name_of(index: u32) -> String {
    ioctl_socket()
        .and_then(|fd| Ok(rustix::net::netdevice::index_to_name(&fd, index)?))
        .unwrap_or_else(|_| format!("if#{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    use netlink_packet_core::NLMSG_ERROR;

    use reply::tests::frame;

    /// Another netlink socket on the node (a process with CAP_NET_ADMIN)
    /// sends our socket a forged answer before the kernel's: an error for
    /// the request we are about to make. Only the kernel's answer counts;
    /// before the fix the forged one was taken as the kernel's.
    #[test]
    fn a_forged_answer_from_another_socket_is_ignored() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (CAP_NET_ADMIN) to send to another socket");
            return;
        }
        let mut nl = Netlink::open(Duration::from_secs(2)).unwrap();
        let me = nl.socket_mut().bind_auto().unwrap();
        let forger = Socket::new(NETLINK_ROUTE).unwrap();
        let forged = frame(
            NLMSG_ERROR,
            0,
            nl.next_seq(),
            &(-libc::ENODEV).to_ne_bytes(),
        );
        let n = forger
            .send_to(&forged, &SocketAddr::new(me.port_number(), 0), 0)
            .unwrap();
        assert_eq!(n, forged.len());
        let lo = index_of("lo").unwrap();
        let link = nl
            .link(lo)
            .expect("the kernel's answer, not the forged ENODEV");
        assert_eq!(link.name, "lo");
        assert_eq!(name_of(lo), "lo");
        assert_eq!(index_of("no-such-if0"), None);
    }

    /// An interrupted dump is read again, and never returned; the retries
    /// end at the count or at the deadline, with an error.
    #[test]
    fn an_interrupted_dump_is_read_again() {
        let far = Instant::now() + Duration::from_secs(60);
        let mut calls = 0;
        let got = until_consistent(
            DUMP_TRIES,
            far,
            |_| false,
            || {
                calls += 1;
                Ok((vec![calls], calls < 3))
            },
        )
        .unwrap();
        assert_eq!((got, calls), (vec![3], 3));

        // An interrupted dump that shows what we look for is good enough.
        let mut calls = 0;
        let got = until_consistent(
            DUMP_TRIES,
            far,
            |i| *i == 2,
            || {
                calls += 1;
                Ok((vec![calls], true))
            },
        )
        .unwrap();
        assert_eq!((got, calls), (vec![2], 2));

        let mut calls = 0;
        let e = until_consistent(
            DUMP_TRIES,
            far,
            |_| false,
            || {
                calls += 1;
                Ok((vec![calls], true))
            },
        )
        .unwrap_err();
        assert_eq!(calls, DUMP_TRIES);
        assert!(e.to_string().contains("interrupted"), "{e}");

        let mut calls = 0;
        let past = Instant::now();
        until_consistent(
            DUMP_TRIES,
            past,
            |_| false,
            || {
                calls += 1;
                Ok((vec![()], true))
            },
        )
        .unwrap_err();
        assert_eq!(calls, 1, "no second try past the deadline");

        let e = until_consistent::<()>(DUMP_TRIES, far, |_| true, || Err(io::Error::other("x")))
            .unwrap_err();
        assert_eq!(e.to_string(), "x");
    }

    /// A real dump of this namespace's addresses reads lo's 127.0.0.1.
    #[test]
    fn a_real_dump_reads_the_loopback_address() {
        let mut nl = Netlink::open(Duration::from_secs(2)).unwrap();
        let lo = index_of("lo").unwrap();
        let addrs = nl.addresses(AddressFamily::Inet).unwrap();
        if nl.link(lo).is_ok_and(|l| l.is_up()) {
            assert!(
                addrs
                    .iter()
                    .any(|a| a.index == lo && a.address == IpAddr::V4(Ipv4Addr::LOCALHOST)),
                "{addrs:?}"
            );
        }
        let routes = nl.routes(AddressFamily::Inet).unwrap();
        assert!(routes.iter().all(|r| r.dst_len <= 32), "{routes:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes as a datagram or a message body: no panic, and every
        /// body lies inside the datagram.
        #[test]
        fn any_reply_bytes_parse_without_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut total = 0;
            for m in messages(&data) {
                total += HEADER_LEN + m.body.len();
                let _ = parse_addr(m.body);
                let _ = parse_link(m.body);
                let _ = parse_route(m.body);
                let _ = error_status(m.body);
                let _ = done_status(m.body);
            }
            proptest::prop_assert!(total <= data.len());
            for (want, dump) in [(RTM_NEWADDR, true), (RTM_NEWLINK, false)] {
                let mut c = Collect::new(0, want, dump, parse_addr);
                let _ = c.take(&data);
            }
            let _ = parse_addr(&data);
            let _ = parse_link(&data);
            let _ = parse_route(&data);
            let _ = crate::announce::claims(&data, Ipv4Addr::LOCALHOST, [2, 0, 0, 0, 0, 1]);
        }
    }
}
