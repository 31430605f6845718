//! ocf:rust:ipaddr against real network parts: every test builds its own
//! pair of network namespaces joined by a veth (`ipa-<tag>-<pid>` and its
//! peer `...p`; this kernel has no dummy netdev), runs the agent inside the
//! first one, and looks from the peer: captured gratuitous ARP / neighbour
//! advertisements (raw socket in the peer namespace), ping, and `ip addr`.

use std::path::Path;
use std::time::Duration;

use support::ipaddr::{
    Capture, ETH_P_ARP, ETH_P_IPV6, NIC, NetPair, PEER_NIC, arp, neighbour_advert, shown,
};
use support::{Outcome, agent_link, run_env};

const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

/// Run an action of the agent inside the pair's first namespace
/// (`ip netns exec`), the way a node running in that namespace would.
fn run(
    pair: &NetPair,
    a: &Path,
    action: &str,
    params: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Outcome {
    let keys: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
        .collect();
    let mut all: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("OCF_ROOT", "/usr/lib/ocf"));
    all.push(("OCF_RESOURCE_INSTANCE", "vip"));
    all.push(("OCF_RESKEY_CRM_meta_timeout", "20000"));
    all.push(pair.rsc_env());
    all.extend_from_slice(env);
    let path = a.to_str().unwrap();
    run_env(
        Path::new("ip"),
        &["netns", "exec", &pair.ns, path, action],
        &all,
    )
}

fn ok(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {o:?}");
}

#[test]
fn ipv4_start_announces_peer_pings_and_stop_removes() {
    let pair = NetPair::new("v4");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    // arp_bg=false: every announcement before start returns.
    let p = [
        ("ip", "198.51.100.10"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_bg", "false"),
    ];

    assert_eq!(
        run(&pair, &a.path, "monitor", &p, &[]).code,
        7,
        "probe before start"
    );
    assert!(!pair.peer_pings("198.51.100.10"));

    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    let o = run(&pair, &a.path, "start", &p, &[]);
    ok(&o, "start");
    let frames = cap.finish();
    let garp: Vec<_> = frames
        .iter()
        .filter_map(|(t, f)| arp(f).map(|a| (*t, a)))
        .filter(|(_, (_, spa, tpa))| *spa == [198, 51, 100, 10] && *tpa == [198, 51, 100, 10])
        .collect();
    assert_eq!(
        garp.len(),
        5,
        "arp_count=5 gratuitous ARPs seen by the peer: {frames:?}"
    );
    assert!(
        garp.iter().all(|(_, (op, _, _))| *op == 1),
        "request mode by default"
    );
    let span = garp[4].0 - garp[0].0;
    assert!(
        span >= Duration::from_millis(700),
        "arp_interval=200 ms between rounds: {span:?}"
    );
    assert!(
        o.stderr.contains("sent 5 gratuitous ARP"),
        "result is logged: {}",
        o.stderr
    );

    let s = shown(Some(&pair.ns), NIC, "198.51.100.10");
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].prefix, 24);
    assert_eq!(
        s[0].broadcast.as_deref(),
        Some("198.51.100.255"),
        "broadcast from the route's address"
    );
    assert!(pair.peer_pings("198.51.100.10"), "peer reaches the address");

    ok(&run(&pair, &a.path, "monitor", &p, &[RECURRING]), "monitor");
    ok(&run(&pair, &a.path, "monitor", &p, &[]), "probe on running");
    ok(&run(&pair, &a.path, "start", &p, &[]), "start on started");
    assert_eq!(
        shown(Some(&pair.ns), NIC, "198.51.100.10").len(),
        1,
        "no second copy"
    );

    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.10").is_empty());
    assert!(
        !pair.peer_pings("198.51.100.10"),
        "peer can no longer reach it"
    );
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop on stopped");
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[RECURRING]).code, 7);
    assert!(
        shown(Some(&pair.ns), NIC, "198.51.100.1").len() == 1,
        "the base address is untouched"
    );
}

#[test]
fn arp_reply_mode_count_interval_and_refresh_on_monitor() {
    let pair = NetPair::new("reply");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.11"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_mode", "reply"),
        ("arp_count", "3"),
        ("arp_interval", "400"),
        ("arp_count_refresh", "2"),
        ("arp_bg", "false"),
    ];
    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    let frames: Vec<_> = cap
        .finish()
        .into_iter()
        .filter_map(|(t, f)| arp(&f).map(|a| (t, a)))
        .collect();
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert!(
        frames
            .iter()
            .all(|(_, (op, spa, _))| *op == 2 && *spa == [198, 51, 100, 11]),
        "{frames:?}"
    );
    assert!(
        frames[2].0 - frames[0].0 >= Duration::from_millis(700),
        "400 ms apart: {frames:?}"
    );

    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    ok(
        &run(&pair, &a.path, "monitor", &p, &[RECURRING]),
        "monitor with refresh",
    );
    let refresh = cap
        .finish()
        .iter()
        .filter(|(_, f)| arp(f).is_some_and(|a| a.1 == [198, 51, 100, 11]))
        .count();
    assert_eq!(refresh, 2, "arp_count_refresh=2 on every monitor");

    // send_arp_opts=-A (IPaddr2's way to ask for replies) means reply mode too.
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    let compat = [
        ("ip", "198.51.100.11"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("send_arp_opts", "-A"),
        ("arp_count", "1"),
    ];
    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    ok(&run(&pair, &a.path, "start", &compat, &[]), "start -A");
    let ops: Vec<u16> = cap
        .finish()
        .iter()
        .filter_map(|(_, f)| arp(f))
        .filter(|a| a.1 == [198, 51, 100, 11])
        .map(|a| a.0)
        .collect();
    assert_eq!(ops, vec![2]);
    ok(&run(&pair, &a.path, "stop", &compat, &[]), "stop");
}

