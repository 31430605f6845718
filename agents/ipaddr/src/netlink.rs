//! A small synchronous rtnetlink client: exactly the requests this agent
//! needs (addresses, one link, routes), built and parsed by hand over a raw
//! `NETLINK_ROUTE` socket. No `ip` fork, no async runtime, no dependency
//! beyond libc; every receive is bounded by a socket timeout.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

// Message types, flags and attribute numbers from <linux/rtnetlink.h>,
// <linux/if_addr.h>, <linux/if_link.h> (stable kernel ABI).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWADDRLABEL: u16 = 72;
const RTM_DELADDRLABEL: u16 = 73;
const IFAL_ADDRESS: u16 = 1;
const IFAL_LABEL: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_OPERSTATE: u16 = 16;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;

/// Address flags (`IFA_F_*`).
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;

/// `IF_OPER_*` values of `IFLA_OPERSTATE`.
pub const IF_OPER_DOWN: u8 = 2;
pub const IF_OPER_LOWERLAYERDOWN: u8 = 3;

pub const RT_TABLE_MAIN: u32 = 254;
pub const RTN_UNICAST: u8 = 1;
pub const RT_SCOPE_LINK: u8 = 253;

const HDR: usize = 16;

/// An address as the kernel reports it (`RTM_NEWADDR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub prefix: u8,
    pub flags: u32,
    pub address: IpAddr,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
}

/// The parts of a link (`RTM_NEWLINK`) the agent looks at.
#[derive(Clone, Debug, Default)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub flags: u32,
    pub operstate: u8,
    pub hwaddr: Vec<u8>,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }
    /// Administratively up and not reported down by the driver (no carrier).
    pub fn is_usable(&self) -> bool {
        self.is_up() && !matches!(self.operstate, IF_OPER_DOWN | IF_OPER_LOWERLAYERDOWN)
    }
    pub fn no_arp(&self) -> bool {
        self.flags & libc::IFF_NOARP as u32 != 0
    }
    pub fn mac(&self) -> Option<[u8; 6]> {
        <[u8; 6]>::try_from(self.hwaddr.as_slice())
            .ok()
            .filter(|m| m.iter().any(|b| *b != 0))
    }
}

/// A route (`RTM_NEWROUTE`), for finding the interface and prefix of an
/// address in start (never in monitor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: Option<IpAddr>,
    pub dst_len: u8,
    pub table: u32,
    pub kind: u8,
    pub scope: u8,
    pub oif: Option<u32>,
    pub gateway: bool,
    pub priority: u32,
    pub prefsrc: Option<IpAddr>,
}

/// What to add: everything `ip addr add` would send for our parameters.
#[derive(Clone, Debug)]
pub struct NewAddr {
    pub index: u32,
    pub address: IpAddr,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
    pub label: Option<String>,
    pub flags: u32,
    /// Preferred lifetime in seconds; `None` is forever.
    pub preferred_lft: Option<u32>,
}

pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn parse_ip(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))),
        _ => None,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes(s.try_into().unwrap()))
        .unwrap_or(0)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map(|s| u16::from_ne_bytes(s.try_into().unwrap()))
        .unwrap_or(0)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// Append one `rtattr` (length, type, payload, padding).
fn push_attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align4(buf.len()), 0);
}

/// Iterate the `rtattr`s of a message body.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16_at(b, 0) as usize;
        if len < 4 || len > b.len() {
            return None;
        }
        let kind = u16_at(b, 2) & 0x3fff; // strip NLA_F_NESTED / NET_BYTEORDER
        let data = &b[4..len];
        b = &b[align4(len).min(b.len())..];
        Some((kind, data))
    })
}

