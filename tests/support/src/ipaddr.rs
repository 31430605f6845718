//! Real network parts for the ipaddr tests: a veth pair between two network
//! namespaces the test owns (this kernel has no `dummy` netdev), a capture
//! of ARP/IPv6 frames from a raw socket opened inside the peer namespace,
//! and readers of `ip -j addr` output. Every namespace is named `ipa-*`
//! and removed on drop, also when the test fails.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Scratch, sh};

/// `ip` with arguments; panics with the output unless it succeeds.
pub fn ip(args: &[&str]) -> String {
    let (code, out) = sh("ip", args);
    assert_eq!(code, 0, "ip {} failed: {out}", args.join(" "));
    out
}

/// Two namespaces `<ns>` and `<ns>p` joined by veth `ipa0` <-> `ipa0p`,
/// both up. Addresses are added by the test. `rsctmp` is the pair's own
/// `HA_RSCTMP`: what start records there belongs to this pair's agent runs
/// only, whatever runs beside it.
pub struct NetPair {
    pub ns: String,
    pub peer: String,
    pub rsctmp: Scratch,
}

pub const NIC: &str = "ipa0";
pub const PEER_NIC: &str = "ipa0p";

impl NetPair {
    pub fn new(tag: &str) -> NetPair {
        let ns = format!("ipa-{tag}-{}", std::process::id());
        let peer = format!("{ns}p");
        for n in [&ns, &peer] {
            let _ = sh("ip", &["netns", "del", n]);
        }
        // Built before anything can fail, so drop cleans up a half-made pair.
        let rsctmp = Scratch::new(&format!("rsc-{ns}"));
        let pair = NetPair { ns, peer, rsctmp };
        ip(&["netns", "add", &pair.ns]);
        ip(&["netns", "add", &pair.peer]);
        ip(&[
            "link", "add", NIC, "netns", &pair.ns, "type", "veth", "peer", "name", PEER_NIC,
            "netns", &pair.peer,
        ]);
        pair.ns_ip(&["link", "set", "lo", "up"]);
        pair.ns_ip(&["link", "set", NIC, "up"]);
        pair.peer_ip(&["link", "set", PEER_NIC, "up"]);
        pair
    }

    /// `ip -n <ns> ...`
    pub fn ns_ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.ns.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// `ip -n <peer> ...`
    pub fn peer_ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.peer.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// Base addresses: `local` on ipa0, `peer` on ipa0p (with prefixes).
    pub fn addresses(&self, local: &str, peer: &str) {
        let fam = if local.contains(':') { "-6" } else { "-4" };
        if fam == "-4" {
            self.ns_ip(&[fam, "addr", "add", local, "brd", "+", "dev", NIC]);
        } else {
            self.ns_ip(&[fam, "addr", "add", local, "dev", NIC, "nodad"]);
        }
        self.peer_ip(&[fam, "addr", "add", peer, "dev", PEER_NIC, "nodad"]);
    }

    /// Can the peer namespace reach `addr`? (one ping, 2 s)
    pub fn peer_pings(&self, addr: &str) -> bool {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.peer, "ping", "-c", "1", "-W", "2", addr,
            ])
            .output()
            .unwrap();
        out.status.success()
    }

    /// `HA_RSCTMP` for the agent runs of this pair.
    pub fn rsc_env(&self) -> (&'static str, &str) {
        ("HA_RSCTMP", self.rsctmp.0.to_str().unwrap())
    }

    /// Run a program inside the agent's namespace: `ip netns exec <ns> ...`.
    pub fn exec_in(&self) -> Vec<String> {
        vec!["netns".into(), "exec".into(), self.ns.clone()]
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for n in [&self.ns, &self.peer] {
            let _ = sh("ip", &["netns", "del", n]);
        }
    }
}

/// One address as `ip -j addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownAddr {
    pub local: String,
    pub prefix: u32,
    pub label: Option<String>,
    pub broadcast: Option<String>,
    pub flags: Vec<String>,
}

