//! ocf:rust:ipaddr against ocf:heartbeat:IPaddr2 on real network parts:
//! each side gets its own pair of network namespaces joined by veths
//! (`ipa0` <-> `ipa0p` with 198.51.100.1/24 and 2001:db8:1::1/64, and a
//! second interface `ipa1` with 203.0.113.1/24), so the agent's namespace
//! looks like a host with interfaces and connected routes. Both agents run
//! inside it: the test thread moves into the namespace (setns) and the
//! runner's agent process inherits it; the host's own interfaces are never
//! touched. With `network_namespace` cases the thread sits in a third,
//! empty namespace and the agents enter the first one themselves.
//!
//! What is observed is every address in the agent's namespace that the
//! fixture did not put there (including `lo`, for LVS); what "runs" is such
//! an address on any interface but `lo` and the ones a case marks foreign.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;
use support::ipaddr::{NIC, NetPair, ip};
use support::sh;

const AGENTS: (&str, &str) = ("heartbeat/IPaddr2", "rust/ipaddr");
const V4: &str = "198.51.100.10";
const V6: &str = "2001:db8:1::10";

/// The fixture's own addresses in the agent's namespace (never observed).
const BASE: [&str; 3] = ["198.51.100.1", "203.0.113.1", "2001:db8:1::1"];

pub struct Net {
    pair: NetPair,
    /// The thread's namespace before the fixture moved it.
    home: OwnedFd,
    /// With `network_namespace` cases: the empty namespace the agents run in.
    host: Option<String>,
    params: Vec<(String, String)>,
    /// Interfaces whose copy of the address a case put there as someone
    /// else's (not the resource's).
    foreign: Vec<&'static str>,
    /// A process keeping the agent's namespace alive after its name is gone.
    holder: Option<Child>,
}