/// Parse an `RTM_NEWADDR` body (ifaddrmsg + attributes).
pub fn parse_addr(body: &[u8]) -> Option<Addr> {
    if body.len() < 8 {
        return None;
    }
    let fam = body[0];
    let mut a = Addr {
        index: u32_at(body, 4),
        prefix: body[1],
        flags: body[2] as u32,
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        label: None,
        broadcast: None,
    };
    let (mut local, mut address) = (None, None);
    for (kind, data) in attrs(&body[8..]) {
        match kind {
            IFA_LOCAL => local = parse_ip(data),
            IFA_ADDRESS => address = parse_ip(data),
            IFA_LABEL => a.label = Some(c_string(data)),
            IFA_BROADCAST => {
                if let Some(IpAddr::V4(b)) = parse_ip(data) {
                    a.broadcast = Some(b)
                }
            }
            IFA_FLAGS if data.len() >= 4 => a.flags = u32_at(data, 0),
            _ => {}
        }
    }
    // IPv4 keeps our address in IFA_LOCAL (IFA_ADDRESS is the peer on
    // point-to-point links); IPv6 sends IFA_ADDRESS only.
    a.address = if fam == libc::AF_INET as u8 {
        local.or(address)?
    } else {
        address.or(local)?
    };
    Some(a)
}

/// Parse an `RTM_NEWLINK` body (ifinfomsg + attributes).
pub fn parse_link(body: &[u8]) -> Option<Link> {
    if body.len() < 16 {
        return None;
    }
    let mut l = Link {
        index: u32_at(body, 4),
        flags: u32_at(body, 8),
        ..Link::default()
    };
    for (kind, data) in attrs(&body[16..]) {
        match kind {
            IFLA_IFNAME => l.name = c_string(data),
            IFLA_ADDRESS => l.hwaddr = data.to_vec(),
            IFLA_OPERSTATE if !data.is_empty() => l.operstate = data[0],
            _ => {}
        }
    }
    Some(l)
}

/// Parse an `RTM_NEWROUTE` body (rtmsg + attributes).
pub fn parse_route(body: &[u8]) -> Option<Route> {
    if body.len() < 12 {
        return None;
    }
    let mut r = Route {
        dst: None,
        dst_len: body[1],
        table: body[4] as u32,
        kind: body[7],
        scope: body[6],
        oif: None,
        gateway: false,
        priority: 0,
        prefsrc: None,
    };
    // A 32-bit attribute shorter than 4 bytes is not one: it is skipped
    // (an interface index 0 would name no interface).
    let word = |data: &[u8]| (data.len() >= 4).then(|| u32_at(data, 0));
    for (kind, data) in attrs(&body[12..]) {
        match kind {
            RTA_DST => r.dst = parse_ip(data),
            RTA_OIF => r.oif = word(data).filter(|i| *i > 0).or(r.oif),
            RTA_GATEWAY => r.gateway = true,
            RTA_PRIORITY => r.priority = word(data).unwrap_or(r.priority),
            RTA_PREFSRC => r.prefsrc = parse_ip(data),
            RTA_TABLE => r.table = word(data).unwrap_or(r.table),
            _ => {}
        }
    }
    Some(r)
}

/// One netlink message of a reply datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// The messages of one datagram, in order. A header whose length is
/// shorter than a header or runs past the datagram ends it: nothing after
/// a malformed message can be framed.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut b = buf;
    std::iter::from_fn(move || {
        if b.len() < HDR {
            return None;
        }
        let len = u32_at(b, 0) as usize;
        if len < HDR || len > b.len() {
            b = &[];
            return None;
        }
        let m = Message {
            kind: u16_at(b, 4),
            flags: u16_at(b, 6),
            seq: u32_at(b, 8),
            body: &b[HDR..len],
        };
        b = &b[align4(len).min(b.len())..];
        Some(m)
    })
}

/// The answer an `NLMSG_ERROR` body carries: Ok for an ACK (error 0), the
/// errno otherwise. A body too short to hold the error, or a value that is
/// no negative errno, is a protocol error, never taken for an ACK.
pub fn error_status(body: &[u8]) -> io::Result<()> {
    if body.len() < 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a truncated netlink error message",
        ));
    }
    match u32_at(body, 0) as i32 {
        0 => Ok(()),
        e if (-4095..0).contains(&e) => Err(io::Error::from_raw_os_error(-e)),
        e => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a netlink error message with error {e}"),
        )),
    }
}

