//! Where the address goes and where it is ours: start's target (the
//! interface, prefix and broadcast, from the parameters and, for what they
//! leave open, the routing table as IPaddr2's findif reads it), the
//! interface the configuration leads to for monitor and stop, and whether
//! an address there is the one we manage.

use std::net::{IpAddr, Ipv4Addr};

use ocf::{Deadline, OcfError, OcfResult};

use crate::config::{Broadcast, Config, Raw};
use crate::netlink::{self, Addr, Netlink, Route, RouteScope, RouteType, family_of};
use crate::netns::{self, NsId, Visit, current_ns};
use crate::record::Started;

/// Where start puts the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub index: u32,
    pub nic: String,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
}

/// The interface, prefix and broadcast for start: from the parameters, and
/// what they leave open from the routing table (findif).
pub(crate) fn resolve_target(cfg: &Config, nl: &mut Netlink) -> OcfResult<Target> {
    let given = match &cfg.nic {
        Some(n) => Some(netlink::index_of(n).ok_or_else(|| {
            OcfError::installed(format!("interface {n} does not exist on this node"))
        })?),
        None => None,
    };
    let need_route = given.is_none()
        || cfg.prefix.is_none()
        || (cfg.v4() && cfg.broadcast == Broadcast::FromRoute);
    let routes = if need_route {
        nl.routes(cfg.family())
            .map_err(|e| netlink::err("read routes", e))?
    } else {
        Vec::new()
    };
    let route = find_route(&routes, cfg.ip, cfg.prefix, given);
    let (index, prefix) = match (given, cfg.prefix, route) {
        (Some(i), Some(p), _) => (i, p),
        (_, _, Some(r)) => (
            given.unwrap_or(r.oif.unwrap_or(0)),
            cfg.prefix.unwrap_or(r.dst_len),
        ),
        _ => {
            return Err(OcfError::installed(format!(
                "no directly connected route covers {}{}: give nic and cidr_netmask, or add the route",
                cfg.ip,
                cfg.nic
                    .as_ref()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default()
            )));
        }
    };
    let nic = netlink::name_of(index);
    if let Some(l) = cfg.label_for(&nic)
        && l.len() > 15
    {
        return Err(OcfError::installed(format!(
            "interface label {l} exceeds the kernel's limit of 15 characters"
        )));
    }
    let broadcast = match (cfg.ip, cfg.broadcast) {
        (IpAddr::V6(_), _) => None,
        (IpAddr::V4(ip), Broadcast::HostBitsSet) => Some(host_bits(ip, prefix, true)),
        (IpAddr::V4(ip), Broadcast::HostBitsCleared) => Some(host_bits(ip, prefix, false)),
        (IpAddr::V4(_), Broadcast::Addr(b)) => Some(b),
        (IpAddr::V4(_), Broadcast::FromRoute) => match route.and_then(|r| r.prefsrc) {
            Some(src) => nl
                .addresses(cfg.family())
                .map_err(|e| netlink::err("read addresses", e))?
                .iter()
                .find(|a| a.address == src && a.index == index)
                .and_then(|a| a.broadcast),
            None => None,
        },
    };
    Ok(Target {
        index,
        nic,
        prefix,
        broadcast,
    })
}

/// The interface the configuration leads to in this namespace: `nic`; or
/// without it, the interface start chose for this address (the record, by
/// index: a rename does not hide it, and once it is gone nothing is ours),
/// or without a record the one findif picks now. None: no such interface
/// here. An address of the same value on any other interface is not ours.
pub(crate) fn configured_iface(
    ip: IpAddr,
    prefix: Option<u8>,
    nic: Option<&str>,
    rec: Option<&Started>,
    here: Option<NsId>,
    nl: &mut Netlink,
) -> OcfResult<Option<u32>> {
    if let Some(n) = nic {
        return Ok(netlink::index_of(n));
    }
    if let Some(s) = rec
        && s.ip == ip
        && s.is_here(here)
    {
        return Ok(match nl.link(s.index) {
            Ok(link) => {
                if !s.ifname.is_empty() && link.name != s.ifname {
                    ocf::debug!("{} is now called {}", s.ifname, link.name);
                }
                Some(s.index)
            }
            // Gone, and the address with it; a device made since under
            // the same name or holding the route is another one.
            Err(_) => {
                ocf::debug!("{} (index {}) no longer exists", s.ifname, s.index);
                None
            }
        });
    }
    let routes = nl
        .routes(family_of(ip))
        .map_err(|e| netlink::err("read routes", e))?;
    Ok(find_route(&routes, ip, prefix, None).and_then(|r| r.oif))
}