#[test]
fn monitor_is_7_after_deletion_behind_our_back_and_when_the_link_is_down() {
    let pair = NetPair::new("mon");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.12"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
    ];
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    pair.ns_ip(&["addr", "del", "198.51.100.12/24", "dev", NIC]);
    let m = run(&pair, &a.path, "monitor", &p, &[RECURRING]);
    assert_eq!(m.code, 7, "{m:?}");
    assert_eq!(m.reason(), Some("198.51.100.12 is not on ipa0"));

    ok(&run(&pair, &a.path, "start", &p, &[]), "start again");
    pair.ns_ip(&["link", "set", NIC, "down"]);
    let m = run(&pair, &a.path, "monitor", &p, &[RECURRING]);
    assert_eq!(m.code, 7, "link down counts as not running: {m:?}");
    assert!(
        m.reason().unwrap().contains("is down or has no carrier"),
        "{m:?}"
    );
    let off = [p[0], p[1], p[2], ("check_link_status", "false")];
    ok(
        &run(&pair, &a.path, "monitor", &off, &[RECURRING]),
        "check_link_status=false ignores the link",
    );

    // Start on the address with its link down sets the link up again.
    ok(
        &run(&pair, &a.path, "start", &p, &[]),
        "start with the link down",
    );
    assert!(
        pair.ns_ip(&["link", "show", NIC]).contains(",UP"),
        "link set up"
    );
    ok(
        &run(&pair, &a.path, "monitor", &p, &[RECURRING]),
        "monitor after start",
    );

    // No carrier: our end up, the peer's end down.
    pair.peer_ip(&["link", "set", PEER_NIC, "down"]);
    assert_eq!(
        run(&pair, &a.path, "monitor", &p, &[RECURRING]).code,
        7,
        "no carrier"
    );
    let probe = run(&pair, &a.path, "monitor", &p, &[]);
    assert_eq!(
        probe.code, 1,
        "a probe never says stopped over an address still configured here: {probe:?}"
    );
    pair.peer_ip(&["link", "set", PEER_NIC, "up"]);
    assert!(support::wait_for(Duration::from_secs(5), || run(
        &pair,
        &a.path,
        "monitor",
        &p,
        &[RECURRING]
    )
    .code
        == 0));

    // A different prefix is not our address: 1, and start replaces it.
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    pair.ns_ip(&["addr", "add", "198.51.100.12/25", "dev", NIC]);
    let m = run(&pair, &a.path, "monitor", &p, &[RECURRING]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains("/25, not /24"));
    ok(&run(&pair, &a.path, "start", &p, &[]), "start replaces");
    let s = shown(Some(&pair.ns), NIC, "198.51.100.12");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].prefix, 24);
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
}

#[test]
fn start_finds_nic_and_mask_from_routes_and_monitor_ignores_routes() {
    let pair = NetPair::new("find");
    pair.addresses("203.0.113.1/24", "203.0.113.2/24");
    let a = agent_link("ipaddr");
    let p = [("ip", "203.0.113.20")];
    ok(
        &run(
            &pair,
            &a.path,
            "validate-all",
            &p,
            &[("OCF_CHECK_LEVEL", "10")],
        ),
        "validate-all 10",
    );
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    let s = shown(Some(&pair.ns), NIC, "203.0.113.20");
    assert_eq!((s.len(), s[0].prefix), (1, 24), "{s:?}");
    assert!(pair.peer_pings("203.0.113.20"));
    // The route goes away (RA#328): monitor looks at addresses only.
    pair.ns_ip(&["route", "flush", "dev", NIC]);
    ok(
        &run(&pair, &a.path, "monitor", &p, &[RECURRING]),
        "monitor without routes",
    );
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop without routes");
    assert!(shown(Some(&pair.ns), NIC, "203.0.113.20").is_empty());
    // And with no route start cannot place it: 5 (this node), never 6.
    let o = run(&pair, &a.path, "start", &[("ip", "203.0.113.21")], &[]);
    assert_eq!(o.code, 5, "{o:?}");
    assert!(o.reason().unwrap().contains("no directly connected route"));
}

#[test]
fn ipv6_waits_for_dad_announces_and_refuses_a_duplicate() {
    let pair = NetPair::new("v6");
    pair.addresses("2001:db8:1::1/64", "2001:db8:1::2/64");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "2001:db8:1::10"),
        ("cidr_netmask", "64"),
        ("nic", NIC),
        ("arp_count", "3"),
        ("arp_bg", "false"),
    ];
    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_IPV6);
    let o = run(&pair, &a.path, "start", &p, &[]);
    ok(&o, "start");
    let na: Vec<_> = cap
        .finish()
        .iter()
        .filter_map(|(_, f)| neighbour_advert(f))
        .collect();
    let ours: Vec<_> = na
        .iter()
        .filter(|n| n.1 == "2001:db8:1::10".parse::<std::net::Ipv6Addr>().unwrap())
        .collect();
    assert_eq!(ours.len(), 3, "3 unsolicited NAs: {na:?}");
    assert!(
        ours.iter().all(|n| n.2 && n.0 == n.1),
        "override flag, sent from the address"
    );
    let s = shown(Some(&pair.ns), NIC, "2001:db8:1::10");
    assert_eq!(s.len(), 1);
    assert!(
        !s[0].flags.contains(&"tentative".to_string()),
        "DAD finished before start returned: {s:?}"
    );
    assert!(pair.peer_pings("2001:db8:1::10"));
    ok(&run(&pair, &a.path, "monitor", &p, &[RECURRING]), "monitor");
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert!(shown(Some(&pair.ns), NIC, "2001:db8:1::10").is_empty());
    assert!(!pair.peer_pings("2001:db8:1::10"));

    // nodad: added without DAD, usable at once.
    let nodad = [p[0], p[1], p[2], ("nodad", "true"), ("arp_count", "1")];
    ok(&run(&pair, &a.path, "start", &nodad, &[]), "start nodad");
    let s = shown(Some(&pair.ns), NIC, "2001:db8:1::10");
    assert!(s[0].flags.contains(&"nodad".to_string()), "{s:?}");
    ok(&run(&pair, &a.path, "stop", &nodad, &[]), "stop nodad");

    // The peer already has the address: DAD fails, start says why, nothing left.
    let dup = [
        ("ip", "2001:db8:1::2"),
        ("cidr_netmask", "64"),
        ("nic", NIC),
    ];
    let o = run(&pair, &a.path, "start", &dup, &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap().contains("dadfailed"), "{o:?}");
    assert!(shown(Some(&pair.ns), NIC, "2001:db8:1::2").is_empty());
    assert_eq!(run(&pair, &a.path, "monitor", &dup, &[RECURRING]).code, 7);
}