fn open_ns(path: &str) -> OwnedFd {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: a valid C string; the fd is owned right after.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open {path}: {}", std::io::Error::last_os_error());
    // SAFETY: fresh fd.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn setns(fd: &OwnedFd) {
    // SAFETY: setns on a namespace fd; moves only this thread, whose
    // children (the agents) inherit it.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// One address line of `ip -o addr show`: (interface, "addr/prefix", rest).
fn parse_addr_line(line: &str) -> Option<(String, String, Vec<String>)> {
    let line = line.split('\\').next()?;
    let t: Vec<&str> = line.split_whitespace().collect();
    if t.len() < 4 || !t[2].starts_with("inet") {
        return None;
    }
    let dev = t[1].split('@').next()?.trim_end_matches(':').to_string();
    Some((
        dev,
        t[3].to_string(),
        t[4..].iter().map(|s| s.to_string()).collect(),
    ))
}

impl Net {
    /// `ip -o addr show` in the agent's namespace, by name or, once the
    /// name is gone, through the process that holds it.
    fn agent_addrs(&self) -> String {
        if std::path::Path::new(&format!("/run/netns/{}", self.pair.ns)).exists() {
            return ip(&["-n", &self.pair.ns, "-o", "addr", "show"]);
        }
        match &self.holder {
            Some(h) => {
                let (code, out) = sh(
                    "nsenter",
                    &[
                        &format!("--net=/proc/{}/ns/net", h.id()),
                        "ip",
                        "-o",
                        "addr",
                        "show",
                    ],
                );
                assert_eq!(code, 0, "{out}");
                out
            }
            None => String::new(),
        }
    }

    /// (interface, address/prefix, label and flags) of every address the
    /// fixture did not add.
    fn extra(&self) -> Vec<(String, String, Vec<String>)> {
        self.agent_addrs()
            .lines()
            .filter_map(parse_addr_line)
            .filter(|(dev, cidr, _)| {
                let a = cidr.split('/').next().unwrap_or("");
                !BASE.contains(&a)
                    && !a.starts_with("fe80:")
                    && !(dev == "lo" && (a == "127.0.0.1" || a == "::1"))
            })
            .collect()
    }

    fn ns_sh(&self, args: &[&str]) {
        let mut a = vec!["netns", "exec", self.pair.ns.as_str()];
        a.extend_from_slice(args);
        let (code, out) = sh("ip", &a);
        assert_eq!(code, 0, "{args:?}: {out}");
    }
}

impl Fixture for Net {
    fn params(&self) -> Vec<(String, String)> {
        self.params.clone()
    }

    fn observe(&self) -> Vec<String> {
        self.extra()
            .into_iter()
            .map(|(dev, cidr, rest)| {
                let mut line = format!("{dev} {cidr}");
                for w in rest {
                    let label = w.starts_with(&format!("{dev}:"));
                    if label
                        || [
                            "tentative",
                            "dadfailed",
                            "nodad",
                            "noprefixroute",
                            "deprecated",
                        ]
                        .contains(&w.as_str())
                    {
                        line.push(' ');
                        line.push_str(&w);
                    }
                }
                line
            })
            .collect()
    }

    fn running(&self) -> bool {
        self.extra()
            .iter()
            .any(|(dev, _, _)| dev != "lo" && !self.foreign.contains(&dev.as_str()))
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        setns(&self.home);
        if let Some(mut h) = self.holder.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        if let Some(h) = &self.host {
            let _ = sh("ip", &["netns", "del", h]);
        }
    }
}

/// A fresh agent namespace for one side; `params` in IPaddr2's names. With
/// `in_netns`, the agents run in an empty namespace and reach the address
/// through `network_namespace`.
fn net(side: Side, params: &[(&str, &str)], in_netns: bool) -> Net {
    static N: AtomicU32 = AtomicU32::new(0);
    let tag = format!(
        "c{}{}",
        N.fetch_add(1, Ordering::Relaxed),
        &side.label()[..1]
    );
    let home = open_ns("/proc/thread-self/ns/net");
    let pair = NetPair::new(&tag);
    pair.addresses("198.51.100.1/24", "198.51.100.2/24");
    pair.addresses("2001:db8:1::1/64", "2001:db8:1::2/64");
    pair.ns_ip(&[
        "link", "add", "ipa1", "type", "veth", "peer", "name", "ipa1p", "netns", &pair.peer,
    ]);
    pair.ns_ip(&["link", "set", "ipa1", "up"]);
    pair.peer_ip(&["link", "set", "ipa1p", "up"]);
    pair.ns_ip(&["addr", "add", "203.0.113.1/24", "brd", "+", "dev", "ipa1"]);
    let mut params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut fx = Net {
        home,
        host: None,
        params: Vec::new(),
        foreign: Vec::new(),
        holder: None,
        pair,
    };
    if in_netns {
        let host = format!("{}h", fx.pair.ns);
        let _ = sh("ip", &["netns", "del", &host]);
        ip(&["netns", "add", &host]);
        ip(&["-n", &host, "link", "set", "lo", "up"]);
        fx.host = Some(host.clone());
        setns(&open_ns(&format!("/run/netns/{host}")));
        params.push(("network_namespace".into(), fx.pair.ns.clone()));
    } else {
        setns(&open_ns(&format!("/run/netns/{}", fx.pair.ns)));
    }
    fx.params = params;
    fx
}

fn v4(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V4),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("arp_count", "1"),
        ],
        false,
    )
}

fn v6(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V6),
            ("cidr_netmask", "64"),
            ("nic", NIC),
            ("nodad", "true"),
            ("arp_count", "1"),
        ],
        false,
    )
}

