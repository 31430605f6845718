//! What the agent reads from and sends to rtnetlink, as the few fields it
//! uses: an address (`RTM_NEWADDR`), a link (`RTM_NEWLINK`), a route
//! (`RTM_NEWROUTE`), and the requests that add an address or an address
//! label. Read and written by `netlink-packet-route`.
//!
//! A message is read header first, then attribute by attribute, each with
//! the crate's parser for it: an attribute the crate cannot read (an odd
//! length, a newer kernel's layout) is skipped, never the whole message,
//! so a link's statistics or a route's encapsulation cannot hide the name,
//! the flags or the interface we look at. Framing stops at the first
//! attribute whose length runs past the message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    DecodeError, Emitable, NlaBuffer, NlasIterator, Parseable, ParseableParametrized,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeader, AddressHeaderFlags, AddressMessage, CacheInfo,
};
use netlink_packet_route::addrlabel::{AddrLabelAttribute, AddrLabelMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkHeader, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteLwEnCapType, RouteScope, RouteType,
};

/// The main routing table (`RT_TABLE_MAIN`).
pub const RT_TABLE_MAIN: u32 = RouteHeader::RT_TABLE_MAIN as u32;

/// An address as the kernel reports it (`RTM_NEWADDR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub prefix: u8,
    pub flags: AddressFlags,
    pub address: IpAddr,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
}

impl Addr {
    pub fn tentative(&self) -> bool {
        self.flags.contains(AddressFlags::Tentative)
    }
    pub fn dad_failed(&self) -> bool {
        self.flags.contains(AddressFlags::Dadfailed)
    }
}

/// The parts of a link (`RTM_NEWLINK`) the agent looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub flags: LinkFlags,
    pub operstate: State,
    pub hwaddr: Vec<u8>,
}

impl Default for Link {
    fn default() -> Link {
        Link {
            index: 0,
            name: String::new(),
            flags: LinkFlags::empty(),
            operstate: State::Unknown,
            hwaddr: Vec::new(),
        }
    }
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags.contains(LinkFlags::Up)
    }
    /// Administratively up and not reported down by the driver (no carrier).
    pub fn is_usable(&self) -> bool {
        self.is_up() && !matches!(self.operstate, State::Down | State::LowerLayerDown)
    }
    pub fn no_arp(&self) -> bool {
        self.flags.contains(LinkFlags::Noarp)
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
    pub kind: RouteType,
    pub scope: RouteScope,
    pub oif: Option<u32>,
    /// Through a gateway (`RTA_GATEWAY`, or `RTA_VIA` of another family):
    /// not directly connected.
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
    pub flags: AddressFlags,
    /// Preferred lifetime in seconds; `None` is forever.
    pub preferred_lft: Option<u32>,
}

