//! Telling the segment where the address now lives, from raw sockets in this
//! process: gratuitous ARP (request or reply form) for IPv4, unsolicited
//! neighbour advertisements for IPv6, and the RFC 5227 ARP probe that finds
//! a duplicate before we add the address. Synchronous, so the caller logs
//! the real result (RA#958) and can fail the start on it. Sockets and
//! options through rustix; the one `unsafe` hands a packet socket address
//! (`sockaddr_ll`) to rustix, which has no type for it.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use ocf::Deadline;
use rustix::io::Errno;
use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, sockopt};

/// Which ARP operation carries the announcement. Some switches only learn
/// from replies (RA#977); `both` sends a request and a reply each round,
/// like heartbeat's send_arp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpMode {
    Request,
    Reply,
    Both,
}

impl ArpMode {
    pub fn word(self) -> &'static str {
        match self {
            ArpMode::Request => "request",
            ArpMode::Reply => "reply",
            ArpMode::Both => "request+reply",
        }
    }
}

const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// A link-layer address on interface `index` (`struct sockaddr_ll`, for
/// ARP): where an `AF_PACKET` socket sends to, or what it binds to.
struct LinkAddr(libc::sockaddr_ll);

impl LinkAddr {
    fn new(index: u32, dest: [u8; 6]) -> LinkAddr {
        let mut sll_addr = [0u8; 8];
        sll_addr[..6].copy_from_slice(&dest);
        LinkAddr(libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: (libc::ETH_P_ARP as u16).to_be(),
            sll_ifindex: index as i32,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr,
        })
    }
}

// SAFETY: `f` gets a pointer to the sockaddr_ll this value owns and holds
// borrowed for the whole call, with that struct's exact size. Every field
// is set in `new`, and the struct has no padding (2+2+4+2+1+1+8 bytes), so
// all the bytes the kernel reads are initialized. Neither rustix nor
// socket2 (nor nix) can build a packet socket address without unsafe code.
unsafe impl SocketAddrArg for LinkAddr {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R,
    ) -> R {
        f(
            std::ptr::from_ref(&self.0).cast(),
            size_of::<libc::sockaddr_ll>() as SocketAddrLen,
        )
    }
}

/// An ARP packet for Ethernet/IPv4 (the kernel adds the Ethernet header).
pub fn arp_packet(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&op.to_be_bytes());
    p[8..14].copy_from_slice(&sha);
    p[14..18].copy_from_slice(&spa.octets());
    p[18..24].copy_from_slice(&tha);
    p[24..28].copy_from_slice(&tpa.octets());
    p
}

/// A datagram packet socket (the kernel builds the Ethernet header).
fn packet_socket(protocol: Option<net::Protocol>) -> io::Result<OwnedFd> {
    Ok(net::socket_with(
        AddressFamily::PACKET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        protocol,
    )?)
}

fn send_arp_frame(fd: &OwnedFd, index: u32, pkt: &[u8; 28]) -> io::Result<()> {
    net::sendto(
        fd,
        pkt,
        SendFlags::empty(),
        &LinkAddr::new(index, [0xff; 6]),
    )?;
    Ok(())
}