/// Wait (bounded) until the agent's namespace shows `addr` with `flag`.
fn wait_shown(n: &Net, addr: &str, flag: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    let seen = || {
        n.extra()
            .iter()
            .any(|(_, cidr, rest)| cidr.starts_with(addr) && rest.iter().any(|w| w == flag))
    };
    while !seen() {
        assert!(
            Instant::now() < end,
            "never saw {addr} {flag}:\n{}",
            n.agent_addrs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------ cases

fn lifecycle_v4() -> Case<Net> {
    Case::new(
        "ipaddr/lifecycle-v4",
        "probe, start twice, monitor, probe, stop twice, probe (IPv4, nic and mask given)",
        AGENTS,
        v4,
        vec![
            probe(),
            run("start"),
            run("start"),
            run("monitor"),
            probe(),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

fn lifecycle_v6() -> Case<Net> {
    Case::new(
        "ipaddr/lifecycle-v6",
        "probe, start, monitor, probe, stop twice, probe (IPv6, nodad)",
        AGENTS,
        v6,
        vec![
            probe(),
            run("start"),
            run("monitor"),
            probe(),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

fn findif_v4(side: Side) -> Net {
    net(side, &[("ip", V4), ("arp_count", "1")], false)
}

fn without_nic_and_mask() -> Case<Net> {
    Case::new(
        "ipaddr/without-nic-and-mask",
        "only ip: start finds ipa0/24 from the route; monitor, stop, probe",
        AGENTS,
        findif_v4,
        vec![run("start"), run("monitor"), probe(), run("stop"), probe()],
    )
}

/// Without `nic`, the address of the same value on another interface is
/// someone else's: the probe does not claim it and stop leaves it.
fn the_same_address_on_another_interface_is_not_ours() -> Case<Net> {
    Case::new(
        "ipaddr/same-address-on-another-interface",
        "only ip; 198.51.100.10/32 is on ipa1 (not the route's interface): probe, start, stop, probe",
        AGENTS,
        findif_v4,
        vec![
            Step::Do("someone puts 198.51.100.10/32 on ipa1", |n| {
                n.pair
                    .ns_ip(&["addr", "add", "198.51.100.10/32", "dev", "ipa1"]);
                n.foreign.push("ipa1");
            }),
            probe(),
            run("start"),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
}

const PREFIX_WHY: &str = "the address with another prefix on the configured interface answers \
    for the address here: IPaddr2 probes 7 (stopped, so Pacemaker may start it on a second node) \
    and its stop leaves it; ours probes 1 (running, not as configured: recovery stops it here) and \
    stop removes it";

fn other_prefix_v4() -> Case<Net> {
    Case::new(
        "ipaddr/other-prefix-v4",
        "198.51.100.10/25 is on ipa0, the configuration says /24: probe, stop, probe",
        AGENTS,
        v4,
        vec![
            Step::Do("add 198.51.100.10/25 on ipa0", |n| {
                n.pair
                    .ns_ip(&["addr", "add", "198.51.100.10/25", "dev", NIC]);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(PREFIX_WHY, &[0, 1, 0, 7])
}

fn other_prefix_v6() -> Case<Net> {
    Case::new(
        "ipaddr/other-prefix-v6",
        "2001:db8:1::10/80 is on ipa0, the configuration says /64: probe, stop, probe",
        AGENTS,
        v6,
        vec![
            Step::Do("add 2001:db8:1::10/80 on ipa0", |n| {
                n.pair.ns_ip(&[
                    "-6",
                    "addr",
                    "add",
                    "2001:db8:1::10/80",
                    "dev",
                    NIC,
                    "nodad",
                ]);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(PREFIX_WHY, &[0, 1, 0, 7])
}

/// cidr_netmask=33 does not validate for ours; IPaddr2 checks masks only
/// in start and validate-all, then looks for "ip/33" and finds nothing.
fn netmask_refused_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/netmask-refused-while-running",
        "started with /24, then cidr_netmask=33: probe, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            run_with("probe", &[("cidr_netmask", "33")]),
            run_with("stop", &[("cidr_netmask", "33")]),
            run_with("probe", &[("cidr_netmask", "33")]),
        ],
    )
    .deviation(
        "with a mask that does not validate, IPaddr2 looks for ip/33: it probes 7 and stops 0 \
         while the address start added stays; ours probes 0 and stops it through the record start \
         left",
        &[0, 0, 0, 7],
    )
}

/// arp_mode is ours only: IPaddr2 ignores an unknown value, ours refuses
/// it, and both must still see and stop the running address.
fn unknown_arp_mode_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/unknown-arp-mode-while-running",
        "started, then arp_mode=loud (ours refuses it): probe, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            run_with("probe", &[("arp_mode", "loud")]),
            run_with("stop", &[("arp_mode", "loud")]),
            run_with("probe", &[("arp_mode", "loud")]),
        ],
    )
}

fn iflabel_v4(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V4),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("iflabel", "vip"),
            ("arp_count", "1"),
        ],
        false,
    )
}

fn iflabel_too_long_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/iflabel-too-long-while-running",
        "started as ipa0:vip, then iflabel=waytoolong12 (ipa0:waytoolong12 > 15): probe, stop",
        AGENTS,
        iflabel_v4,
        vec![
            run("start"),
            run_with("probe", &[("iflabel", "waytoolong12")]),
            run_with("stop", &[("iflabel", "waytoolong12")]),
            probe(),
        ],
    )
    .deviation(
        "IPaddr2 refuses the long label in every action: probe 6 and stop 6 (a stop failure gets \
         the node fenced) with the address left; ours probes 0 and stops 0 after removing what \
         start recorded",
        &[0, 0, 0, 7],
    )
}

fn iflabel_changed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/iflabel-changed-while-running",
        "started as ipa0:vip, then iflabel=web: probe, stop, probe",
        AGENTS,
        iflabel_v4,
        vec![
            run("start"),
            run_with("probe", &[("iflabel", "web")]),
            run_with("stop", &[("iflabel", "web")]),
            run_with("probe", &[("iflabel", "web")]),
        ],
    )
    .deviation(
        "the label is part of ours' identity: an address labelled ipa0:vip is not the configured \
         ipa0:web, so the probe answers 1 (running, not as configured) where IPaddr2, which \
         ignores labels, answers 0; both stops remove it",
        &[0, 1, 0, 7],
    )
}

fn nic_renamed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/nic-renamed-while-running",
        "started on ipa0, which is then renamed ipa9: probe, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            Step::Do("rename ipa0 to ipa9", |n| {
                n.pair.ns_ip(&["link", "set", NIC, "down"]);
                n.pair.ns_ip(&["link", "set", NIC, "name", "ipa9"]);
                n.pair.ns_ip(&["link", "set", "ipa9", "up"]);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "the interface keeps its index and the address through a rename: IPaddr2 looks for nic=ipa0 \
         by name, probes 7 and stops 0 with the address left on ipa9; ours finds it by the index \
         start recorded, probes 1 (not as configured) and stop removes it",
        &[0, 0, 1, 0, 7],
    )
}

fn nic_removed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/nic-removed-while-running",
        "started on ipa0, whose veth is then deleted (the address goes with it): probe, monitor, stop",
        AGENTS,
        v4,
        vec![
            run("start"),
            Step::Do("delete ipa0", |n| {
                n.pair.ns_ip(&["link", "del", NIC]);
            }),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
}

fn nic_changed_to_a_missing_one() -> Case<Net> {
    Case::new(
        "ipaddr/nic-changed-to-a-missing-one",
        "started on ipa0, then nic=ipa7 (no such interface): probe, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            run_with("probe", &[("nic", "ipa7")]),
            run_with("stop", &[("nic", "ipa7")]),
            run_with("probe", &[("nic", "ipa7")]),
        ],
    )
    .deviation(
        "IPaddr2 looks only on the interface now named: it probes 7 and stops 0 with the address \
         left on ipa0; ours finds what start recorded, probes 1 (running, not as configured) and \
         stop removes it",
        &[0, 1, 0, 7],
    )
}

/// No carrier under a started address: IPaddr2 (4.12, without
/// check_link_status) sees nothing wrong; ours' recurring monitor answers 7
/// (RA#2047) and its probe 1, never 7, since the address is still here.
fn no_carrier_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/no-carrier-while-running",
        "started, then the peer's end of the veth goes down (no carrier): probe, monitor, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            Step::Do("the peer's end goes down", |n| {
                n.pair.peer_ip(&["link", "set", "ipa0p", "down"]);
            }),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "with check_link_status (the default; Debian 12's IPaddr2 has no such check) an address \
         on a link without carrier is not reachable: the recurring monitor answers 7 so Pacemaker \
         moves it, and a probe answers 1, not 7, because the address is still configured here \
         and would answer again with the carrier",
        &[0, 0, 1, 7, 0, 7],
    )
}