/// The addresses `ip -n ns -j addr show dev nic` lists equal to `addr`.
pub fn shown(ns: Option<&str>, nic: &str, addr: &str) -> Vec<ShownAddr> {
    let mut args = vec![];
    if let Some(n) = ns {
        args.extend(["-n", n]);
    }
    args.extend(["-j", "addr", "show", "dev", nic]);
    let out = ip(&args);
    let mut found = vec![];
    // A tiny scan of ip's JSON: each addr_info object is flat.
    let mut rest = out.as_str();
    while let Some(i) = rest.find("{\"family\"") {
        let obj_end = rest[i..].find('}').map(|e| i + e + 1).unwrap_or(rest.len());
        let obj = &rest[i..obj_end];
        rest = &rest[obj_end..];
        let field = |name: &str| -> Option<String> {
            let key = format!("\"{name}\":");
            let at = obj.find(&key)? + key.len();
            let v = &obj[at..];
            if let Some(s) = v.strip_prefix('"') {
                Some(s[..s.find('"')?].to_string())
            } else {
                let end = v.find([',', '}']).unwrap_or(v.len());
                Some(v[..end].trim().to_string())
            }
        };
        if field("local").as_deref() != Some(addr) {
            continue;
        }
        let flags = [
            "secondary",
            "nodad",
            "noprefixroute",
            "deprecated",
            "tentative",
            "dadfailed",
        ]
        .iter()
        .filter(|f| obj.contains(&format!("\"{f}\":true")))
        .map(|f| f.to_string())
        .collect();
        found.push(ShownAddr {
            local: addr.to_string(),
            prefix: field("prefixlen").and_then(|p| p.parse().ok()).unwrap_or(0),
            label: field("label"),
            broadcast: field("broadcast"),
            flags,
        });
    }
    found
}

/// Frames captured on the peer's interface by an AF_PACKET socket opened
/// inside the peer namespace (in a thread that setns'd there), so nothing
/// is missed between "capture started" and the agent's first packet.
pub struct Capture {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<Frame>>>,
}

/// A captured frame and when it arrived (since the capture started).
pub type Frame = (Duration, Vec<u8>);

/// Ethertypes to capture.
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;

impl Capture {
    pub fn start(netns: &str, nic: &str, ethertype: u16) -> Capture {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let path = format!("/run/netns/{netns}");
        let nic = nic.to_string();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on a valid fd; changes only this thread.
            assert_eq!(
                // SAFETY: setns on a descriptor we opened; it moves only this thread.
                unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            let proto = ethertype.to_be();
            // SAFETY: plain socket(2).
            let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto)) };
            assert!(
                raw >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: fresh fd.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let cname = std::ffi::CString::new(nic).unwrap();
            // SAFETY: valid C string.
            let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
            // SAFETY: zeroed sockaddr_ll, filled, then bound.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
            sa.sll_ifindex = index as i32;
            // SAFETY: a zeroed, filled sockaddr of the size we pass, on our socket.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(rc, 0);
            tx.send(()).unwrap();
            let t0 = std::time::Instant::now();
            let mut got = vec![];
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd.
                if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
                    continue;
                }
                // SAFETY: buf valid for its length.
                let n = unsafe {
                    libc::recv(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                    )
                };
                if n > 0 {
                    got.push((t0.elapsed(), buf[..n as usize].to_vec()));
                }
            }
            got
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("capture did not start");
        Capture {
            stop,
            handle: Some(handle),
        }
    }

    /// Stop (after a short grace for frames in flight) and return them.
    pub fn finish(mut self) -> Vec<Frame> {
        std::thread::sleep(Duration::from_millis(300));
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A decoded ARP frame: (operation, sender IP, target IP).
pub fn arp(frame: &[u8]) -> Option<(u16, [u8; 4], [u8; 4])> {
    if frame.len() < 28 || frame[2..4] != [8, 0] {
        return None;
    }
    let op = u16::from_be_bytes([frame[6], frame[7]]);
    Some((
        op,
        frame[14..18].try_into().ok()?,
        frame[24..28].try_into().ok()?,
    ))
}

/// A decoded IPv6 neighbour advertisement: (source, target, override flag).
pub fn neighbour_advert(frame: &[u8]) -> Option<(std::net::Ipv6Addr, std::net::Ipv6Addr, bool)> {
    if frame.len() < 40 + 24 || frame[6] != 58 || frame[40] != 136 {
        return None;
    }
    let src: [u8; 16] = frame[8..24].try_into().ok()?;
    let tgt: [u8; 16] = frame[48..64].try_into().ok()?;
    Some((src.into(), tgt.into(), frame[44] & 0x20 != 0))
}
