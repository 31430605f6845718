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
    for (kind, data) in attrs(&body[12..]) {
        match kind {
            RTA_DST => r.dst = parse_ip(data),
            RTA_OIF => r.oif = Some(u32_at(data, 0)),
            RTA_GATEWAY => r.gateway = true,
            RTA_PRIORITY => r.priority = u32_at(data, 0),
            RTA_PREFSRC => r.prefsrc = parse_ip(data),
            RTA_TABLE => r.table = u32_at(data, 0),
            _ => {}
        }
    }
    Some(r)
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
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
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
            let mut b = &buf[..n as usize];
            while b.len() >= HDR {
                let len = u32_at(b, 0) as usize;
                if len < HDR || len > b.len() {
                    break;
                }
                let kind = u16_at(b, 4);
                let mseq = u32_at(b, 8);
                let body = &b[HDR..len];
                b = &b[align4(len).min(b.len())..];
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = u32_at(body, 0) as i32;
                        if errno == 0 {
                            if !dump {
                                return Ok(out);
                            }
                        } else {
                            return Err(io::Error::from_raw_os_error(-errno));
                        }
                    }
                    k if k == want => {
                        out.push(body.to_vec());
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
}