fn ip_changed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/ip-changed-while-running",
        "started with 198.51.100.10, then ip=198.51.100.11: probe, stop, probe",
        AGENTS,
        v4,
        vec![
            run("start"),
            run_with("probe", &[("ip", "198.51.100.11")]),
            run_with("stop", &[("ip", "198.51.100.11")]),
            run_with("probe", &[("ip", "198.51.100.11")]),
        ],
    )
    .deviation(
        "IPaddr2 looks only for the new address: it probes 7 and stops 0 with the old one left; \
         ours finds the address start recorded, probes 1 and stop removes it",
        &[0, 1, 0, 7],
    )
}

fn lvs_v4(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V4),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("lvs_support", "true"),
            ("arp_count", "1"),
        ],
        false,
    )
}

/// A stop on a node that never had the address adds nothing anywhere.
fn lvs_stop_where_never_started() -> Case<Net> {
    Case::new(
        "ipaddr/lvs-stop-where-never-started",
        "lvs_support=true: stop and probe on a node that never had the address",
        AGENTS,
        lvs_v4,
        vec![run("stop"), probe(), run("stop")],
    )
}

fn lvs_start_and_stop_with_lo() -> Case<Net> {
    Case::new(
        "ipaddr/lvs-start-and-stop-with-lo",
        "lvs_support=true with 198.51.100.10/32 on lo: start takes it off lo, stop puts it back",
        AGENTS,
        lvs_v4,
        vec![
            Step::Do("put 198.51.100.10/32 on lo", |n| {
                n.pair
                    .ns_ip(&["addr", "add", "198.51.100.10/32", "dev", "lo"]);
            }),
            run("start"),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
}

fn clone_v4(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V4),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("arp_count", "1"),
            ("CRM_meta_clone_max", "2"),
            ("CRM_meta_clone", "0"),
            ("CRM_meta_globally_unique", "false"),
        ],
        false,
    )
}