/// The address family of `ip`.
pub fn family_of(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// The attributes in `buf`, each read by `parse`; one it cannot read is
/// skipped, and framing ends at the first whose length is wrong.
fn attributes<'a, A: 'a>(
    buf: &'a [u8],
    parse: impl Fn(&NlaBuffer<&'a [u8]>) -> Result<A, DecodeError> + 'a,
) -> impl Iterator<Item = A> + 'a {
    NlasIterator::new(buf)
        .map_while(Result::ok)
        .filter_map(move |nla| parse(&nla).ok())
}

/// Read an `RTM_NEWADDR` body (ifaddrmsg + attributes).
pub fn parse_addr(body: &[u8]) -> Option<Addr> {
    let header = AddressHeader::parse(body).ok()?;
    let mut a = Addr {
        index: header.index,
        prefix: header.prefix_len,
        flags: AddressFlags::from_bits_retain(header.flags.bits().into()),
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        label: None,
        broadcast: None,
    };
    let (mut local, mut address) = (None, None);
    let rest = &body[header.buffer_len()..];
    for attr in attributes(rest, AddressAttribute::parse) {
        match attr {
            AddressAttribute::Local(ip) => local = Some(ip),
            AddressAttribute::Address(ip) => address = Some(ip),
            AddressAttribute::Label(l) => a.label = Some(l),
            AddressAttribute::Broadcast(b) => a.broadcast = Some(b),
            AddressAttribute::Flags(f) => a.flags = f,
            _ => {}
        }
    }
    // IPv4 keeps our address in IFA_LOCAL (IFA_ADDRESS is the peer on
    // point-to-point links); IPv6 sends IFA_ADDRESS only.
    a.address = if header.family == AddressFamily::Inet {
        local.or(address)?
    } else {
        address.or(local)?
    };
    Some(a)
}

/// Read an `RTM_NEWLINK` body (ifinfomsg + attributes).
pub fn parse_link(body: &[u8]) -> Option<Link> {
    let header = LinkHeader::parse(body).ok()?;
    let mut l = Link {
        index: header.index,
        flags: header.flags,
        ..Link::default()
    };
    let family = header.interface_family;
    let rest = &body[header.buffer_len()..];
    for attr in attributes(rest, |nla| LinkAttribute::parse_with_param(nla, family)) {
        match attr {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Address(hw) => l.hwaddr = hw,
            LinkAttribute::OperState(s) => l.operstate = s,
            _ => {}
        }
    }
    Some(l)
}

fn route_ip(a: RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

/// Read an `RTM_NEWROUTE` body (rtmsg + attributes).
pub fn parse_route(body: &[u8]) -> Option<Route> {
    let header = RouteHeader::parse(body).ok()?;
    let mut r = Route {
        dst: None,
        dst_len: header.destination_prefix_length,
        table: header.table.into(),
        kind: header.kind,
        scope: header.scope,
        oif: None,
        gateway: false,
        priority: 0,
        prefsrc: None,
    };
    // The encapsulation type only shapes RTA_ENCAP, which we do not read.
    let param = (header.address_family, header.kind, RouteLwEnCapType::None);
    let rest = &body[header.buffer_len()..];
    for attr in attributes(rest, |nla| RouteAttribute::parse_with_param(nla, param)) {
        match attr {
            RouteAttribute::Destination(d) => r.dst = route_ip(d),
            // An interface index 0 names no interface.
            RouteAttribute::Oif(i) if i > 0 => r.oif = Some(i),
            RouteAttribute::Gateway(_) | RouteAttribute::Via(_) => r.gateway = true,
            RouteAttribute::Priority(p) => r.priority = p,
            RouteAttribute::PrefSource(s) => r.prefsrc = route_ip(s),
            RouteAttribute::Table(t) => r.table = t,
            _ => {}
        }
    }
    Some(r)
}

/// The `RTM_NEWADDR` message for `a`.
pub fn add_message(a: &NewAddr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family_of(a.address);
    m.header.prefix_len = a.prefix;
    // The header holds the low 8 flags; IFA_FLAGS all of them.
    m.header.flags = AddressHeaderFlags::from_bits_retain((a.flags.bits() & 0xff) as u8);
    m.header.index = a.index;
    m.attributes.push(AddressAttribute::Local(a.address));
    m.attributes.push(AddressAttribute::Address(a.address));
    if let Some(b) = a.broadcast {
        m.attributes.push(AddressAttribute::Broadcast(b));
    }
    if let Some(l) = &a.label {
        m.attributes.push(AddressAttribute::Label(l.clone()));
    }
    m.attributes.push(AddressAttribute::Flags(a.flags));
    if let Some(p) = a.preferred_lft {
        let mut ci = CacheInfo::default();
        ci.ifa_preferred = p;
        ci.ifa_valid = u32::MAX;
        m.attributes.push(AddressAttribute::CacheInfo(ci));
    }
    m
}

/// The body of [`add_message`] as it goes on the wire (for tests).
pub fn add_request(a: &NewAddr) -> Vec<u8> {
    let m = add_message(a);
    let mut buf = vec![0; m.buffer_len()];
    m.emit(&mut buf);
    buf
}

/// The `RTM_DELADDR` message for `ip`/`prefix` on interface `index`.
pub fn del_message(index: u32, ip: IpAddr, prefix: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family_of(ip);
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(ip));
    m.attributes.push(AddressAttribute::Address(ip));
    m
}

/// An address label request for `ip`/128 on any interface (RFC 6724
/// policy table, `ip addrlabel`).
pub fn addrlabel_message(ip: Ipv6Addr, label: u32) -> AddrLabelMessage {
    let mut m = AddrLabelMessage::default();
    m.header.family = AddressFamily::Inet6;
    m.header.prefix_len = 128;
    m.attributes
        .push(AddrLabelAttribute::Address(IpAddr::V6(ip)));
    m.attributes.push(AddrLabelAttribute::Label(label));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    use netlink_packet_route::route::{RouteMessage, RouteVia};

    /// Append one attribute by hand (length, type, payload, padding).
    fn push_attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
        buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(data);
        buf.resize((buf.len() + 3) & !3, 0);
    }

    #[test]
    fn add_request_round_trips_through_the_parser() {
        let a = NewAddr {
            index: 7,
            address: "198.51.100.9".parse().unwrap(),
            prefix: 24,
            broadcast: Some("198.51.100.255".parse().unwrap()),
            label: Some("veth0:vip".into()),
            flags: AddressFlags::Noprefixroute,
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
        assert_eq!(back.flags, AddressFlags::Noprefixroute);
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
            flags: LinkFlags::Up,
            operstate: State::Up,
            hwaddr: vec![2, 0, 0, 0, 0, 1],
            ..Link::default()
        };
        assert!(l.is_usable());
        assert_eq!(l.mac(), Some([2, 0, 0, 0, 0, 1]));
        l.operstate = State::LowerLayerDown;
        assert!(!l.is_usable());
        l.flags = LinkFlags::empty();
        l.operstate = State::Unknown;
        assert!(!l.is_usable());
        l.hwaddr = vec![0; 6];
        assert_eq!(l.mac(), None, "all-zero MAC (lo) is no MAC");
    }

    /// A short RTA_OIF became interface 0; a short RTA_TABLE is no table.
    /// Attributes the crate cannot read are skipped one by one.
    #[test]
    fn malformed_attributes_are_skipped() {
        const RTA_OIF: u16 = 4;
        const RTA_TABLE: u16 = 15;
        let mut body = vec![libc::AF_INET as u8, 24, 0, 0, 254, 0, 253, 1, 0, 0, 0, 0];
        push_attr(&mut body, RTA_OIF, &[7, 0]);
        assert_eq!(parse_route(&body).unwrap().oif, None);
        push_attr(&mut body, RTA_TABLE, &[1]);
        assert_eq!(parse_route(&body).unwrap().table, 254);
        push_attr(&mut body, RTA_OIF, &3u32.to_ne_bytes());
        let r = parse_route(&body).unwrap();
        assert_eq!(
            (r.oif, r.kind, r.scope),
            (Some(3), RouteType::Unicast, RouteScope::Link)
        );
    }

    /// A route through a gateway of another family (`via inet6 ...` on an
    /// IPv4 route) is not directly connected: findif must not pick it. The
    /// hand-written parser knew only RTA_GATEWAY.
    #[test]
    fn a_route_via_another_family_has_a_gateway() {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.destination_prefix_length = 24;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.kind = RouteType::Unicast;
        m.header.scope = RouteScope::Universe;
        m.attributes = vec![
            RouteAttribute::Destination(RouteAddress::Inet("203.0.113.0".parse().unwrap())),
            RouteAttribute::Oif(3),
            RouteAttribute::Via(RouteVia::Inet6("fe80::1".parse().unwrap())),
        ];
        let mut body = vec![0; m.buffer_len()];
        m.emit(&mut body);
        let r = parse_route(&body).unwrap();
        assert_eq!(r.dst, Some("203.0.113.0".parse().unwrap()));
        assert_eq!(r.oif, Some(3));
        assert!(r.gateway);
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
                flags: AddressFlags::from_bits_retain(flags),
                preferred_lft,
            };
            let body = add_request(&a);
            proptest::prop_assert_eq!(body.len() % 4, 0);
            let back = parse_addr(&body).unwrap();
            proptest::prop_assert_eq!(back, Addr {
                index,
                prefix,
                flags: AddressFlags::from_bits_retain(flags),
                address,
                label,
                broadcast: a.broadcast,
            });
        }
    }
}