/// Into the namespace of what start added: None when it no longer exists
/// (and with it every address that was in it).
pub(crate) fn visit_started(s: &Started) -> OcfResult<Option<Visit>> {
    match s.ns {
        None => Ok(Some(Visit::here())),
        Some(ns) => netns::visit(ns, s.netns.as_deref()).map_err(|e| {
            OcfError::generic(format!(
                "cannot enter the network namespace of {}: {e}",
                s.describe()
            ))
        }),
    }
}

/// `ip`'s `brd +` / `brd -`.
pub fn host_bits(ip: Ipv4Addr, prefix: u8, set: bool) -> Ipv4Addr {
    let host = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
    let v = u32::from(ip);
    Ipv4Addr::from(if set { v | host } else { v & !host })
}

fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            u32::from(n) & m == u32::from(i) & m
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            u128::from(n) & m == u128::from(i) & m
        }
        _ => false,
    }
}

/// findif: the most specific directly connected unicast route of the main
/// table that covers `ip` (and `prefix`, and is on `oif` when given); ties
/// go to the lower metric. IPv4 routes must have scope link.
pub fn find_route(
    routes: &[Route],
    ip: IpAddr,
    prefix: Option<u8>,
    oif: Option<u32>,
) -> Option<&Route> {
    routes
        .iter()
        .filter(|r| {
            r.table == netlink::RT_TABLE_MAIN
                && r.kind == RouteType::Unicast
                && r.dst_len > 0
                && !r.gateway
                && r.oif.is_some()
                && (!ip.is_ipv4() || r.scope == RouteScope::Link)
                && r.dst.is_some_and(|d| contains(d, r.dst_len, ip))
                && prefix.is_none_or(|p| r.dst_len <= p)
                && oif.is_none_or(|o| r.oif == Some(o))
        })
        .min_by_key(|r| (std::cmp::Reverse(r.dst_len), r.priority))
}

/// Is the address configured as wanted?
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    Yes(Addr),
    No,
    /// There, but with another prefix or label: not what we manage.
    Mismatch(String),
}

/// Is `a` the address `ip` on interface `index`, as wanted? `prefix` 0
/// means any prefix (monitor without cidr_netmask); `label` None means any
/// label.
pub fn serves(a: &Addr, ip: IpAddr, index: u32, prefix: u8, label: Option<&str>) -> bool {
    a.address == ip
        && a.index == index
        && (prefix == 0 || a.prefix == prefix)
        && (label.is_none() || a.label.as_deref() == label)
}

/// Look for `ip` on interface `index` among `addrs` (see [`serves`]).
pub fn served(ip: IpAddr, addrs: &[Addr], index: u32, prefix: u8, label: Option<&str>) -> Served {
    let candidates: Vec<&Addr> = addrs
        .iter()
        .filter(|a| a.address == ip && a.index == index)
        .collect();
    if candidates.is_empty() {
        return Served::No;
    }
    if let Some(a) = candidates
        .iter()
        .find(|a| serves(a, ip, index, prefix, label))
    {
        return Served::Yes((*a).clone());
    }
    let a = candidates[0];
    let name = netlink::name_of(a.index);
    if prefix != 0 && a.prefix != prefix {
        Served::Mismatch(format!(
            "{ip} is on {name} with prefix /{}, not /{prefix}",
            a.prefix
        ))
    } else {
        Served::Mismatch(format!(
            "{ip} is on {name} with label {}, not {}",
            a.label.as_deref().unwrap_or("(none)"),
            label.unwrap_or("(none)")
        ))
    }
}