#[test]
fn run_arping_refuses_an_address_in_use_on_the_segment() {
    let pair = NetPair::new("dup");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.2"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("run_arping", "true"),
    ];
    let o = run(&pair, &a.path, "start", &p, &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.reason().unwrap().contains("already in use on ipa0 by"),
        "{o:?}"
    );
    assert!(
        shown(Some(&pair.ns), NIC, "198.51.100.2").is_empty(),
        "not added"
    );
    // A free address passes the check.
    let free = [("ip", "198.51.100.13"), p[1], p[2], p[3]];
    ok(&run(&pair, &a.path, "start", &free, &[]), "free address");
    assert!(pair.peer_pings("198.51.100.13"));
    ok(&run(&pair, &a.path, "stop", &free, &[]), "stop");
}

#[test]
fn options_reach_the_kernel() {
    let pair = NetPair::new("opts");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:2::1/64", "dev", NIC, "nodad"]);
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.14"),
        ("cidr_netmask", "255.255.255.128"),
        ("nic", NIC),
        ("iflabel", "vip"),
        ("broadcast", "-"),
        ("noprefixroute", "true"),
        ("arp_count", "1"),
        ("flush_routes", "true"),
    ];
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    let s = shown(Some(&pair.ns), NIC, "198.51.100.14");
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].prefix, 25);
    assert_eq!(s[0].label.as_deref(), Some("ipa0:vip"));
    assert_eq!(s[0].broadcast.as_deref(), Some("198.51.100.0"));
    assert!(s[0].flags.contains(&"noprefixroute".to_string()), "{s:?}");
    // The label is part of the identity: someone relabels it -> 1.
    ok(&run(&pair, &a.path, "monitor", &p, &[RECURRING]), "monitor");
    ok(
        &run(&pair, &a.path, "stop", &p, &[]),
        "stop with flush_routes",
    );
    pair.ns_ip(&[
        "addr",
        "add",
        "198.51.100.14/25",
        "dev",
        NIC,
        "label",
        "ipa0:other",
    ]);
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[RECURRING]).code, 1);
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop removes it");

    // The deprecated nic:label form.
    let old = [
        ("ip", "198.51.100.15"),
        ("cidr_netmask", "24"),
        ("nic", "ipa0:old"),
        ("arp_count", "0"),
    ];
    ok(&run(&pair, &a.path, "start", &old, &[]), "nic:label");
    assert_eq!(
        shown(Some(&pair.ns), NIC, "198.51.100.15")[0]
            .label
            .as_deref(),
        Some("ipa0:old")
    );
    ok(&run(&pair, &a.path, "stop", &old, &[]), "stop");

    // IPv6 preferred_lft=0: present but deprecated (not used as a source).
    let v6 = [
        ("ip", "2001:db8:2::15"),
        ("cidr_netmask", "64"),
        ("nic", NIC),
        ("nodad", "yes"),
        ("preferred_lft", "0"),
        ("arp_count", "1"),
    ];
    ok(&run(&pair, &a.path, "start", &v6, &[]), "start v6");
    let s = shown(Some(&pair.ns), NIC, "2001:db8:2::15");
    assert!(s[0].flags.contains(&"deprecated".to_string()), "{s:?}");
    ok(&run(&pair, &a.path, "stop", &v6, &[]), "stop v6");

    // lvs_support: stop keeps the address on lo, start takes it back.
    let lvs = [
        ("ip", "198.51.100.16"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("lvs_support", "true"),
        ("arp_count", "0"),
    ];
    ok(&run(&pair, &a.path, "start", &lvs, &[]), "start lvs");
    ok(&run(&pair, &a.path, "stop", &lvs, &[]), "stop lvs");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.16").is_empty());
    assert_eq!(
        shown(Some(&pair.ns), "lo", "198.51.100.16")[0].prefix,
        32,
        "kept on lo"
    );
    assert_eq!(
        run(&pair, &a.path, "monitor", &lvs, &[RECURRING]).code,
        7,
        "lo does not count"
    );
    ok(&run(&pair, &a.path, "start", &lvs, &[]), "start lvs again");
    assert!(
        shown(Some(&pair.ns), "lo", "198.51.100.16").is_empty(),
        "taken off lo"
    );
    ok(&run(&pair, &a.path, "stop", &lvs, &[]), "stop");
}

/// The source address the kernel picks in the pair's namespace for `dst`.
fn source_for(pair: &NetPair, dst: &str) -> String {
    let out = pair.ns_ip(&["-6", "route", "get", dst]);
    let mut words = out.split_whitespace();
    words
        .by_ref()
        .find(|w| *w == "src")
        .and_then(|_| words.next())
        .unwrap_or_else(|| panic!("no src in {out}"))
        .to_string()
}

