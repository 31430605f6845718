//! The configuration: what the parameters say once they validate
//! ([`configure`], syntax only), and what they still say one by one when
//! they do not ([`Raw`], for stop and a probe).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ocf::params::parse_bool;
use ocf::{Context, OcfError, OcfResult, ParamSpec, Params};

use crate::announce::ArpMode;
use crate::netlink::{AddressFamily, family_of};
use crate::params::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// As IPaddr2: the broadcast of the existing address in the same route.
    FromRoute,
    HostBitsSet,
    HostBitsCleared,
    Addr(Ipv4Addr),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub ip: IpAddr,
    pub prefix: Option<u8>,
    pub nic: Option<String>,
    /// The part after the colon of the label (IPv4 only).
    pub iflabel: Option<String>,
    pub broadcast: Broadcast,
    pub lvs_support: bool,
    /// lvs_ipv6_addrlabel: the label to give the address.
    pub addrlabel: Option<u32>,
    pub arp_interval: Duration,
    pub arp_count: u32,
    pub arp_count_refresh: u32,
    /// arp_bg: announcements after the first from a detached process.
    pub arp_bg: bool,
    pub arp_mode: ArpMode,
    pub flush_routes: bool,
    pub run_arping: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
    /// None is forever.
    pub preferred_lft: Option<u32>,
    pub netns: Option<String>,
    pub check_link_status: bool,
}

impl Config {
    pub fn v4(&self) -> bool {
        self.ip.is_ipv4()
    }
    pub fn family(&self) -> AddressFamily {
        family_of(self.ip)
    }
    /// The full label for interface `nic` (v4 only).
    pub fn label_for(&self, nic: &str) -> Option<String> {
        self.iflabel.as_ref().map(|l| format!("{nic}:{l}"))
    }
}

