//! Telling the segment where the address now lives, from raw sockets in this
//! process: gratuitous ARP (request or reply form) for IPv4, unsolicited
//! neighbour advertisements for IPv6, and the RFC 5227 ARP probe that finds
//! a duplicate before we add the address. Synchronous, so the caller logs
//! the real result (RA#958) and can fail the start on it.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use ocf::Deadline;

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

fn socket(domain: i32, kind: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right after.
    let raw = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, proto) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh valid fd.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
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

fn link_addr(index: u32, dest: [u8; 6]) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; zero is a valid start.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = (libc::ETH_P_ARP as u16).to_be();
    sa.sll_ifindex = index as i32;
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&dest);
    sa
}

fn packet_socket(index: u32) -> io::Result<OwnedFd> {
    let fd = socket(
        libc::AF_PACKET,
        libc::SOCK_DGRAM,
        i32::from((libc::ETH_P_ARP as u16).to_be()),
    )?;
    let sa = link_addr(index, [0; 6]);
    // SAFETY: sa is a valid sockaddr_ll of the given size.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

fn send_arp_frame(fd: &OwnedFd, index: u32, pkt: &[u8; 28]) -> io::Result<()> {
    let sa = link_addr(index, [0xff; 6]);
    // SAFETY: pkt and sa are valid for the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            pkt.as_ptr() as *const libc::c_void,
            pkt.len(),
            0,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
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
    let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
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
    let fd = packet_socket(index)?;
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
        let ms = until.saturating_duration_since(Instant::now()).as_millis() as i32;
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if rc == 0 {
            continue;
        }
        // SAFETY: buf is valid for its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 28 {
            continue;
        }
        if let Some(other) = claims(&buf[..n as usize], ip, mac) {
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

fn sockaddr6(ip: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    // SAFETY: plain data; zero is a valid start.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as u16;
    sa.sin6_addr.s6_addr = ip.octets();
    sa.sin6_scope_id = scope;
    sa
}

fn set_int(fd: &OwnedFd, level: i32, opt: i32, v: i32) -> io::Result<()> {
    // SAFETY: an int option of the right size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &v as *const i32 as *const libc::c_void,
            4,
        )
    })
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
    let fd = socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
    set_int(
        &fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_IF,
        index as i32,
    )?;
    set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)?;
    set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
    let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
    let src = sockaddr6(ip, if link_local { index } else { 0 });
    // SAFETY: a valid sockaddr_in6 of the given size.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &src as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    })?;
    let all_nodes = sockaddr6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), index);
    let pkt = na_packet(ip, mac, false);
    let mut sent = 0;
    for round in 0..count {
        if round > 0 && !dl.sleep(interval) {
            break;
        }
        // SAFETY: pkt and all_nodes are valid for the call.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr() as *const libc::c_void,
                pkt.len(),
                0,
                &all_nodes as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
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