/// lvs_ipv6_addrlabel: the kernel stops choosing the floating address as
/// the source of this node's own traffic (what LVS-DR health checks need),
/// and stop takes the label away again.
#[test]
fn lvs_ipv6_addrlabel_keeps_the_address_out_of_source_selection() {
    let pair = NetPair::new("albl");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:3::1/64", "dev", NIC, "nodad"]);
    let a = agent_link("ipaddr");
    // ::16 shares more leading bits with the floating ::17 than with ::1,
    // so by the longest-prefix rule the kernel would send from ::17.
    let dst = "2001:db8:3::16";
    let plain = [
        ("ip", "2001:db8:3::17"),
        ("cidr_netmask", "64"),
        ("nic", NIC),
        ("nodad", "true"),
        ("arp_count", "0"),
    ];
    ok(&run(&pair, &a.path, "start", &plain, &[]), "start");
    assert_eq!(source_for(&pair, dst), "2001:db8:3::17");
    ok(&run(&pair, &a.path, "stop", &plain, &[]), "stop");

    let mut labelled = plain.to_vec();
    labelled.push(("lvs_ipv6_addrlabel", "true"));
    labelled.push(("lvs_ipv6_addrlabel_value", "1234"));
    ok(&run(&pair, &a.path, "start", &labelled, &[]), "start");
    let table = pair.ns_ip(&["addrlabel", "list"]);
    assert!(
        table.contains("prefix 2001:db8:3::17/128 label 1234"),
        "{table}"
    );
    assert_eq!(
        source_for(&pair, dst),
        "2001:db8:3::1",
        "the label keeps ::17 out of source selection"
    );
    ok(
        &run(&pair, &a.path, "monitor", &labelled, &[RECURRING]),
        "monitor",
    );
    ok(&run(&pair, &a.path, "stop", &labelled, &[]), "stop");
    let table = pair.ns_ip(&["addrlabel", "list"]);
    assert!(
        !table.contains("2001:db8:3::17"),
        "stop removed it: {table}"
    );
    ok(
        &run(&pair, &a.path, "stop", &labelled, &[]),
        "a second stop",
    );

    let v4 = [
        ("ip", "198.51.100.30"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("lvs_ipv6_addrlabel", "true"),
    ];
    let bad = run(&pair, &a.path, "validate-all", &v4, &[]);
    assert_eq!(bad.code, 6, "{bad:?}");
    assert!(bad.stderr.contains("IPv6 only"), "{bad:?}");
}

#[test]
fn network_namespace_parameter_enters_with_setns() {
    let pair = NetPair::new("ns");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let rsc = [pair.rsc_env(), ("OCF_RESOURCE_INSTANCE", "vip")];
    let p = [
        ("ip", "198.51.100.17"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("network_namespace", pair.ns.as_str()),
    ];
    // Run from the root namespace: the agent enters the namespace itself.
    let o = support::ocf(&a, "start", &p, &rsc);
    ok(&o, "start");
    assert_eq!(shown(Some(&pair.ns), NIC, "198.51.100.17").len(), 1);
    assert!(pair.peer_pings("198.51.100.17"));
    ok(
        &support::ocf(&a, "monitor", &p, &[RECURRING, rsc[0], rsc[1]]),
        "monitor",
    );
    ok(&support::ocf(&a, "stop", &p, &rsc), "stop");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.17").is_empty());

    // A namespace missing on this node: start 5, stop 0, probe 7.
    let gone = [
        p[0],
        p[1],
        p[2],
        ("network_namespace", "ipa-does-not-exist"),
    ];
    let o = support::ocf(&a, "start", &gone, &rsc);
    assert_eq!(o.code, 5, "{o:?}");
    assert!(
        o.reason()
            .unwrap()
            .contains("network namespace ipa-does-not-exist")
    );
    assert_eq!(support::ocf(&a, "stop", &gone, &rsc).code, 0);
    assert_eq!(support::ocf(&a, "monitor", &gone, &rsc).code, 7);
}

#[test]
fn bad_input_gives_the_right_code_and_one_clear_line() {
    let a = agent_link("ipaddr");
    let tmp = support::Scratch::new("ipaddr-bad-input");
    let rsc = [("HA_RSCTMP", tmp.0.to_str().unwrap())];
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("ip", "1.2.3.4; rm -rf /")],
            "parameter 'ip' must be an IPv4 or IPv6 address",
        ),
        (
            &[("ip", "198.51.100.10"), ("nic", "eth 0")],
            "parameter 'nic' must be an interface name",
        ),
        (
            &[("ip", "198.51.100.10"), ("nic", "abcdefghijklmnopqrst")],
            "parameter 'nic' must be an interface name of 1 to 15",
        ),
        (
            &[("ip", "198.51.100.10"), ("cidr_netmask", "33")],
            "cidr_netmask 33 is too long for the IPv4 address",
        ),
        (
            &[("ip", "198.51.100.10"), ("cidr_netmask", "64")],
            "cidr_netmask 64 is too long for the IPv4 address",
        ),
        (
            &[
                ("ip", "198.51.100.10"),
                ("nic", "ipa0"),
                ("iflabel", "waytoolong12"),
            ],
            "exceeds the kernel's limit of 15",
        ),
    ];
    for (params, needle) in cases {
        for action in ["validate-all", "start"] {
            let o = support::ocf(&a, action, params, &rsc);
            assert_eq!(o.code, 6, "{action} {params:?}: {o:?}");
            let lines: Vec<&str> = o.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "one line: {lines:?}");
            assert!(
                o.reason().unwrap().contains(needle),
                "{:?} lacks {needle:?}",
                o.reason()
            );
        }
        assert_eq!(
            support::ocf(&a, "stop", params, &rsc).code,
            0,
            "stop with a bad config: nothing can run"
        );
        assert_eq!(
            support::ocf(&a, "monitor", params, &rsc).code,
            7,
            "probe with a bad config"
        );
    }
    // Syntax-only validate-all says nothing on success (pcs shows stderr).
    let o = support::ocf(
        &a,
        "validate-all",
        &[("ip", "198.51.100.10"), ("nic", "ipa0")],
        &rsc,
    );
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
}