fn load_sharing_clone() -> Case<Net> {
    Case::new(
        "ipaddr/load-sharing-clone",
        "clone-max=2: validate-all, start; then a plain address is there: probe, stop, probe",
        AGENTS,
        clone_v4,
        vec![
            run("validate-all"),
            run("start"),
            Step::Do(
                "an earlier plain start left 198.51.100.10/24 on ipa0",
                |n| {
                    n.pair
                        .ns_ip(&["addr", "add", "198.51.100.10/24", "dev", NIC]);
                },
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ours has no load-sharing mode (this kernel has no CLUSTERIP either): validate-all and \
         start answer 6 with the reason, where IPaddr2 validates and then fails in iptables; \
         IPaddr2 probes 7 over a plain address that is there, ours 0",
        &[6, 6, 0, 0, 0, 7],
    )
}

/// A tentative address (DAD still running) is there: both see it, both
/// remove it.
fn tentative_v6() -> Case<Net> {
    Case::new(
        "ipaddr/tentative-v6",
        "2001:db8:1::10/64 is on ipa0, still tentative (slow DAD): probe, stop, probe",
        AGENTS,
        v6,
        vec![
            Step::Do(
                "add 2001:db8:1::10/64 with a DAD that takes a minute",
                |n| {
                    n.ns_sh(&["sysctl", "-q", "-w", "net.ipv6.conf.ipa0.dad_transmits=60"]);
                    n.pair
                        .ns_ip(&["-6", "addr", "add", "2001:db8:1::10/64", "dev", NIC]);
                    wait_shown(n, "2001:db8:1::10/", "tentative");
                },
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

fn dadfailed_v6() -> Case<Net> {
    Case::new(
        "ipaddr/dadfailed-v6",
        "the peer holds 2001:db8:1::10; our copy on ipa0 failed DAD: probe, stop, probe",
        AGENTS,
        v6,
        vec![
            Step::Do("the peer takes the address; ipa0's copy fails DAD", |n| {
                n.pair.peer_ip(&[
                    "-6",
                    "addr",
                    "add",
                    "2001:db8:1::10/64",
                    "dev",
                    "ipa0p",
                    "nodad",
                ]);
                n.pair
                    .ns_ip(&["-6", "addr", "add", "2001:db8:1::10/64", "dev", NIC]);
                wait_shown(n, "2001:db8:1::10/", "dadfailed");
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "an address that failed duplicate address detection is there but unusable: ours probes 1 \
         (failed), IPaddr2 0 (running); both stops remove it",
        &[0, 1, 0, 7],
    )
}

fn netns_v4(side: Side) -> Net {
    net(
        side,
        &[
            ("ip", V4),
            ("cidr_netmask", "24"),
            ("nic", NIC),
            ("arp_count", "1"),
        ],
        true,
    )
}

/// `ip netns del` removes the name only: while a process is in it, the
/// namespace, its veth and the address live on.
fn netns_name_removed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/netns-name-removed-while-running",
        "started through network_namespace; the name is removed while a process holds it: probe, stop",
        AGENTS,
        netns_v4,
        vec![
            run("start"),
            Step::Do("a process holds the namespace; its name is removed", |n| {
                let child = Command::new("ip")
                    .args(["netns", "exec", &n.pair.ns, "sleep", "600"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let target = format!("/run/netns/{}", n.pair.ns);
                let want = std::fs::metadata(&target).map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.ino()
                });
                n.holder = Some(child);
                // Wait until the holder is inside, then drop the name.
                let pid = n.holder.as_ref().unwrap().id();
                let end = Instant::now() + Duration::from_secs(5);
                loop {
                    let got = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| {
                        use std::os::unix::fs::MetadataExt;
                        m.ino()
                    });
                    if got.is_ok() && got.ok() == want.as_ref().ok().copied() {
                        break;
                    }
                    assert!(Instant::now() < end, "the holder never entered the namespace");
                    std::thread::sleep(Duration::from_millis(20));
                }
                ip(&["netns", "del", &n.pair.ns]);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "IPaddr2 re-executes itself through `ip netns exec`, which fails once the name is gone: \
         probe and stop answer 1 with the address left; ours finds the namespace start recorded \
         through the process that holds it, probes 0 and stop removes the address",
        &[0, 0, 0, 0, 7],
    )
}

/// network_namespace changed (to the namespace the agents run in) while the
/// address is in the old one.
fn netns_changed_while_running() -> Case<Net> {
    Case::new(
        "ipaddr/netns-changed-while-running",
        "started in one namespace, then network_namespace names another: probe, stop, probe",
        AGENTS,
        netns_v4,
        vec![
            run("start"),
            Step::Do(
                "network_namespace now names the agents' own namespace",
                |n| {
                    let host = n.host.clone().unwrap();
                    for (k, v) in &mut n.params {
                        if k == "network_namespace" {
                            *v = host.clone();
                        }
                    }
                },
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "IPaddr2 looks only in the namespace now named: it probes 7 and stops 0 with the address \
         left in the old one; ours finds the namespace and interface start recorded, probes 1 (not \
         as configured) and stop removes it",
        &[0, 0, 1, 0, 7],
    )
}

cases!(
    lifecycle_v4,
    lifecycle_v6,
    without_nic_and_mask,
    the_same_address_on_another_interface_is_not_ours,
    other_prefix_v4,
    other_prefix_v6,
    netmask_refused_while_running,
    unknown_arp_mode_while_running,
    iflabel_too_long_while_running,
    iflabel_changed_while_running,
    nic_renamed_while_running,
    nic_removed_while_running,
    nic_changed_to_a_missing_one,
    ip_changed_while_running,
    no_carrier_while_running,
    lvs_stop_where_never_started,
    lvs_start_and_stop_with_lo,
    load_sharing_clone,
    tentative_v6,
    dadfailed_v6,
    netns_name_removed_while_running,
    netns_changed_while_running,
);