/// Send `count` rounds of gratuitous ARP for `ip` from `mac` on link
/// `index`, `interval` apart, within `dl`. Returns the packets sent.
pub fn gratuitous_arp(
    index: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
    mode: ArpMode,
    count: u32,
    interval: Duration,
    dl: &Deadline,
) -> io::Result<u32> {
    // Send-only: protocol 0 and no bind, so no packet hook is registered
    // (each register/unregister waits for an RCU grace period).
    let fd = packet_socket(None)?;
    let request = arp_packet(ARP_REQUEST, mac, ip, [0; 6], ip);
    let reply = arp_packet(ARP_REPLY, mac, ip, [0xff; 6], ip);
    let mut sent = 0;
    for round in 0..count {
        if round > 0 && !dl.sleep(interval) {
            break;
        }
        if matches!(mode, ArpMode::Request | ArpMode::Both) {
            send_arp_frame(&fd, index, &request)?;
            sent += 1;
        }
        if matches!(mode, ArpMode::Reply | ArpMode::Both) {
            send_arp_frame(&fd, index, &reply)?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// RFC 5227 probe: ask who has `ip` with sender address 0.0.0.0 and listen
/// for `wait`. Returns the MAC of another host that answers for `ip`.
pub fn probe_duplicate(
    index: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
    wait: Duration,
) -> io::Result<Option<[u8; 6]>> {
    let fd = packet_socket(Some(net::eth::ARP))?;
    net::bind(&fd, &LinkAddr::new(index, [0; 6]))?;
    let probe = arp_packet(ARP_REQUEST, mac, Ipv4Addr::UNSPECIFIED, [0; 6], ip);
    let end = Instant::now() + wait;
    let probes = 3u32;
    let gap = wait / (probes + 1);
    let mut next_probe = Instant::now();
    let mut sent = 0;
    let mut buf = [0u8; 128];
    loop {
        let now = Instant::now();
        if now >= end {
            return Ok(None);
        }
        if sent < probes && now >= next_probe {
            send_arp_frame(&fd, index, &probe)?;
            sent += 1;
            next_probe = now + gap;
        }
        let until = if sent < probes {
            next_probe.min(end)
        } else {
            end
        };
        // A receive timeout of zero would wait for ever.
        let wait = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(wait))?;
        let n = match net::recv(&fd, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => n,
            Err(e) if e == Errno::AGAIN || e == Errno::INTR => continue,
            Err(e) => return Err(e.into()),
        };
        if n < 28 {
            continue;
        }
        if let Some(other) = claims(&buf[..n], ip, mac) {
            return Ok(Some(other));
        }
    }
}

/// Does this ARP packet show another host using `ip`? (A reply or request
/// whose sender address is `ip` and whose sender MAC is not ours.)
pub fn claims(pkt: &[u8], ip: Ipv4Addr, ours: [u8; 6]) -> Option<[u8; 6]> {
    // Ethernet/IPv4 with 6- and 4-byte addresses only: another layout puts
    // the sender's address elsewhere.
    if pkt.len() < 28 || pkt[0..2] != [0, 1] || pkt[2..4] != [8, 0] || pkt[4..6] != [6, 4] {
        return None;
    }
    let sha: [u8; 6] = pkt[8..14].try_into().ok()?;
    let spa = Ipv4Addr::new(pkt[14], pkt[15], pkt[16], pkt[17]);
    (spa == ip && sha != ours).then_some(sha)
}

/// An unsolicited neighbour advertisement for `target` (RFC 4861 4.4):
/// Override flag, target link-layer address option. The kernel computes
/// the ICMPv6 checksum on raw ICMPv6 sockets.
pub fn na_packet(target: Ipv6Addr, mac: [u8; 6], router: bool) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 136; // neighbour advertisement
    p[4] = 0x20 | if router { 0x80 } else { 0 }; // Override (+ Router)
    p[8..24].copy_from_slice(&target.octets());
    p[24] = 2; // target link-layer address
    p[25] = 1; // length in units of 8 bytes
    p[26..32].copy_from_slice(&mac);
    p
}

/// Send `count` unsolicited NAs for `ip` to all-nodes on link `index`.
/// The address must no longer be tentative (bind fails with EADDRNOTAVAIL).
pub fn unsolicited_na(
    index: u32,
    mac: [u8; 6],
    ip: Ipv6Addr,
    count: u32,
    interval: Duration,
    dl: &Deadline,
) -> io::Result<u32> {
    let fd = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(net::ipproto::ICMPV6),
    )?;
    sockopt::set_ipv6_multicast_if(&fd, index)?;
    sockopt::set_ipv6_multicast_hops(&fd, 255)?;
    sockopt::set_ipv6_unicast_hops(&fd, Some(255))?;
    let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
    let scope = if link_local { index } else { 0 };
    net::bind(&fd, &SocketAddrV6::new(ip, 0, 0, scope))?;
    let all_nodes = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, index);
    let pkt = na_packet(ip, mac, false);
    let mut sent = 0;
    for round in 0..count {
        if round > 0 && !dl.sleep(interval) {
            break;
        }
        net::sendto(&fd, &pkt, SendFlags::empty(), &all_nodes)?;
        sent += 1;
    }
    Ok(sent)
}

pub fn mac_string(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];

    #[test]
    fn gratuitous_request_and_reply_layout() {
        let ip: Ipv4Addr = "198.51.100.7".parse().unwrap();
        let req = arp_packet(ARP_REQUEST, MAC, ip, [0; 6], ip);
        assert_eq!(&req[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&req[8..14], &MAC);
        assert_eq!(&req[14..18], &ip.octets());
        assert_eq!(&req[24..28], &ip.octets(), "sender and target are the VIP");
        let rep = arp_packet(ARP_REPLY, MAC, ip, [0xff; 6], ip);
        assert_eq!(rep[7], 2);
        assert_eq!(&rep[18..24], &[0xff; 6]);
    }

    #[test]
    fn a_claim_is_someone_elses_packet_for_our_address() {
        let ip: Ipv4Addr = "198.51.100.7".parse().unwrap();
        let other = [2, 1, 1, 1, 1, 1];
        let reply = arp_packet(ARP_REPLY, other, ip, MAC, Ipv4Addr::UNSPECIFIED);
        assert_eq!(claims(&reply, ip, MAC), Some(other));
        let ours = arp_packet(ARP_REPLY, MAC, ip, [0xff; 6], ip);
        assert_eq!(claims(&ours, ip, MAC), None, "our own announcement");
        let unrelated = arp_packet(ARP_REPLY, other, "198.51.100.8".parse().unwrap(), MAC, ip);
        assert_eq!(claims(&unrelated, ip, MAC), None);
        assert_eq!(claims(&reply[..20], ip, MAC), None);
        let mut odd = reply;
        odd[4] = 8; // an 8-byte hardware address: not Ethernet's layout
        assert_eq!(claims(&odd, ip, MAC), None);
    }

    #[test]
    fn neighbour_advertisement_layout() {
        let ip: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let p = na_packet(ip, MAC, false);
        assert_eq!(p[0], 136);
        assert_eq!(p[4], 0x20, "override, not solicited, not router");
        assert_eq!(&p[8..24], &ip.octets());
        assert_eq!(&p[24..26], &[2, 1]);
        assert_eq!(&p[26..32], &MAC);
        assert_eq!(mac_string(&MAC), "02:aa:bb:cc:dd:ee");
    }
}