#[test]
fn monitor_forks_nothing() {
    support::require("strace");
    let pair = NetPair::new("fork");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.18"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_count", "1"),
    ];
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    let trace = support::Scratch::new("ipaddr-strace");
    let log = trace.path("trace");
    let o = run_env(
        Path::new("ip"),
        &[
            "netns",
            "exec",
            &pair.ns,
            "strace",
            "-f",
            "-qq",
            "-o",
            log.to_str().unwrap(),
            "-e",
            "trace=execve,clone,clone3,fork,vfork",
            a.path.to_str().unwrap(),
            "monitor",
        ],
        &[
            ("OCF_RESKEY_ip", "198.51.100.18"),
            ("OCF_RESKEY_nic", NIC),
            ("OCF_RESKEY_cidr_netmask", "24"),
            RECURRING,
        ],
    );
    ok(&o, "monitor under strace");
    let text = std::fs::read_to_string(&log).unwrap();
    let execs = text.lines().filter(|l| l.contains("execve(")).count();
    let forks = text
        .lines()
        .filter(|l| {
            ["clone(", "clone3(", "fork(", "vfork("]
                .iter()
                .any(|c| l.contains(c))
        })
        .filter(|l| !l.contains("CLONE_THREAD") && !l.contains("resumed"))
        .count();
    assert_eq!(
        (execs, forks),
        (1, 0),
        "only the agent itself runs:\n{text}"
    );
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
}

/// The anchor itself: ocf:heartbeat:IPaddr2 and ocf:rust:ipaddr, started
/// with the same parameters on the same interface, leave the same address
/// (prefix, label, broadcast, flags); both stops leave nothing.
#[test]
fn same_interface_state_as_heartbeat_ipaddr2() {
    let ipaddr2 = Path::new("/usr/lib/ocf/resource.d/heartbeat/IPaddr2");
    assert!(ipaddr2.is_file(), "resource-agents is not installed");
    let pair = NetPair::new("cmp");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:3::1/64", "dev", NIC, "nodad"]);
    let ours = agent_link("ipaddr");
    let cases: [&[(&str, &str)]; 6] = [
        &[
            ("ip", "198.51.100.30"),
            ("cidr_netmask", "24"),
            ("nic", NIC),
        ],
        &[
            ("ip", "198.51.100.31"),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("iflabel", "vip"),
        ],
        &[("ip", "198.51.100.32")],
        &[
            ("ip", "198.51.100.33"),
            ("cidr_netmask", "26"),
            ("nic", NIC),
            ("broadcast", "+"),
            ("noprefixroute", "true"),
        ],
        &[
            ("ip", "2001:db8:3::30"),
            ("cidr_netmask", "64"),
            ("nic", NIC),
        ],
        &[
            ("ip", "2001:db8:3::31"),
            ("cidr_netmask", "80"),
            ("nic", NIC),
            ("nodad", "true"),
            ("noprefixroute", "true"),
        ],
    ];
    for params in cases {
        let vip = params[0].1;
        let mut states = vec![];
        for agent in [ipaddr2, ours.path.as_path()] {
            let o = run(&pair, agent, "start", params, &[]);
            ok(&o, &format!("{} start {params:?}", agent.display()));
            ok(
                &run(&pair, agent, "monitor", params, &[RECURRING]),
                "monitor",
            );
            states.push(shown(Some(&pair.ns), NIC, vip));
            ok(&run(&pair, agent, "stop", params, &[]), "stop");
            assert!(
                shown(Some(&pair.ns), NIC, vip).is_empty(),
                "{} stop left {vip}",
                agent.display()
            );
        }
        println!("{params:?}: {:?}", states[1]);
        assert_eq!(states[1].len(), 1, "{params:?}: {states:?}");
        assert_eq!(states[0], states[1], "IPaddr2 vs ipaddr for {params:?}");
    }
}

/// Announcements never run a start past its timeout: 1,000 rounds 500 ms
/// apart under a 4 s operation timeout end early, start still succeeds
/// (the address is up) and the log says how many went out.
#[test]
fn announcements_stop_before_the_start_timeout() {
    let pair = NetPair::new("dl");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.19"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_count", "1000"),
        ("arp_interval", "500"),
        ("arp_bg", "false"),
    ];
    let o = run(
        &pair,
        &a.path,
        "start",
        &p,
        &[("OCF_RESKEY_CRM_meta_timeout", "4000")],
    );
    ok(&o, "start");
    assert!(o.elapsed < Duration::from_secs(4), "{:?}", o.elapsed);
    let sent: u32 = o
        .stderr
        .split("sent ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'sent N' line: {}", o.stderr));
    assert!((2..1000).contains(&sent), "sent {sent}");
    assert!(pair.peer_pings("198.51.100.19"));
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
}

/// The garp frames for `ip` (request or reply) among captured frames, with
/// their arrival times.
fn garps(frames: &[(Duration, Vec<u8>)], ip: [u8; 4]) -> Vec<Duration> {
    frames
        .iter()
        .filter_map(|(t, f)| arp(f).map(|a| (*t, a)))
        .filter(|(_, (_, spa, tpa))| *spa == ip && *tpa == ip)
        .map(|(t, _)| t)
        .collect()
}