impl Raw {
    /// Into the namespace and onto the interface these name, if they exist.
    pub(crate) fn locate(
        &self,
        rec: Option<&Started>,
        dl: &Deadline,
    ) -> OcfResult<Option<(u32, Netlink, Visit)>> {
        let visit = match &self.netns {
            None => Visit::here(),
            Some(n) => match netns::visit_named(n) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(OcfError::generic(format!(
                        "cannot enter network namespace {n}: {e}"
                    )));
                }
            },
        };
        let mut nl = netlink::open(dl)?;
        let here = current_ns();
        let iface = configured_iface(
            self.ip,
            self.prefix,
            self.nic.as_deref(),
            rec,
            here,
            &mut nl,
        )?;
        Ok(iface.map(|i| (i, nl, visit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_arithmetic() {
        let ip: Ipv4Addr = "198.51.100.10".parse().unwrap();
        assert_eq!(host_bits(ip, 24, true), Ipv4Addr::new(198, 51, 100, 255));
        assert_eq!(host_bits(ip, 24, false), Ipv4Addr::new(198, 51, 100, 0));
        assert_eq!(host_bits(ip, 30, true), Ipv4Addr::new(198, 51, 100, 11));
        assert_eq!(host_bits(ip, 32, true), ip);
        assert_eq!(host_bits(ip, 0, true), Ipv4Addr::BROADCAST);
    }

    fn route(dst: &str, len: u8, oif: u32, prio: u32) -> Route {
        let dst: IpAddr = dst.parse().unwrap();
        Route {
            dst: Some(dst),
            dst_len: len,
            table: netlink::RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            scope: if dst.is_ipv4() {
                RouteScope::Link
            } else {
                RouteScope::Universe
            },
            oif: Some(oif),
            gateway: false,
            priority: prio,
            prefsrc: None,
        }
    }

    #[test]
    fn findif_picks_the_most_specific_connected_route() {
        let ip: IpAddr = "198.51.100.10".parse().unwrap();
        let mut gw = route("0.0.0.0", 0, 9, 0);
        gw.gateway = true;
        let routes = vec![
            gw,
            route("198.51.0.0", 16, 2, 0),
            route("198.51.100.0", 24, 3, 100),
            route("198.51.100.0", 24, 4, 50),
            route("203.0.113.0", 24, 5, 0),
        ];
        assert_eq!(
            find_route(&routes, ip, None, None).unwrap().oif,
            Some(4),
            "longest, then lowest metric"
        );
        assert_eq!(
            find_route(&routes, ip, None, Some(3)).unwrap().oif,
            Some(3),
            "nic given"
        );
        assert_eq!(
            find_route(&routes, ip, Some(20), None).unwrap().dst_len,
            16,
            "route must cover ip/mask"
        );
        assert_eq!(
            find_route(&routes, "192.0.2.1".parse().unwrap(), None, None),
            None,
            "default routes do not count"
        );
        let mut global = route("198.51.100.0", 25, 7, 0);
        global.scope = RouteScope::Universe;
        assert_eq!(
            find_route(&[global], ip, None, None),
            None,
            "IPv4 needs scope link"
        );
        let v6 = vec![route("2001:db8::", 64, 6, 256), route("fe80::", 64, 6, 256)];
        assert_eq!(
            find_route(&v6, "2001:db8::5".parse().unwrap(), None, None)
                .unwrap()
                .dst_len,
            64
        );
    }

    fn addr(ip: &str, index: u32, prefix: u8, label: Option<&str>) -> Addr {
        Addr {
            index,
            prefix,
            flags: netlink::AddressFlags::empty(),
            address: ip.parse().unwrap(),
            label: label.map(str::to_string),
            broadcast: None,
        }
    }

    #[test]
    fn served_checks_interface_prefix_and_label() {
        let ip: IpAddr = "198.51.100.10".parse().unwrap();
        let on = |i, p, l| {
            vec![
                addr("198.51.100.1", 100, 24, None),
                addr("198.51.100.10", i, p, l),
            ]
        };
        assert!(matches!(
            served(ip, &on(100, 24, Some("v0:vip")), 100, 24, Some("v0:vip")),
            Served::Yes(_)
        ));
        assert_eq!(
            served(ip, &on(101, 24, Some("v1:vip")), 100, 24, Some("v0:vip")),
            Served::No,
            "the same address on another interface is not ours"
        );
        assert!(
            matches!(served(ip, &on(100, 25, Some("v0:vip")), 100, 24, Some("v0:vip")), Served::Mismatch(m) if m.contains("/25, not /24"))
        );
        assert!(
            matches!(served(ip, &on(100, 24, Some("v0")), 100, 24, Some("v0:vip")), Served::Mismatch(m) if m.contains("label"))
        );
        assert!(
            matches!(served(ip, &on(100, 27, None), 100, 0, None), Served::Yes(_)),
            "prefix 0 = any"
        );
        assert_eq!(
            served(ip, &[addr("198.51.100.1", 100, 24, None)], 100, 24, None),
            Served::No
        );
    }
}