/// The configuration from validated parameters: syntax only (no network,
/// no files), as validate-all at level 0 runs it anywhere.
pub fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
    let bad = |m: String| OcfError::configured(m);
    // IPaddr2 turns such a clone into a load-sharing address (iptables
    // CLUSTERIP, which recent kernels no longer have); added as a plain
    // address by every instance, it would answer from every node at once.
    if let Some(max) = ctx.clone_info().and_then(|c| c.max).filter(|m| *m > 1) {
        return Err(bad(format!(
            "clone-max={max}: a load-sharing clone (IPaddr2's CLUSTERIP mode) is not supported, \
             and every instance would hold the same address on its node; run the address as a \
             primitive resource (or a clone with clone-max=1)"
        )));
    }
    let ip: IpAddr = p
        .string(&IP)
        .unwrap_or_default()
        .parse()
        .map_err(|_| bad("parameter 'ip' is not an address".into()))?;
    let v4 = ip.is_ipv4();
    let max = if v4 { 32 } else { 128 };

    let mask = p.string(&CIDR_NETMASK).or_else(|| p.string(&NETMASK));
    let prefix = match mask {
        None => None,
        Some(m) => {
            let (n, dotted) = parse_mask(m)
                .map_err(|w| bad(format!("parameter 'cidr_netmask' {w} (got {m:?})")))?;
            if n == 0 {
                return Err(bad(format!(
                    "cidr_netmask {m} is a zero-length prefix; give 1 to {max}"
                )));
            }
            if dotted && !v4 {
                return Err(bad(format!(
                    "cidr_netmask {m} is an IPv4 netmask but ip {ip} is IPv6"
                )));
            }
            if n > max {
                return Err(bad(format!(
                    "cidr_netmask {m} is too long for the {} address {ip} (at most {max})",
                    if v4 { "IPv4" } else { "IPv6" }
                )));
            }
            if dotted {
                ocf::warn!("cidr_netmask {m} is a dotted netmask; use cidr_netmask={n}");
            }
            Some(n)
        }
    };

    let mut iflabel = p.string(&IFLABEL).map(str::to_string);
    let nic = p.string(&NIC).map(|n| match n.split_once(':') {
        Some((base, label)) => {
            ocf::warn!("nic={n}: the nic:label form is deprecated; use nic={base} iflabel={label}");
            iflabel = Some(label.to_string());
            base.to_string()
        }
        None => n.to_string(),
    });
    if let (Some(n), Some(l)) = (&nic, &iflabel) {
        let full = format!("{n}:{l}");
        if full.len() > 15 {
            return Err(bad(format!(
                "interface label {full} exceeds the kernel's limit of 15 characters"
            )));
        }
    }
    // Every interface has a route to fe80::/64: without nic the interface
    // would be whichever the route lookup lists first (IPaddr2's findif
    // refuses it too, and its ocft case IPaddr2v6 expects 6).
    if let IpAddr::V6(v6) = ip
        && nic.is_none()
        && v6.segments()[0] & 0xffc0 == 0xfe80
    {
        return Err(bad(format!(
            "ip {ip} is a link-local address: nic is required (every interface has fe80::/64)"
        )));
    }
    if iflabel.is_some() && !v4 {
        ocf::warn!("iflabel is ignored for the IPv6 address {ip}: labels exist only for IPv4");
        iflabel = None;
    }

    let broadcast = match p.string(&BROADCAST) {
        None => Broadcast::FromRoute,
        Some(_) if !v4 => {
            return Err(bad(format!("broadcast is IPv4 only, but ip {ip} is IPv6")));
        }
        Some("+") => Broadcast::HostBitsSet,
        Some("-") => Broadcast::HostBitsCleared,
        Some(b) => Broadcast::Addr(
            b.parse()
                .map_err(|_| bad(format!("broadcast {b:?} is not an IPv4 address")))?,
        ),
    };

    let lvs_support = p.boolean(&LVS_SUPPORT);
    if lvs_support && !v4 {
        return Err(bad(format!(
            "lvs_support is IPv4 only, but ip {ip} is IPv6"
        )));
    }
    let addrlabel = if p.boolean(&LVS_IPV6_ADDRLABEL) {
        if v4 {
            return Err(bad(format!(
                "lvs_ipv6_addrlabel is IPv6 only, but ip {ip} is IPv4 (use lvs_support)"
            )));
        }
        p.string(&LVS_IPV6_ADDRLABEL_VALUE)
            .and_then(|v| v.trim().parse().ok())
    } else {
        None
    };
    let run_arping = p.boolean(&RUN_ARPING);
    if run_arping && !v4 {
        ocf::warn!("run_arping is IPv4 only; IPv6 uses duplicate address detection (nodad=false)");
    }

    let opts_mode = p.string(&SEND_ARP_OPTS).map(|o| {
        let mut mode = None;
        for t in o.split_whitespace() {
            match t {
                "-A" => mode = Some(ArpMode::Reply),
                "-U" => mode = Some(ArpMode::Request),
                other => {
                    ocf::warn!("send_arp_opts: {other} is ignored (the sender is built in)")
                }
            }
        }
        mode
    });
    let arp_mode = match p.string(&ARP_MODE) {
        Some("reply") => ArpMode::Reply,
        Some("both") => ArpMode::Both,
        Some(_) => ArpMode::Request,
        None => opts_mode.flatten().unwrap_or(ArpMode::Request),
    };
    if p.is_set(&ARP_SENDER) {
        ocf::debug!("arp_sender is accepted and ignored: announcements are native");
    }
    for spec in [&MAC, &CLUSTERIP_HASH, &UNIQUE_CLONE_ADDRESS] {
        if p.is_set(spec) {
            ocf::debug!(
                "{} is for IPaddr2's load-sharing clones (CLUSTERIP): accepted and ignored",
                spec.name
            );
        }
    }

    // IPv6 only, as in IPaddr2.
    let preferred_lft = match p.string(&PREFERRED_LFT) {
        Some("forever") | None => None,
        Some(n) if v4 => {
            ocf::warn!("preferred_lft={n} is ignored for the IPv4 address {ip}");
            None
        }
        Some(n) => n.parse().ok(),
    };

    let int = |s: &ParamSpec| p.integer(s).unwrap_or(0).max(0) as u64;
    Ok(Config {
        ip,
        prefix,
        nic,
        iflabel,
        broadcast,
        lvs_support,
        addrlabel,
        arp_interval: Duration::from_millis(int(&ARP_INTERVAL)),
        arp_count: int(&ARP_COUNT) as u32,
        arp_count_refresh: int(&ARP_COUNT_REFRESH) as u32,
        arp_bg: p.boolean(&ARP_BG),
        arp_mode,
        flush_routes: p.boolean(&FLUSH_ROUTES),
        run_arping: run_arping && v4,
        nodad: p.boolean(&NODAD),
        noprefixroute: p.boolean(&NOPREFIXROUTE),
        preferred_lft,
        netns: p.string(&NETWORK_NAMESPACE).map(str::to_string),
        check_link_status: p
            .string(&CHECK_LINK_STATUS)
            .and_then(parse_bool)
            .unwrap_or(true),
    })
}