/// arp_bg (IPaddr2's default, true): start returns after the first
/// announcement, without waiting for the other four, and without a child
/// holding its output pipes open; the other four reach the peer 200 ms
/// apart; the child is gone after the last. A stop in between ends the
/// announcements: nothing is announced for an address that left.
#[test]
fn arp_bg_announces_the_rest_in_the_background_and_stops_with_the_address() {
    let pair = NetPair::new("bg");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.22"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
    ];
    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    let o = run(&pair, &a.path, "start", &p, &[]);
    ok(&o, "start");
    assert!(
        o.elapsed < Duration::from_millis(600),
        "start returns without waiting for 4 x 200 ms (nor for a child holding its pipes): {:?}",
        o.elapsed
    );
    assert!(o.stderr.contains("sent 1 gratuitous ARP"), "{}", o.stderr);
    let pid: i32 = o
        .stderr
        .split("(arp_bg, pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no background pid: {}", o.stderr));
    std::thread::sleep(Duration::from_millis(1500));
    let seen = garps(&cap.finish(), [198, 51, 100, 22]);
    assert_eq!(seen.len(), 5, "arp_count=5 in all: {seen:?}");
    assert!(
        seen[4] - seen[0] >= Duration::from_millis(700),
        "arp_interval between them: {seen:?}"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the background sender ended after its count"
    );
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");

    // Stopped 300 ms into the announcements: none after the stop.
    let slow = [
        p[0],
        p[1],
        p[2],
        ("arp_interval", "500"),
        ("arp_count", "6"),
    ];
    let cap = Capture::start(&pair.peer, PEER_NIC, ETH_P_ARP);
    ok(&run(&pair, &a.path, "start", &slow, &[]), "start");
    std::thread::sleep(Duration::from_millis(300));
    let stopped_at = std::time::Instant::now();
    ok(&run(&pair, &a.path, "stop", &slow, &[]), "stop");
    let stop_took = stopped_at.elapsed();
    std::thread::sleep(Duration::from_millis(2500));
    let seen = garps(&cap.finish(), [198, 51, 100, 22]);
    assert!(
        !seen.is_empty() && seen.len() < 3,
        "the first, perhaps one more, then none for a removed address: {seen:?} (stop took {stop_took:?})"
    );
}

/// An interface missing on this node: start 5 (move elsewhere), stop 0,
/// probe 7, recurring monitor 7 (never 6, which would ban cluster-wide).
#[test]
fn a_missing_interface_is_local_not_fatal() {
    let pair = NetPair::new("nonic");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.20"),
        ("cidr_netmask", "24"),
        ("nic", "ipa-none"),
    ];
    let o = run(&pair, &a.path, "start", &p, &[]);
    assert_eq!(o.code, 5, "{o:?}");
    assert_eq!(
        o.reason(),
        Some("interface ipa-none does not exist on this node")
    );
    assert_eq!(run(&pair, &a.path, "stop", &p, &[]).code, 0);
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[]).code, 7);
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[RECURRING]).code, 7);
    let v = run(
        &pair,
        &a.path,
        "validate-all",
        &p,
        &[("OCF_CHECK_LEVEL", "10")],
    );
    assert_eq!(v.code, 5, "validate-all at level 10 checks the node: {v:?}");
    assert_eq!(
        run(&pair, &a.path, "validate-all", &p, &[]).code,
        0,
        "level 0: syntax only"
    );
}

/// The addresses equal to `addr` on every interface of the pair's first
/// namespace, as "dev/prefix".
fn everywhere(pair: &NetPair, addr: &str) -> Vec<String> {
    let out = pair.ns_ip(&["-o", "addr", "show"]);
    out.lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let (a, p) = t.get(3)?.split_once('/')?;
            (a == addr).then(|| format!("{}/{p}", t[1]))
        })
        .collect()
}

/// Without `nic`, monitor and stop look where start put the address (the
/// interface index it recorded), not on every interface: a rename and a
/// lost route do not hide it, and a copy of the same value on another
/// interface is someone else's and stays.
#[test]
fn without_nic_monitor_and_stop_follow_the_interface_start_chose() {
    let pair = NetPair::new("rec");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.ns_ip(&[
        "link", "add", "ipa1", "type", "veth", "peer", "name", "ipa1p", "netns", &pair.peer,
    ]);
    pair.ns_ip(&["link", "set", "ipa1", "up"]);
    pair.peer_ip(&["link", "set", "ipa1p", "up"]);
    pair.ns_ip(&["addr", "add", "203.0.113.1/24", "dev", "ipa1"]);
    let a = agent_link("ipaddr");
    let p = [("ip", "198.51.100.21"), ("arp_count", "1")];
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    assert_eq!(everywhere(&pair, "198.51.100.21"), ["ipa0/24"]);

    pair.ns_ip(&["addr", "add", "198.51.100.21/32", "dev", "ipa1"]);
    pair.ns_ip(&["link", "set", NIC, "down"]);
    pair.ns_ip(&["link", "set", NIC, "name", "ipa8"]);
    pair.ns_ip(&["link", "set", "ipa8", "up"]);
    pair.ns_ip(&["route", "flush", "dev", "ipa8"]);
    ok(
        &run(&pair, &a.path, "monitor", &p, &[RECURRING]),
        "monitor after a rename, with no route left",
    );
    ok(&run(&pair, &a.path, "monitor", &p, &[]), "probe");
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert_eq!(
        everywhere(&pair, "198.51.100.21"),
        ["ipa1/32"],
        "ours removed, the other interface's copy left alone"
    );
    let o = run(&pair, &a.path, "monitor", &p, &[]);
    assert_eq!(o.code, 7, "the copy on ipa1 is not ours: {o:?}");

    // Started again (on ipa8, which still has its address), then ipa8 is
    // deleted and the route to the address now leads to ipa1, which holds
    // a copy: what start added went with ipa8, and the copy is not ours.
    pair.ns_ip(&["route", "add", "198.51.100.0/24", "dev", "ipa8"]);
    ok(&run(&pair, &a.path, "start", &p, &[]), "start again");
    assert_eq!(everywhere(&pair, "198.51.100.21"), ["ipa8/24", "ipa1/32"]);
    pair.ns_ip(&["link", "del", "ipa8"]);
    pair.ns_ip(&["route", "add", "198.51.100.0/24", "dev", "ipa1"]);
    let o = run(&pair, &a.path, "monitor", &p, &[]);
    assert_eq!(o.code, 7, "{o:?}");
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert_eq!(everywhere(&pair, "198.51.100.21"), ["ipa1/32"]);
}