impl Netlink {
    /// Open a route socket in the calling thread's network namespace.
    pub fn open(timeout: Duration) -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the fd is owned right after.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid fd.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let t = timeout.max(Duration::from_millis(100));
        let tv = libc::timeval {
            tv_sec: t.as_secs() as libc::time_t,
            tv_usec: t.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: setsockopt with a timeval of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink { fd, seq: 0 })
    }

    fn send(&mut self, kind: u16, flags: u16, body: &[u8]) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = Vec::with_capacity(HDR + body.len());
        msg.extend_from_slice(&((HDR + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: a zeroed sockaddr_nl addressed to the kernel (pid 0).
        let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        to.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg and to outlive the call; lengths match.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
                &to as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(self.seq)
    }

    /// Receive replies to `seq` until DONE (dump) or the ACK/NACK; returns
    /// the bodies of messages of type `want`.
    fn collect(&mut self, seq: u32, want: u16, dump: bool) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            // SAFETY: a zeroed sockaddr_nl is valid; recvfrom fills it.
            let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: buf and from are valid for their lengths. MSG_TRUNC
            // makes the answer the datagram's real length.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_TRUNC,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if e.kind() == io::ErrorKind::WouldBlock {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel (netlink)",
                    ));
                }
                return Err(e);
            }
            // Only the kernel (port 0) answers; a part of a reply cut off
            // would be read as the whole of it.
            if from.nl_pid != 0 {
                continue;
            }
            if n as usize > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a netlink reply of {n} bytes does not fit {}", buf.len()),
                ));
            }
            for m in messages(&buf[..n as usize]) {
                if m.seq != seq {
                    continue;
                }
                match m.kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        error_status(m.body)?;
                        if !dump {
                            return Ok(out);
                        }
                    }
                    k if k == want => {
                        out.push(m.body.to_vec());
                        if !dump {
                            // A single answer (GETLINK by index): no ACK follows.
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Every address of `family` (AF_INET or AF_INET6) on every link.
    pub fn addresses(&mut self, family: u8) -> io::Result<Vec<Addr>> {
        let body = [family, 0, 0, 0, 0, 0, 0, 0];
        let seq = self.send(RTM_GETADDR, NLM_F_DUMP, &body)?;
        Ok(self
            .collect(seq, RTM_NEWADDR, true)?
            .iter()
            .filter_map(|b| parse_addr(b))
            .collect())
    }

    /// One link by index.
    pub fn link(&mut self, index: u32) -> io::Result<Link> {
        let mut body = vec![0u8; 16];
        body[4..8].copy_from_slice(&index.to_ne_bytes());
        let seq = self.send(RTM_GETLINK, 0, &body)?;
        self.collect(seq, RTM_NEWLINK, false)?
            .first()
            .and_then(|b| parse_link(b))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    /// Every route of `family` in every table.
    pub fn routes(&mut self, family: u8) -> io::Result<Vec<Route>> {
        let mut body = vec![0u8; 12];
        body[0] = family;
        let seq = self.send(RTM_GETROUTE, NLM_F_DUMP, &body)?;
        Ok(self
            .collect(seq, 24, true)? // RTM_NEWROUTE
            .iter()
            .filter_map(|b| parse_route(b))
            .collect())
    }

    /// `ip link set dev <index> up`.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut body = vec![0u8; 16];
        body[4..8].copy_from_slice(&index.to_ne_bytes());
        let up = libc::IFF_UP as u32;
        body[8..12].copy_from_slice(&up.to_ne_bytes());
        body[12..16].copy_from_slice(&up.to_ne_bytes());
        let seq = self.send(RTM_NEWLINK, NLM_F_ACK, &body)?;
        self.collect(seq, 0, false).map(|_| ())
    }

    /// `ip addr add` (fails with EEXIST if the same address is there).
    pub fn add_address(&mut self, a: &NewAddr) -> io::Result<()> {
        let body = add_request(a);
        let seq = self.send(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &body)?;
        self.collect(seq, 0, false).map(|_| ())
    }

    /// `ip addrlabel add prefix IP/128 label N` (EEXIST if it is there).
    pub fn add_addrlabel(&mut self, ip: Ipv6Addr, label: u32) -> io::Result<()> {
        let body = addrlabel_request(ip, label);
        let seq = self.send(
            RTM_NEWADDRLABEL,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &body,
        )?;
        self.collect(seq, 0, false).map(|_| ())
    }

    /// `ip addrlabel del prefix IP/128 label N` (ESRCH if it is not there).
    pub fn del_addrlabel(&mut self, ip: Ipv6Addr, label: u32) -> io::Result<()> {
        let body = addrlabel_request(ip, label);
        let seq = self.send(RTM_DELADDRLABEL, NLM_F_ACK, &body)?;
        self.collect(seq, 0, false).map(|_| ())
    }

    /// `ip addr del ip/prefix dev <index>`.
    pub fn del_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> io::Result<()> {
        let mut body = vec![family(&ip), prefix, 0, 0];
        body.extend_from_slice(&index.to_ne_bytes());
        let bytes = ip_bytes(&ip);
        push_attr(&mut body, IFA_LOCAL, &bytes);
        push_attr(&mut body, IFA_ADDRESS, &bytes);
        let seq = self.send(RTM_DELADDR, NLM_F_ACK, &body)?;
        self.collect(seq, 0, false).map(|_| ())
    }
}

/// The body of an address label request for `ip`/128 on any interface
/// (struct ifaddrlblmsg, then the prefix and the label).
pub fn addrlabel_request(ip: Ipv6Addr, label: u32) -> Vec<u8> {
    let mut body = vec![libc::AF_INET6 as u8, 0, 128, 0];
    body.extend_from_slice(&0u32.to_ne_bytes()); // ifal_index: any
    body.extend_from_slice(&0u32.to_ne_bytes()); // ifal_seq
    push_attr(&mut body, IFAL_ADDRESS, &ip.octets());
    push_attr(&mut body, IFAL_LABEL, &label.to_ne_bytes());
    body
}

/// The RTM_NEWADDR body for `a` (split out for unit tests).
pub fn add_request(a: &NewAddr) -> Vec<u8> {
    let mut body = vec![family(&a.address), a.prefix, (a.flags & 0xff) as u8, 0];
    body.extend_from_slice(&a.index.to_ne_bytes());
    let bytes = ip_bytes(&a.address);
    push_attr(&mut body, IFA_LOCAL, &bytes);
    push_attr(&mut body, IFA_ADDRESS, &bytes);
    if let Some(b) = a.broadcast {
        push_attr(&mut body, IFA_BROADCAST, &b.octets());
    }
    if let Some(l) = &a.label {
        let mut z = l.as_bytes().to_vec();
        z.push(0);
        push_attr(&mut body, IFA_LABEL, &z);
    }
    push_attr(&mut body, IFA_FLAGS, &a.flags.to_ne_bytes());
    if let Some(p) = a.preferred_lft {
        // struct ifa_cacheinfo { prefered, valid, cstamp, tstamp }
        let mut ci = Vec::with_capacity(16);
        ci.extend_from_slice(&p.to_ne_bytes());
        ci.extend_from_slice(&u32::MAX.to_ne_bytes());
        ci.extend_from_slice(&[0u8; 8]);
        push_attr(&mut body, IFA_CACHEINFO, &ci);
    }
    body
}

/// The index of interface `name` in the current namespace (no fork: an
/// ioctl on a socket, through libc).
pub fn index_of(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The name of interface `index`, for log lines.
pub fn name_of(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("if#{index}");
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name into buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_request_round_trips_through_the_parser() {
        let a = NewAddr {
            index: 7,
            address: "198.51.100.9".parse().unwrap(),
            prefix: 24,
            broadcast: Some("198.51.100.255".parse().unwrap()),
            label: Some("veth0:vip".into()),
            flags: IFA_F_NOPREFIXROUTE,
            preferred_lft: Some(0),
        };
        let body = add_request(&a);
        assert_eq!(body.len() % 4, 0);
        let back = parse_addr(&body).unwrap();
        assert_eq!(back.index, 7);
        assert_eq!(back.prefix, 24);
        assert_eq!(back.address, a.address);
        assert_eq!(back.broadcast, a.broadcast);
        assert_eq!(back.label.as_deref(), Some("veth0:vip"));
        assert_eq!(back.flags, IFA_F_NOPREFIXROUTE);
    }

    #[test]
    fn truncated_or_garbage_input_never_panics() {
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = parse_addr(&junk);
            let _ = parse_link(&junk);
            let _ = parse_route(&junk);
        }
    }

    #[test]
    fn link_state_words() {
        let mut l = Link {
            flags: libc::IFF_UP as u32,
            operstate: 6,
            hwaddr: vec![2, 0, 0, 0, 0, 1],
            ..Link::default()
        };
        assert!(l.is_usable());
        assert_eq!(l.mac(), Some([2, 0, 0, 0, 0, 1]));
        l.operstate = IF_OPER_LOWERLAYERDOWN;
        assert!(!l.is_usable());
        l.flags = 0;
        l.operstate = 0;
        assert!(!l.is_usable());
        l.hwaddr = vec![0; 6];
        assert_eq!(l.mac(), None, "all-zero MAC (lo) is no MAC");
    }

    /// One message as the kernel frames it: header, body, padding.
    fn frame(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((HDR + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(align4(m.len()), 0);
        m
    }

    /// Hostile or damaged replies: a truncated NLMSG_ERROR was taken for an
    /// ACK, an error of i32::MIN overflowed on negation (a panic in debug
    /// builds), a short RTA_OIF became interface 0.
    #[test]
    fn malformed_replies_are_errors_not_acks() {
        assert!(error_status(&0i32.to_ne_bytes()).is_ok());
        let e = error_status(&(-libc::EEXIST).to_ne_bytes()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        for bad in [
            &[][..],
            &[0, 0][..],
            &i32::MIN.to_ne_bytes()[..],
            &5i32.to_ne_bytes()[..],
        ] {
            let e = error_status(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
        let mut body = vec![libc::AF_INET as u8, 24, 0, 0, 254, 0, 253, 1, 0, 0, 0, 0];
        push_attr(&mut body, RTA_OIF, &[7, 0]);
        assert_eq!(parse_route(&body).unwrap().oif, None);
        push_attr(&mut body, RTA_TABLE, &[1]);
        assert_eq!(parse_route(&body).unwrap().table, 254);

        // Framing: a length past the datagram, or shorter than a header,
        // ends it; padding is skipped.
        let mut dgram = frame(RTM_NEWADDR, 2, 9, &[1, 2, 3]);
        dgram.extend(frame(NLMSG_DONE, 2, 9, &[0; 4]));
        let got: Vec<_> = messages(&dgram).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].kind, got[0].seq, got[0].body),
            (RTM_NEWADDR, 9, &[1, 2, 3][..])
        );
        let mut cut = frame(RTM_NEWADDR, 0, 1, &[0; 8]);
        cut[0] = 200;
        assert_eq!(messages(&cut).count(), 0);
        cut[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(messages(&cut).count(), 0);
    }

    /// Another netlink socket on the node (a process with CAP_NET_ADMIN)
    /// sends our socket a forged answer before the kernel's: an error for
    /// the request we are about to make. Only the kernel's answer counts;
    /// before the fix the forged one was taken as the kernel's.
    #[test]
    fn a_forged_answer_from_another_socket_is_ignored() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root (CAP_NET_ADMIN) to send to another socket");
            return;
        }
        let mut nl = Netlink::open(Duration::from_secs(2)).unwrap();
        // SAFETY: zeroed sockaddr_nl values are valid.
        let mut me: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: a plain C struct; all-zero is a valid value.
        let mut bind: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        bind.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: bind (port 0: the kernel picks one) and getsockname on
        // our socket, with sockaddr_nl buffers of the right size.
        let rc = unsafe {
            libc::bind(
                nl.fd.as_raw_fd(),
                &bind as *const _ as *const libc::sockaddr,
                len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        // SAFETY: a plain system call on values we own; its result is checked.
        let rc = unsafe {
            libc::getsockname(
                nl.fd.as_raw_fd(),
                &mut me as *mut _ as *mut libc::sockaddr,
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        let forger = Netlink::open(Duration::from_secs(2)).unwrap();
        let next = nl.seq.wrapping_add(1);
        let forged = frame(NLMSG_ERROR, 0, next, &(-libc::ENODEV).to_ne_bytes());
        // SAFETY: a plain C struct; all-zero is a valid value.
        let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        to.nl_family = libc::AF_NETLINK as u16;
        to.nl_pid = me.nl_pid;
        // SAFETY: forged and to outlive the call; lengths match.
        let n = unsafe {
            libc::sendto(
                forger.fd.as_raw_fd(),
                forged.as_ptr() as *const libc::c_void,
                forged.len(),
                0,
                &to as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        assert_eq!(n, forged.len() as isize, "{}", io::Error::last_os_error());
        let lo = index_of("lo").unwrap();
        let link = nl
            .link(lo)
            .expect("the kernel's answer, not the forged ENODEV");
        assert_eq!(link.name, "lo");
    }

    fn any_ip() -> impl proptest::strategy::Strategy<Value = IpAddr> {
        use proptest::prelude::*;
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes as a datagram or a message body: no panic, and every
        /// body lies inside the datagram.
        #[test]
        fn any_reply_bytes_parse_without_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut total = 0;
            for m in messages(&data) {
                total += HDR + m.body.len();
                let _ = parse_addr(m.body);
                let _ = parse_link(m.body);
                let _ = parse_route(m.body);
                let _ = error_status(m.body);
            }
            proptest::prop_assert!(total <= data.len());
            let _ = parse_addr(&data);
            let _ = parse_link(&data);
            let _ = parse_route(&data);
            let _ = crate::announce::claims(&data, Ipv4Addr::LOCALHOST, [2, 0, 0, 0, 0, 1]);
        }

        /// What we would send to add an address reads back as that address.
        #[test]
        fn add_requests_round_trip(
            index in 1u32..,
            address in any_ip(),
            prefix in 0u8..=128,
            broadcast in proptest::option::of(proptest::prelude::any::<[u8; 4]>()),
            label in proptest::option::of("[a-z0-9:_.-]{1,15}"),
            flags in proptest::prelude::any::<u32>(),
            preferred_lft in proptest::option::of(proptest::prelude::any::<u32>()),
        ) {
            let a = NewAddr {
                index,
                address,
                prefix,
                broadcast: broadcast.map(Ipv4Addr::from),
                label: label.clone(),
                flags,
                preferred_lft,
            };
            let body = add_request(&a);
            proptest::prop_assert_eq!(body.len() % 4, 0);
            let back = parse_addr(&body).unwrap();
            proptest::prop_assert_eq!(back, Addr {
                index,
                prefix,
                flags,
                address,
                label,
                broadcast: a.broadcast,
            });
        }

        /// A datagram of framed messages splits back into the same ones.
        #[test]
        fn framed_messages_round_trip(
            msgs in proptest::collection::vec(
                (proptest::prelude::any::<u16>(), proptest::prelude::any::<u16>(), proptest::prelude::any::<u32>(),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                0..6,
            )
        ) {
            let dgram: Vec<u8> = msgs.iter().flat_map(|(k, f, s, b)| frame(*k, *f, *s, b)).collect();
            let got: Vec<(u16, u16, u32, Vec<u8>)> = messages(&dgram)
                .map(|m| (m.kind, m.flags, m.seq, m.body.to_vec()))
                .collect();
            // A body's padding is inside the next frame's alignment, so the
            // body comes back exactly.
            proptest::prop_assert_eq!(got, msgs);
        }
    }
}