/// What the parameters still name when they do not all validate: each one
/// read on its own, and only when it reads safely. The whole configuration
/// when it parsed (only its namespace is missing).
#[derive(Debug, PartialEq, Eq)]
pub struct Raw {
    pub ip: IpAddr,
    pub prefix: Option<u8>,
    pub nic: Option<String>,
    pub netns: Option<String>,
}

impl Raw {
    /// None when the address cannot be read, or the interface or namespace
    /// is given but not as a name: then the parameters name no place.
    pub fn read(cfg: Option<&Config>, ctx: &Context) -> Option<Raw> {
        if let Some(c) = cfg {
            return Some(Raw {
                ip: c.ip,
                prefix: c.prefix,
                nic: c.nic.clone(),
                netns: c.netns.clone(),
            });
        }
        let p = |k: &str| {
            ctx.params
                .get(k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let ip_text = p("ip")?;
        check_ip(ip_text).ok()?;
        let ip: IpAddr = ip_text.parse().ok()?;
        let nic = match p("nic") {
            None => None,
            Some(n) => {
                let base = n.split_once(':').map_or(n, |(b, _)| b);
                valid_ifname(base).ok()?;
                Some(base.to_string())
            }
        };
        let netns = match p("network_namespace") {
            None => None,
            Some(n) => {
                check_netns(n).ok()?;
                Some(n.to_string())
            }
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = p("cidr_netmask")
            .or_else(|| p("netmask"))
            .and_then(|m| parse_mask(m).ok())
            .map(|(n, _)| n)
            .filter(|n| (1..=max).contains(n));
        Some(Raw {
            ip,
            prefix,
            nic,
            netns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ocf::{Agent, Status};

    use crate::IpAddrAgent;

    fn configure(kv: &[(&str, &str)]) -> OcfResult<Config> {
        let ctx = Context::from_vars(
            "ipaddr",
            "start",
            kv.iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        );
        let p = Params::parse(&PARAMS, &ctx.params)?;
        IpAddrAgent::configure(&p, &ctx)
    }

    fn err(kv: &[(&str, &str)]) -> OcfError {
        configure(kv).unwrap_err()
    }

    #[test]
    fn defaults_follow_ipaddr2() {
        let c = configure(&[("ip", "198.51.100.10")]).unwrap();
        assert_eq!(c.prefix, None);
        assert_eq!(c.nic, None);
        assert_eq!(c.arp_count, 5);
        assert_eq!(c.arp_interval, Duration::from_millis(200));
        assert_eq!(c.arp_mode, ArpMode::Request);
        assert!(c.check_link_status);
        assert_eq!(c.broadcast, Broadcast::FromRoute);
        assert_eq!(c.preferred_lft, None);
    }

    #[test]
    fn masks_legacy_names_and_dotted_quads() {
        let c = configure(&[("ip", "198.51.100.10"), ("cidr_netmask", "255.255.255.0")]).unwrap();
        assert_eq!(c.prefix, Some(24));
        let c = configure(&[("ip", "198.51.100.10"), ("netmask", "25")]).unwrap();
        assert_eq!(c.prefix, Some(25));
        let c = configure(&[
            ("ip", "198.51.100.10"),
            ("netmask", "25"),
            ("cidr_netmask", "26"),
        ])
        .unwrap();
        assert_eq!(c.prefix, Some(26), "cidr_netmask wins over netmask");
        let c = configure(&[("ip", "2001:db8::5"), ("cidr_netmask", "64")]).unwrap();
        assert_eq!(c.prefix, Some(64));
    }

    #[test]
    fn bad_input_is_6_with_one_clear_reason() {
        for (kv, needle) in [
            (
                vec![("ip", "1.2.3.4; rm -rf /")],
                "'ip' must be an IPv4 or IPv6 address",
            ),
            (vec![("ip", "198.51.100.10/24")], "without a prefix"),
            (vec![("ip", "224.0.0.1")], "unicast"),
            (vec![("ip", "0.0.0.0")], "unicast"),
            (
                vec![("ip", "198.51.100.10"), ("nic", "eth 0")],
                "'nic' must be an interface name",
            ),
            (
                vec![("ip", "198.51.100.10"), ("nic", "abcdefghijklmnopqrst")],
                "1 to 15 characters",
            ),
            (vec![("ip", "198.51.100.10"), ("nic", "a/b")], "'nic'"),
            (
                vec![("ip", "198.51.100.10"), ("cidr_netmask", "33")],
                "too long for the IPv4 address",
            ),
            (
                vec![("ip", "198.51.100.10"), ("cidr_netmask", "64")],
                "at most 32",
            ),
            (
                vec![("ip", "198.51.100.10"), ("cidr_netmask", "129")],
                "prefix length",
            ),
            (
                vec![("ip", "198.51.100.10"), ("cidr_netmask", "255.0.255.0")],
                "contiguous",
            ),
            (
                vec![("ip", "2001:db8::5"), ("cidr_netmask", "255.255.255.0")],
                "IPv4 netmask but ip",
            ),
            (
                vec![
                    ("ip", "198.51.100.10"),
                    ("nic", "veth-long0"),
                    ("iflabel", "abcdefgh"),
                ],
                "15 characters",
            ),
            (
                vec![("ip", "198.51.100.10"), ("iflabel", "a b")],
                "'iflabel'",
            ),
            (
                vec![("ip", "198.51.100.10"), ("broadcast", "x")],
                "'broadcast'",
            ),
            (vec![("ip", "2001:db8::5"), ("broadcast", "+")], "IPv4 only"),
            (
                vec![("ip", "2001:db8::5"), ("lvs_support", "true")],
                "IPv4 only",
            ),
            (
                vec![("ip", "198.51.100.10"), ("arp_count", "-1")],
                "'arp_count'",
            ),
            (
                vec![("ip", "198.51.100.10"), ("arp_mode", "loud")],
                "'arp_mode' must be one of",
            ),
            (
                vec![("ip", "198.51.100.10"), ("send_arp_opts", "-A; reboot")],
                "'send_arp_opts'",
            ),
            (
                vec![("ip", "198.51.100.10"), ("preferred_lft", "soon")],
                "'preferred_lft'",
            ),
            (
                vec![("ip", "198.51.100.10"), ("network_namespace", "../x")],
                "'network_namespace'",
            ),
            (
                vec![("ip", "fe80::2")],
                "link-local address: nic is required",
            ),
            (vec![], "required parameter 'ip'"),
        ] {
            let e = err(&kv);
            assert_eq!(e.status, Status::ErrConfigured, "{kv:?}: {e:?}");
            assert!(
                e.reason.contains(needle),
                "{kv:?}: {:?} lacks {needle:?}",
                e.reason
            );
            assert!(!e.reason.contains('\n'));
        }
    }

    #[test]
    fn compatibility_forms() {
        let c = configure(&[("ip", "198.51.100.10"), ("nic", "veth0:vip")]).unwrap();
        assert_eq!(c.nic.as_deref(), Some("veth0"));
        assert_eq!(c.iflabel.as_deref(), Some("vip"));
        assert_eq!(c.label_for("veth0").as_deref(), Some("veth0:vip"));
        let c = configure(&[("ip", "198.51.100.10"), ("send_arp_opts", "-A")]).unwrap();
        assert_eq!(c.arp_mode, ArpMode::Reply);
        let c = configure(&[
            ("ip", "198.51.100.10"),
            ("send_arp_opts", "-A"),
            ("arp_mode", "both"),
        ])
        .unwrap();
        assert_eq!(c.arp_mode, ArpMode::Both, "arp_mode wins");
        let c = configure(&[
            ("ip", "198.51.100.10"),
            ("arp_sender", "iputils_arping"),
            ("arp_bg", "true"),
        ])
        .unwrap();
        assert_eq!(c.arp_count, 5);
        let c = configure(&[
            ("ip", "2001:db8::5"),
            ("iflabel", "vip"),
            ("preferred_lft", "0"),
        ])
        .unwrap();
        assert_eq!(c.iflabel, None, "labels are IPv4 only");
        assert_eq!(c.preferred_lft, Some(0));
        let c = configure(&[("ip", "198.51.100.10"), ("broadcast", "+")]).unwrap();
        assert_eq!(c.broadcast, Broadcast::HostBitsSet);
    }

    fn ctx_with(kv: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "ipaddr",
            "stop",
            kv.iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        )
    }

    /// A clone of more than one instance would put the same plain address on
    /// every node: refused as a configuration error (6), which stop and a
    /// probe then handle through what can still be read.
    #[test]
    fn a_load_sharing_clone_is_refused() {
        for (max, unique) in [("2", "false"), ("3", "true")] {
            let ctx = ctx_with(&[
                ("ip", "198.51.100.10"),
                ("CRM_meta_clone_max", max),
                ("CRM_meta_clone", "0"),
                ("CRM_meta_globally_unique", unique),
            ]);
            let p = Params::parse(&PARAMS, &ctx.params).unwrap();
            let e = IpAddrAgent::configure(&p, &ctx).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured);
            assert!(e.reason.contains("CLUSTERIP"), "{e:?}");
            assert!(!e.reason.contains('\n'));
        }
        let ctx = ctx_with(&[
            ("ip", "198.51.100.10"),
            ("CRM_meta_clone_max", "1"),
            ("CRM_meta_clone", "0"),
        ]);
        let p = Params::parse(&PARAMS, &ctx.params).unwrap();
        assert!(
            IpAddrAgent::configure(&p, &ctx).is_ok(),
            "one instance is a plain address"
        );
    }

    /// What stop and a probe still read from parameters that do not validate:
    /// each one alone, and nothing when the address or a given name is unusable.
    #[test]
    fn raw_parameters_read_one_by_one() {
        let raw = |kv: &[(&str, &str)]| Raw::read(None, &ctx_with(kv));
        assert_eq!(
            raw(&[
                ("ip", "198.51.100.10"),
                ("nic", "eth0:vip"),
                ("cidr_netmask", "33"),
                ("arp_mode", "loud"),
            ]),
            Some(Raw {
                ip: "198.51.100.10".parse().unwrap(),
                prefix: None,
                nic: Some("eth0".into()),
                netns: None,
            }),
            "a bad mask is dropped, the nic's label too"
        );
        assert_eq!(
            raw(&[("ip", "198.51.100.10"), ("netmask", "255.255.255.0")])
                .unwrap()
                .prefix,
            Some(24)
        );
        assert_eq!(raw(&[("ip", "198.51.100.10/24")]), None);
        assert_eq!(raw(&[("ip", "198.51.100.10"), ("nic", "eth 0")]), None);
        assert_eq!(
            raw(&[("ip", "198.51.100.10"), ("network_namespace", "../x")]),
            None
        );
        assert_eq!(raw(&[]), None);
    }
}