/// A start that failed after adding the address (no carrier) leaves its
/// record; with parameters that then stop validating, a probe still sees
/// the address and stop removes it.
#[test]
fn a_start_that_failed_half_way_is_seen_and_stopped_through_its_record() {
    let pair = NetPair::new("half");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.22"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_count", "1"),
    ];
    pair.peer_ip(&["link", "set", PEER_NIC, "down"]);
    let o = run(&pair, &a.path, "start", &p, &[]);
    assert_eq!(o.code, 1, "no carrier: {o:?}");
    assert_eq!(shown(Some(&pair.ns), NIC, "198.51.100.22").len(), 1);
    let record = std::fs::read_to_string(pair.rsctmp.path("ocf-rs-ipaddr-vip.record")).unwrap();
    for key in [
        "ip=198.51.100.22",
        "prefix=24",
        "ifname=ipa0",
        "ifindex=",
        "netns_ino=",
    ] {
        assert!(record.contains(key), "{key} in {record}");
    }

    let bad = [p[0], p[1], p[2], ("arp_mode", "loud")];
    let o = run(&pair, &a.path, "monitor", &bad, &[]);
    assert_eq!(o.code, 0, "the probe sees what start added: {o:?}");
    ok(&run(&pair, &a.path, "stop", &bad, &[]), "stop");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.22").is_empty());
    assert!(
        !pair.rsctmp.path("ocf-rs-ipaddr-vip.record").exists(),
        "the record goes with a stop that answered 0"
    );
    assert_eq!(run(&pair, &a.path, "monitor", &bad, &[]).code, 7);
}

/// Start again with another address and no stop in between (a forced
/// start by hand): the first address goes, so one record names all.
#[test]
fn a_second_start_with_another_address_removes_the_first() {
    let pair = NetPair::new("twice");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let first = [
        ("ip", "198.51.100.23"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("arp_count", "1"),
    ];
    let second = [("ip", "198.51.100.24"), first[1], first[2], first[3]];
    ok(&run(&pair, &a.path, "start", &first, &[]), "start");
    ok(&run(&pair, &a.path, "start", &second, &[]), "start again");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.23").is_empty());
    assert_eq!(shown(Some(&pair.ns), NIC, "198.51.100.24").len(), 1);
    ok(&run(&pair, &a.path, "stop", &second, &[]), "stop");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.24").is_empty());
}

/// clone-max > 1: refused (6) with the reason on one line, nothing added;
/// an address that is there anyway is seen by the probe and removed by stop.
#[test]
fn a_load_sharing_clone_is_refused_and_its_address_still_stopped() {
    let pair = NetPair::new("clone");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.25"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("CRM_meta_clone_max", "2"),
        ("CRM_meta_clone", "1"),
    ];
    for action in ["validate-all", "start"] {
        let o = run(&pair, &a.path, action, &p, &[]);
        assert_eq!(o.code, 6, "{action}: {o:?}");
        let reason = o.reason().unwrap();
        assert!(
            reason.contains("clone-max=2") && reason.contains("CLUSTERIP"),
            "{reason}"
        );
        assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
    }
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.25").is_empty());
    pair.ns_ip(&["addr", "add", "198.51.100.25/24", "dev", NIC]);
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[]).code, 0, "probe");
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert!(shown(Some(&pair.ns), NIC, "198.51.100.25").is_empty());
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[]).code, 7);
}

