//! What the ipaddr agent reads from the kernel and the wire: a netlink
//! reply datagram split into messages (`netlink::messages`), each body as
//! an RTM_NEWADDR, RTM_NEWLINK or RTM_NEWROUTE answer and as an
//! NLMSG_ERROR; and the same bytes as an ARP packet from the segment
//! (`announce::claims`, the run_arping duplicate check). No panic, and every
//! body lies inside the datagram.
#![no_main]

use std::net::Ipv4Addr;

use ipaddr::{announce, netlink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framed = 0;
    for m in netlink::messages(data) {
        framed += 16 + m.body.len();
        let _ = netlink::parse_addr(m.body);
        let _ = netlink::parse_link(m.body).map(|l| (l.is_usable(), l.mac()));
        let _ = netlink::parse_route(m.body);
        let _ = netlink::error_status(m.body);
    }
    assert!(framed <= data.len());
    let _ = netlink::parse_addr(data);
    let _ = netlink::parse_link(data);
    let _ = netlink::parse_route(data);
    let ours = [2, 0, 0, 0, 0, 1];
    if let Some(mac) = announce::claims(data, Ipv4Addr::new(198, 51, 100, 7), ours) {
        assert_ne!(mac, ours);
    }
});
