//! What the ipaddr agent reads from the kernel and the wire: a netlink
//! reply datagram split into messages by our framing (`netlink::messages`,
//! over netlink-packet-core's `NetlinkBuffer`), each body handed to
//! netlink-packet-route's parsers as an RTM_NEWADDR, RTM_NEWLINK or
//! RTM_NEWROUTE answer and to netlink-packet-core's as an NLMSG_ERROR or
//! NLMSG_DONE; the whole datagram gathered as a dump and as a single answer
//! (`netlink::Collect`); and the same bytes as an ARP packet from the
//! segment (`announce::claims`, the run_arping duplicate check). No panic,
//! and every body lies inside the datagram.
#![no_main]

use std::net::Ipv4Addr;

use ipaddr::{announce, netlink};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framed = 0;
    for m in netlink::messages(data) {
        framed += netlink::HEADER_LEN + m.body.len();
        let _ = netlink::parse_addr(m.body);
        let _ = netlink::parse_link(m.body).map(|l| (l.is_usable(), l.mac()));
        let _ = netlink::parse_route(m.body);
        let _ = netlink::error_status(m.body);
        let _ = netlink::done_status(m.body);
    }
    assert!(framed <= data.len());
    let seq = data
        .get(8..12)
        .map_or(0, |s| u32::from_ne_bytes(s.try_into().unwrap()));
    let mut dump = netlink::Collect::new(seq, 20, true, netlink::parse_addr);
    let _ = dump.take(data);
    let mut one = netlink::Collect::new(seq, 16, false, netlink::parse_link);
    let _ = one.take(data);
    let _ = netlink::parse_addr(data);
    let _ = netlink::parse_link(data);
    let _ = netlink::parse_route(data);
    let ours = [2, 0, 0, 0, 0, 1];
    if let Some(mac) = announce::claims(data, Ipv4Addr::new(198, 51, 100, 7), ours) {
        assert_ne!(mac, ours);
    }
});