/// lvs_support: stop moves the address to lo only from an interface that
/// had it; a stop where it never ran adds nothing.
#[test]
fn lvs_stop_adds_nothing_where_the_address_never_was() {
    let pair = NetPair::new("lvs");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    let a = agent_link("ipaddr");
    let p = [
        ("ip", "198.51.100.26"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("lvs_support", "true"),
        ("arp_count", "1"),
    ];
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert!(everywhere(&pair, "198.51.100.26").is_empty());
    ok(&run(&pair, &a.path, "start", &p, &[]), "start");
    ok(&run(&pair, &a.path, "stop", &p, &[]), "stop");
    assert_eq!(everywhere(&pair, "198.51.100.26"), ["lo/32"]);
}

/// IPv6: an address already there that failed DAD is not "already
/// started": start adds it again, DAD fails again, start says so and
/// leaves nothing.
#[test]
fn start_over_a_dadfailed_address_fails_with_the_reason() {
    let pair = NetPair::new("dadf");
    pair.addresses("2001:db8:5::1/64", "2001:db8:5::2/64");
    let a = agent_link("ipaddr");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:5::2/64", "dev", NIC]);
    assert!(support::wait_for(Duration::from_secs(10), || {
        shown(Some(&pair.ns), NIC, "2001:db8:5::2")
            .iter()
            .any(|s| s.flags.contains(&"dadfailed".to_string()))
    }));
    let p = [
        ("ip", "2001:db8:5::2"),
        ("cidr_netmask", "64"),
        ("nic", NIC),
    ];
    assert_eq!(run(&pair, &a.path, "monitor", &p, &[]).code, 1, "probe");
    let o = run(&pair, &a.path, "start", &p, &[]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap().contains("dadfailed"), "{o:?}");
    assert!(shown(Some(&pair.ns), NIC, "2001:db8:5::2").is_empty());
}

/// Something other than a namespace in `/run/netns/<name>` (a FIFO, which
/// `open` would wait on for a writer): every action answers at once, as for
/// a namespace missing on this node (start 5, probe 7, stop 0). Before the
/// fix each action hung in open() until its timeout.
#[test]
fn a_fifo_in_place_of_the_network_namespace_never_blocks() {
    struct Planted(std::path::PathBuf);
    impl Drop for Planted {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let name = format!("ipa-fifo-{}", std::process::id());
    let _ = std::fs::create_dir_all("/run/netns");
    let planted = Planted(Path::new("/run/netns").join(&name));
    let _ = std::fs::remove_file(&planted.0);
    let (code, out) = support::sh("mkfifo", &[planted.0.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let a = agent_link("ipaddr");
    let tmp = support::Scratch::new("ipaddr-netns-fifo");
    let env = [
        ("HA_RSCTMP", tmp.0.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", "vip"),
        ("OCF_RESKEY_CRM_meta_timeout", "5000"),
    ];
    let p = [
        ("ip", "198.51.100.31"),
        ("cidr_netmask", "24"),
        ("nic", NIC),
        ("network_namespace", name.as_str()),
    ];
    for (action, want) in [("start", 5), ("monitor", 7), ("stop", 0)] {
        let o = support::ocf(&a, action, &p, &env);
        assert!(
            o.elapsed < Duration::from_secs(2),
            "{action} blocked: {o:?}"
        );
        assert_eq!(o.code, want, "{action}: {o:?}");
    }
}

/// Issue 15: an address dump raced by another change can miss entries (the
/// kernel resumes a dump by position, and a deletion before that position
/// moves our address past it); the kernel then marks the dump
/// NLM_F_DUMP_INTR, and the agent reads it again. Another writer adds and
/// deletes 200 other addresses on the same interface, over and over, while
/// monitor runs hundreds of times, for IPv4 and IPv6, with 1,500 further
/// addresses on the interface so that each dump spans several datagrams:
/// monitor must answer 0 every time, and stop (which needs a whole dump to
/// see the address gone) then 0 with the address removed. How often the
/// kernel marked a dump (from the agent's debug lines) is printed.
#[test]
fn monitor_stays_0_while_other_addresses_change_on_the_interface() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    let pair = NetPair::new("race");
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.ns_ip(&["-6", "addr", "add", "2001:db8:1::1/64", "dev", NIC, "nodad"]);
    let scratch = support::Scratch::new("ipaddr-race");
    // Where a deletion can make a dump skip ours: the kernel lists IPv4
    // primaries first and appends secondaries (ours, 198.51.100.10, is one,
    // after 1,500 others), and puts a new IPv6 address first (ours, added
    // before 1,500 others, sits deep in the list); the other writer's
    // addresses (IPv4 /32s, each a primary) come and go before ours.
    let mut fill = format!("addr add 2001:db8:1::10/64 dev {NIC} nodad\n");
    for i in 0..1500u32 {
        fill += &format!("addr add 198.18.{}.{}/15 dev {NIC}\n", i / 250, i % 250 + 1);
        fill += &format!("addr add 2001:db8:2::{:x}/64 dev {NIC} nodad\n", i + 1);
    }
    fill += &format!("addr add 198.51.100.10/24 dev {NIC}\n");
    std::fs::write(scratch.path("fill"), fill).unwrap();
    pair.ns_ip(&["-batch", scratch.path("fill").to_str().unwrap()]);
    let (mut add, mut del) = (String::new(), String::new());
    for i in 0..100u32 {
        for a in [
            format!("203.0.113.{}/32", i + 1),
            format!("2001:db8:3::{:x}/64", i + 1),
        ] {
            add += &format!("addr add {a} dev {NIC} nodad\n");
            del += &format!("addr del {a} dev {NIC}\n");
        }
    }
    std::fs::write(scratch.path("add"), add).unwrap();
    std::fs::write(scratch.path("del"), del).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU32::new(0));
    let churn = {
        let (stop, rounds) = (stop.clone(), rounds.clone());
        let ns = pair.ns.clone();
        let (add, del) = (scratch.path("add"), scratch.path("del"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for f in [&add, &del] {
                    let st = std::process::Command::new("ip")
                        .args(["-n", &ns, "-batch", f.to_str().unwrap()])
                        .stderr(std::process::Stdio::null())
                        .status()
                        .unwrap();
                    assert!(st.success(), "ip -batch {}", f.display());
                }
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let a = agent_link("ipaddr");
    let mut seen = Vec::new();
    for (ip, mask) in [("198.51.100.10", "24"), ("2001:db8:1::10", "64")] {
        let p = [("ip", ip), ("cidr_netmask", mask), ("nic", NIC)];
        let (mut interrupted, mut missed) = (0, 0);
        for n in 0..200 {
            let o = run(
                &pair,
                &a.path,
                "monitor",
                &p,
                &[RECURRING, ("HA_debug", "1")],
            );
            if o.code != 0 {
                stop.store(true, Ordering::Relaxed);
            }
            assert_eq!(
                o.code, 0,
                "monitor {n} of {ip} while addresses change: {o:?}"
            );
            interrupted += o.stderr.matches("NLM_F_DUMP_INTR").count();
            // Our address was there all along: a dump without it missed it.
            missed += o.stderr.matches("reading it again").count();
        }
        // Stop must see the address gone, which only a whole dump can say.
        let o = run(&pair, &a.path, "stop", &p, &[("HA_debug", "1")]);
        if o.code != 0 {
            stop.store(true, Ordering::Relaxed);
        }
        assert_eq!(o.code, 0, "stop of {ip} while addresses change: {o:?}");
        assert!(shown(Some(&pair.ns), NIC, ip).is_empty(), "{ip} is gone");
        let reread = o.stderr.matches("reading it again").count();
        seen.push(format!(
            "{ip}: {interrupted} dumps marked interrupted, {missed} of them without our address; \
             stop read {reread} dumps again"
        ));
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    let rounds = rounds.load(Ordering::Relaxed);
    eprintln!(
        "200 monitors of each address, {rounds} rounds of 200 additions and 200 deletions \
         beside them (NLM_F_DUMP_INTR): {}",
        seen.join("; ")
    );
    assert!(rounds > 0, "the other writer ran");
}
