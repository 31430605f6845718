//! Unit tests: parameter parsing and the pure decisions (findif, served).

use super::*;
use ocf::Agent;

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
fn tables_are_sane() {
    ocf::metadata::check_info(&INFO).unwrap();
    ocf::params::check_table(&PARAMS).unwrap();
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
        kind: netlink::RTN_UNICAST,
        scope: if dst.is_ipv4() {
            netlink::RT_SCOPE_LINK
        } else {
            0
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
    global.scope = 0;
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
        flags: 0,
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

/// The record keeps every part of the identity, and a record that does not
/// name an address and an interface is no record.
#[test]
fn record_round_trip() {
    let s = Started {
        ip: "2001:db8::10".parse().unwrap(),
        prefix: 64,
        index: 7,
        ifname: "eth1".into(),
        label: None,
        netns: Some("web".into()),
        ns: Some(state::NsId {
            dev: 4,
            ino: 4026532281,
        }),
        addrlabel: Some(99),
    };
    let text = s.to_record().to_text();
    let back = Started::from_record(&ocf::Record::from_text(&text)).unwrap();
    assert_eq!(back, s);
    let v4 = Started {
        ip: "198.51.100.10".parse().unwrap(),
        prefix: 24,
        index: 2,
        ifname: "eth0".into(),
        label: Some("eth0:vip".into()),
        netns: None,
        ns: None,
        addrlabel: None,
    };
    assert_eq!(Started::from_record(&v4.to_record()).unwrap(), v4);
    for junk in [
        "ip=198.51.100.10\n",
        "ip=x\nprefix=24\nifindex=2\n",
        "ip=198.51.100.10\nprefix=24\nifindex=0\n",
    ] {
        assert_eq!(
            Started::from_record(&ocf::Record::from_text(junk)),
            None,
            "{junk}"
        );
    }
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
