//! `ocf:rust:ipaddr`: a floating IPv4 or IPv6 address, the replacement for
//! `ocf:heartbeat:IPaddr2` with the same parameter names.
//!
//! Everything happens in this process: addresses are read, added and removed
//! over rtnetlink ([`netlink`]), gratuitous ARP and unsolicited neighbour
//! advertisements go out of raw sockets ([`announce`]), and
//! `network_namespace` is entered with `setns(2)`. A monitor forks nothing.
//!
//! Decisions where IPaddr2 was unclear or hurt users:
//! * the interface and prefix are looked up in the routing table only in
//!   start (and validate-all at level 10, and in monitor and stop without
//!   `nic` and without a record); monitor and stop otherwise only look at
//!   addresses on interfaces, so a route change never fails them (RA#328);
//! * an interface that is down (not up, or no carrier) makes a recurring
//!   monitor return 7 when `check_link_status` is on (a probe 1: the address
//!   is still here), and start fail with 1, never 5, which would ban the
//!   node until a cleanup (RA#2047);
//! * never lie about state: start records what it adds ([`state`]), and
//!   stop and a probe find it through that record whatever the parameters
//!   say now; an address of the same value on another interface is not
//!   ours.
//! * the announcement is synchronous, its result is logged, and a start
//!   whose announcement cannot be sent fails (RA#958); request, reply or
//!   both forms (RA#977).

pub mod announce;
pub mod netlink;
pub mod state;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ocf::params::parse_bool;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Status,
};

use announce::ArpMode;
use netlink::{Addr, Netlink, NewAddr, Route};
use state::Started;

pub static IP: ParamSpec = ParamSpec::new(
    "ip",
    "IPv4 or IPv6 address",
    "The floating address, IPv4 (198.51.100.10) or IPv6 (2001:db8::10), without a prefix.",
)
.required()
.unique()
.check(check_ip);

pub static NIC: ParamSpec = ParamSpec::new(
    "nic",
    "Network interface",
    "The interface to add the address to. When it is not given, start finds it from the \
     routing table (the interface of the most specific directly connected route that covers \
     the address), as IPaddr2's findif does. The old form nic:label is accepted and means \
     iflabel=label.",
)
.check(check_nic);

pub static CIDR_NETMASK: ParamSpec = ParamSpec::new(
    "cidr_netmask",
    "Prefix length",
    "The prefix length of the address (24 for IPv4, 64 for IPv6). A dotted quad such as \
     255.255.255.0 is converted with a warning. When it is not given, start takes it from \
     the routing table; monitor then accepts the address with any prefix.",
)
.check(check_mask);

pub static NETMASK: ParamSpec = ParamSpec::new(
    "netmask",
    "Prefix length (legacy name)",
    "The old name of cidr_netmask, used only when cidr_netmask is not set.",
)
.check(check_mask);

pub static BROADCAST: ParamSpec = ParamSpec::new(
    "broadcast",
    "IPv4 broadcast address",
    "IPv4 only. An address, or '+' (host bits set) or '-' (host bits cleared). When it is \
     not given, the broadcast address of the interface's existing address in the same \
     route is used, as IPaddr2 does, and none when there is no such address.",
)
.check(check_broadcast);

pub static IFLABEL: ParamSpec = ParamSpec::new(
    "iflabel",
    "Interface label",
    "IPv4 only. A label for the address, shown by `ip addr` as <nic>:<iflabel> (for example \
     eth0:vip). The whole label may have at most 15 characters.",
)
.check(check_iflabel);

pub static LVS_SUPPORT: ParamSpec = ParamSpec::new(
    "lvs_support",
    "LVS direct routing support",
    "IPv4 only. For LVS direct routing: start removes the address from the loopback \
     interface if it is there, and stop moves it to the loopback interface (as /32) instead \
     of removing it from the host.",
)
.boolean()
.default("false");

pub static LVS_IPV6_ADDRLABEL: ParamSpec = ParamSpec::new(
    "lvs_ipv6_addrlabel",
    "IPv6 address label for LVS direct routing",
    "IPv6 only. Start adds an address label (RFC 6724 policy table, `ip addrlabel`) for the \
     address, so that traffic this node originates does not pick it as its source: LVS-DR \
     health checks of real servers, which hold the address on their loopback, then get \
     their answers. Stop removes the label.",
)
.boolean()
.default("false");

pub static LVS_IPV6_ADDRLABEL_VALUE: ParamSpec = ParamSpec::new(
    "lvs_ipv6_addrlabel_value",
    "IPv6 address label value",
    "The label lvs_ipv6_addrlabel gives the address: one no other entry of the policy \
     table (`ip addrlabel list`) uses.",
)
.integer(0, 4_294_967_294)
.default("99");

pub static ARP_INTERVAL: ParamSpec = ParamSpec::new(
    "arp_interval",
    "Milliseconds between announcements",
    "The gap in milliseconds between two rounds of gratuitous ARP (IPv4) or unsolicited \
     neighbour advertisements (IPv6).",
)
.integer(0, 10_000)
.default("200");

pub static ARP_COUNT: ParamSpec = ParamSpec::new(
    "arp_count",
    "Announcements at start",
    "How many rounds of gratuitous ARP or unsolicited neighbour advertisements start sends, \
     synchronously; they stop early rather than run past the start timeout.",
)
.integer(0, 1000)
.default("5");

pub static ARP_COUNT_REFRESH: ParamSpec = ParamSpec::new(
    "arp_count_refresh",
    "Announcements on every monitor",
    "How many rounds every monitor sends (0: none). Repairs stale neighbour caches after a \
     split brain.",
)
.integer(0, 100)
.default("0");

pub static ARP_MODE: ParamSpec = ParamSpec::new(
    "arp_mode",
    "Gratuitous ARP operation",
    "request: ARP requests (RFC 5227 announcements); reply: ARP replies, for switches that \
     learn only from replies; both: one of each per round, like heartbeat's send_arp. The \
     default is request, or reply when send_arp_opts contains -A.",
)
.choice(&["request", "reply", "both"]);

pub static ARP_BG: ParamSpec = ParamSpec::new(
    "arp_bg",
    "Accepted for IPaddr2 compatibility",
    "Ignored: announcements are always sent synchronously so that their result is logged \
     and can fail the start.",
)
.boolean();

pub static ARP_SENDER: ParamSpec = ParamSpec::new(
    "arp_sender",
    "Accepted for IPaddr2 compatibility",
    "Ignored: this agent sends ARP and neighbour advertisements itself from raw sockets; \
     no external sender is run.",
)
.choice(&["send_arp", "iputils_arping", "libnet_arping", "ipoibarping"]);

pub static SEND_ARP_OPTS: ParamSpec = ParamSpec::new(
    "send_arp_opts",
    "Sender options (IPaddr2 compatibility)",
    "Options IPaddr2 passed to its ARP sender. -A selects reply mode and -U request mode \
     (see arp_mode); other options are ignored with a warning.",
)
.check(check_send_arp_opts);

pub static FLUSH_ROUTES: ParamSpec = ParamSpec::new(
    "flush_routes",
    "Flush the route cache on stop",
    "Write to /proc/sys/net/ipv{4,6}/route/flush after removing the address.",
)
.boolean()
.default("false");

pub static RUN_ARPING: ParamSpec = ParamSpec::new(
    "run_arping",
    "Check for a duplicate before adding",
    "IPv4 only. Before adding the address, send RFC 5227 ARP probes and refuse to start \
     (exit 1) if another host answers for the address.",
)
.boolean()
.default("false");

pub static NODAD: ParamSpec = ParamSpec::new(
    "nodad",
    "Skip IPv6 duplicate address detection",
    "IPv6 only. Add the address with nodad; otherwise start waits (within its timeout) for \
     duplicate address detection to finish and fails if it finds a duplicate.",
)
.boolean()
.default("false");

pub static NOPREFIXROUTE: ParamSpec = ParamSpec::new(
    "noprefixroute",
    "Do not add a prefix route",
    "Add the address with noprefixroute, so the kernel adds no route for its prefix.",
)
.boolean()
.default("false");

pub static PREFERRED_LFT: ParamSpec = ParamSpec::new(
    "preferred_lft",
    "IPv6 preferred lifetime",
    "IPv6 only. 'forever' or a number of seconds; 0 keeps the address from being chosen as \
     a source address.",
)
.default("forever")
.check(check_lifetime);

pub static NETWORK_NAMESPACE: ParamSpec = ParamSpec::new(
    "network_namespace",
    "Network namespace",
    "The name of a network namespace (/run/netns/<name>, as made by `ip netns add`) to \
     manage the address in. The agent enters it with setns(2); nothing is re-executed.",
)
.check(check_netns);

pub static CHECK_LINK_STATUS: ParamSpec = ParamSpec::new(
    "check_link_status",
    "Treat a down interface as not running",
    "When true, a recurring monitor returns 7 (not running) if the interface is \
     administratively down or has no carrier (a probe returns 1: the address is still \
     configured here), and start fails (exit 1) if it stays so after being set up.",
)
.boolean()
.default("true");

pub static PARAMS: [ParamSpec; 23] = [
    IP,
    NIC,
    CIDR_NETMASK,
    NETMASK,
    BROADCAST,
    IFLABEL,
    LVS_SUPPORT,
    LVS_IPV6_ADDRLABEL,
    LVS_IPV6_ADDRLABEL_VALUE,
    ARP_INTERVAL,
    ARP_COUNT,
    ARP_COUNT_REFRESH,
    ARP_MODE,
    ARP_BG,
    ARP_SENDER,
    SEND_ARP_OPTS,
    FLUSH_ROUTES,
    RUN_ARPING,
    NODAD,
    NOPREFIXROUTE,
    PREFERRED_LFT,
    NETWORK_NAMESPACE,
    CHECK_LINK_STATUS,
];

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 20),
    ActionSpec::new("stop", 20),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("validate-all", 20),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "ipaddr",
    shortdesc: "Floating IPv4/IPv6 address (netlink, native ARP and NA)",
    longdesc: "Manages a floating IPv4 or IPv6 address, with the parameter names of \
        ocf:heartbeat:IPaddr2. The address is added, checked and removed over netlink in \
        the agent's own process; gratuitous ARP (request or reply) and IPv6 unsolicited \
        neighbour advertisements are sent from raw sockets, synchronously, and logged; IPv6 \
        start waits for duplicate address detection. Monitor forks nothing and never looks \
        at routes. Load-sharing clone mode (CLUSTERIP) is not supported: a clone with \
        clone-max above 1 is refused (exit 6).",
    params: &PARAMS,
    actions: &ACTIONS,
};

// ---------------------------------------------------------------- checks

fn check_ip(v: &str) -> Result<(), String> {
    let ip: IpAddr = v
        .parse()
        .map_err(|_| "must be an IPv4 or IPv6 address without a prefix".to_string())?;
    if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Err("must be a unicast address".into());
    }
    Ok(())
}

/// Interface names: 1..15 bytes, no whitespace, '/' or control characters.
/// One ':' is allowed for the deprecated nic:label form.
fn check_nic(v: &str) -> Result<(), String> {
    let (nic, label) = match v.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (v, None),
    };
    valid_ifname(nic)?;
    if let Some(l) = label {
        check_iflabel(l)?;
    }
    Ok(())
}

fn valid_ifname(nic: &str) -> Result<(), String> {
    if nic.is_empty() || nic.len() > 15 {
        return Err("must be an interface name of 1 to 15 characters".into());
    }
    if nic == "."
        || nic == ".."
        || nic
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == ':' || !c.is_ascii_graphic())
    {
        return Err("must be an interface name (no spaces, '/' or ':')".into());
    }
    Ok(())
}

fn check_iflabel(v: &str) -> Result<(), String> {
    if v.is_empty()
        || v.len() > 14
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err("must be 1 to 14 characters of A-Z a-z 0-9 _ . -".into());
    }
    Ok(())
}

/// A prefix length or a dotted-quad mask (the family is checked later).
fn check_mask(v: &str) -> Result<(), String> {
    parse_mask(v).map(|_| ())
}

/// Prefix length from "24" or "255.255.255.0"; the bool says "was dotted".
fn parse_mask(v: &str) -> Result<(u8, bool), String> {
    if let Ok(n) = v.parse::<u8>()
        && n <= 128
        && v.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok((n, false));
    }
    if let Ok(m) = v.parse::<Ipv4Addr>() {
        let bits = u32::from(m);
        if bits.leading_ones() + bits.trailing_zeros() == 32 {
            return Ok((bits.leading_ones() as u8, true));
        }
        return Err("is not a contiguous netmask".into());
    }
    Err("must be a prefix length (0-32 for IPv4, 0-128 for IPv6) or a dotted netmask".into())
}

fn check_broadcast(v: &str) -> Result<(), String> {
    if v == "+" || v == "-" || v.parse::<Ipv4Addr>().is_ok() {
        Ok(())
    } else {
        Err("must be an IPv4 address, '+' or '-'".into())
    }
}

fn check_send_arp_opts(v: &str) -> Result<(), String> {
    for t in v.split_whitespace() {
        if !t.starts_with('-')
            || !t[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'=')
        {
            return Err(format!("option {t:?} is not of the form -X"));
        }
    }
    Ok(())
}

fn check_lifetime(v: &str) -> Result<(), String> {
    if v == "forever" || v.parse::<u32>().is_ok_and(|n| n < u32::MAX) {
        Ok(())
    } else {
        Err("must be 'forever' or a number of seconds".into())
    }
}

fn check_netns(v: &str) -> Result<(), String> {
    if v.is_empty()
        || v.len() > 200
        || v == "."
        || v == ".."
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err("must be a namespace name (A-Z a-z 0-9 _ . -), as in /run/netns".into());
    }
    Ok(())
}

// ---------------------------------------------------------------- config

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
    fn v4(&self) -> bool {
        self.ip.is_ipv4()
    }
    fn family(&self) -> u8 {
        if self.v4() {
            libc::AF_INET as u8
        } else {
            libc::AF_INET6 as u8
        }
    }
    /// The full label for interface `nic` (v4 only).
    fn label_for(&self, nic: &str) -> Option<String> {
        self.iflabel.as_ref().map(|l| format!("{nic}:{l}"))
    }
}

pub struct IpAddrAgent;

impl ocf::Agent for IpAddrAgent {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
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
                ocf::warn!(
                    "nic={n}: the nic:label form is deprecated; use nic={base} iflabel={label}"
                );
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
            ocf::warn!(
                "run_arping is IPv4 only; IPv6 uses duplicate address detection (nodad=false)"
            );
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
        if p.is_set(&ARP_SENDER) || p.is_set(&ARP_BG) {
            ocf::debug!(
                "arp_sender/arp_bg are accepted and ignored: announcements are native and synchronous"
            );
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

    /// Enter the network namespace first: every later socket (netlink, raw
    /// ARP/NA, the ioctl behind if_nametoindex) then lives in it.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if let Some(ns) = &cfg.netns {
            enter_netns(ns)?;
        }
        if ctx.action == "validate-all" {
            // Level 10: does this node have what start needs?
            let mut nl = open_netlink(&Deadline::after(Duration::from_secs(5)))?;
            resolve_target(cfg, &mut nl)?;
        }
        Ok(())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        require_root("start")?;
        let mut nl = open_netlink(dl)?;
        let t = resolve_target(cfg, &mut nl)?;
        let here = state::current_ns();
        let label = cfg.label_for(&t.nic);

        // One record per instance: an earlier start's address that is still
        // there (someone started it again with other parameters, without a
        // stop) goes first, or nothing would know of it any more.
        if let Some(prev) = Started::load(ctx)
            && !(prev.is_here(here) && prev.index == t.index && prev.ip == cfg.ip)
        {
            let n = remove_started(&prev, dl)?;
            if n > 0 {
                ocf::warn!(
                    "removed {}, which an earlier start of {} added, before adding {} to {}",
                    prev.describe(),
                    ctx.instance,
                    cfg.ip,
                    t.nic
                );
            }
        }
        // Recorded before the address is added: a start that fails half-way
        // still leaves what stop and a probe need to find it.
        Started {
            ip: cfg.ip,
            prefix: t.prefix,
            index: t.index,
            ifname: t.nic.clone(),
            label: label.clone(),
            netns: cfg.netns.clone(),
            ns: here,
            addrlabel: cfg.addrlabel,
        }
        .to_record()
        .save(ctx);

        let fam = cfg.family();
        let addrs = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
        let present = match served(cfg.ip, &addrs, t.index, t.prefix, label.as_deref()) {
            // Failed DAD: there but unusable; add it again, and DAD says why.
            Served::Yes(a) if a.flags & netlink::IFA_F_DADFAILED != 0 => {
                ocf::warn!(
                    "{} failed duplicate address detection on {}; adding it again",
                    cfg.ip,
                    t.nic
                );
                remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == t.index)?;
                false
            }
            Served::Yes(a) => {
                let usable = nl.link(t.index).is_ok_and(|l| l.is_usable());
                if usable || !cfg.check_link_status {
                    if a.flags & netlink::IFA_F_TENTATIVE != 0 && !cfg.nodad {
                        // Not usable before DAD ends: wait as a fresh start would.
                        wait_for_dad(cfg, &mut nl, &t, dl)?;
                    }
                    ocf::info!("{} is already on {}", cfg.ip, t.nic);
                    return Ok(());
                }
                // Present but the link is down: bring it up below, as a
                // start from scratch would.
                ocf::info!("{} is on {}, but the link is down", cfg.ip, t.nic);
                true
            }
            Served::Mismatch(why) => {
                ocf::warn!("{why}; replacing it");
                remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == t.index)?;
                false
            }
            Served::No => false,
        };
        let link = nl
            .link(t.index)
            .map_err(|e| nl_err(&format!("read link {}", t.nic), e))?;
        if !present {
            add_address(cfg, &mut nl, &t, &addrs, &link, dl)?;
        }
        if !link.is_up() {
            ocf::info!("bringing {} up", t.nic);
            nl.set_up(t.index)
                .map_err(|e| nl_err(&format!("set {} up", t.nic), e))?;
        }
        let link = if cfg.check_link_status {
            ocf::deadline::set_phase("waiting for the link");
            let limit = dl.share(0.3).cap(Duration::from_secs(3));
            let l = limit.poll(Duration::from_millis(50), || {
                nl.link(t.index).ok().filter(|l| l.is_usable())
            });
            match l {
                Some(l) => l,
                None => {
                    return Err(OcfError::generic(format!(
                        "{} is down or has no carrier (check_link_status=true): {} would not be reachable",
                        t.nic, cfg.ip
                    )));
                }
            }
        } else {
            nl.link(t.index)
                .map_err(|e| nl_err(&format!("read link {}", t.nic), e))?
        };

        if !cfg.v4() && !cfg.nodad {
            wait_for_dad(cfg, &mut nl, &t, dl)?;
        }

        ocf::deadline::set_phase("announcing the address");
        match announce_address(
            cfg,
            &t,
            &link,
            cfg.arp_count,
            &dl.keep_back(Duration::from_millis(300)),
        ) {
            Ok(msg) => ocf::info!("{msg}"),
            Err(e) => return Err(OcfError::generic(e)),
        }

        let addrs = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
        match served(cfg.ip, &addrs, t.index, t.prefix, label.as_deref()) {
            Served::Yes(_) => Ok(()),
            Served::No => Err(OcfError::generic(format!(
                "{} vanished from {} during start",
                cfg.ip, t.nic
            ))),
            Served::Mismatch(why) => Err(OcfError::generic(why)),
        }
    }

    /// Removes the address from the interface the configuration leads to
    /// and, when the configuration no longer leads there (nic, ip or the
    /// namespace changed, the interface was renamed), from where start put
    /// it. 0 only when neither holds it any more.
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        require_root("stop")?;
        let mut nl = open_netlink(dl)?;
        let here = state::current_ns();
        let rec = Started::load(ctx);
        let iface = configured_iface(
            cfg.ip,
            cfg.prefix,
            cfg.nic.as_deref(),
            rec.as_ref(),
            here,
            &mut nl,
        )?;
        let fam = cfg.family();
        let removed = match iface {
            Some(i) => {
                let addrs = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
                remove_from(&mut nl, cfg.ip, &addrs, |a| a.index == i)?
            }
            None => 0,
        };
        let mut from_record = 0;
        if let Some(s) = &rec
            && !(s.is_here(here) && Some(s.index) == iface && s.ip == cfg.ip)
        {
            from_record = remove_started(s, dl)?;
            if from_record > 0 {
                ocf::warn!(
                    "removed {}, which start added: the configuration no longer leads there",
                    s.describe()
                );
            }
        }
        if removed == 0 && from_record == 0 {
            ocf::info!("{} was not configured: {} is stopped", cfg.ip, ctx.instance);
        }
        // LVS: the address moves to lo only from an interface that had it.
        if cfg.lvs_support
            && removed > 0
            && let Some(lo) = netlink::index_of("lo")
        {
            ocf::info!("lvs_support: keeping {}/32 on lo", cfg.ip);
            let keep = NewAddr {
                index: lo,
                address: cfg.ip,
                prefix: 32,
                broadcast: None,
                label: None,
                flags: 0,
                preferred_lft: None,
            };
            match nl.add_address(&keep) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => ocf::warn!("lvs_support: cannot add {}/32 to lo: {e}", cfg.ip),
            }
        }
        if let (Some(label), IpAddr::V6(ip6)) = (cfg.addrlabel, cfg.ip) {
            del_addrlabel(&mut nl, ip6, label);
        }
        if let Some(s) = &rec
            && let (Some(label), IpAddr::V6(ip6), true) = (s.addrlabel, s.ip, s.is_here(here))
        {
            del_addrlabel(&mut nl, ip6, label);
        }
        if cfg.flush_routes && removed > 0 {
            let file = if cfg.v4() {
                "/proc/sys/net/ipv4/route/flush"
            } else {
                "/proc/sys/net/ipv6/route/flush"
            };
            if let Err(e) = std::fs::write(file, "1") {
                ocf::warn!("flush_routes: cannot write {file}: {e}");
            }
        }
        if let Some(i) = iface {
            let left = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
            if left.iter().any(|a| a.address == cfg.ip && a.index == i) {
                return Err(OcfError::generic(format!(
                    "{} is still on {} after removal",
                    cfg.ip,
                    netlink::name_of(i)
                )));
            }
        }
        Ok(())
    }

    /// The parameters do not validate (or their namespace is missing): stop
    /// what start recorded, wherever it is now, and what the parameters that
    /// still read name; 0 only when neither is left.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        require_root("stop")?;
        let started = rec.and_then(Started::from_record);
        let mut n = 0;
        if let Some(s) = &started {
            n += remove_started(s, dl)?;
        }
        if let Some(raw) = Raw::read(cfg, ctx) {
            n += raw.remove(started.as_ref(), dl)?;
        }
        if n > 0 {
            ocf::info!(
                "stop: {}; removed the address start added, so {} is stopped",
                why.reason,
                ctx.instance
            );
        } else {
            ocf::info!(
                "stop: {}; the address is on none of the interfaces start or the parameters name, so {} is stopped",
                why.reason,
                ctx.instance
            );
        }
        Ok(())
    }

    /// The same places as [`stop_unconfigured`](Self::stop_unconfigured):
    /// 0 when the address is on one of them, 7 when on none.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        _why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        let started = rec.and_then(Started::from_record);
        if let Some(s) = &started
            && let Some(found) = started_present(s, dl)?
        {
            ocf::warn!("{found}, where start added it");
            return Ok(Status::Success);
        }
        if let Some(raw) = Raw::read(cfg, ctx)
            && let Some(found) = raw.present(started.as_ref(), dl)?
        {
            ocf::warn!("{found}, where the parameters name it");
            return Ok(Status::Success);
        }
        Ok(Status::NotRunning)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let mut nl = open_netlink(dl)?;
        let here = state::current_ns();
        // The record is read only when the parameters alone cannot say.
        let rec = std::cell::OnceCell::new();
        let rec = || rec.get_or_init(|| Started::load(ctx)).as_ref();
        let iface = configured_iface(
            cfg.ip,
            cfg.prefix,
            cfg.nic.as_deref(),
            if cfg.nic.is_none() { rec() } else { None },
            here,
            &mut nl,
        )?;
        let addrs = nl
            .addresses(cfg.family())
            .map_err(|e| nl_err("read addresses", e))?;
        if let Some(i) = iface {
            let label = cfg
                .iflabel
                .as_ref()
                .and_then(|_| cfg.label_for(&netlink::name_of(i)));
            match served(cfg.ip, &addrs, i, cfg.prefix.unwrap_or(0), label.as_deref()) {
                Served::Yes(a) => return healthy(cfg, ctx, &mut nl, &a, dl),
                Served::Mismatch(why) => return Err(OcfError::generic(why)),
                Served::No => {}
            }
        }
        let where_ = match (&cfg.nic, iface) {
            (Some(n), Some(_)) => n.clone(),
            (Some(n), None) => format!("{n} (no such interface)"),
            (None, Some(i)) => netlink::name_of(i),
            (None, None) => "any interface with a route to it".to_string(),
        };
        // Not where the configuration leads: is what start added still there?
        if let Some(s) = rec()
            && !(s.is_here(here) && Some(s.index) == iface && s.ip == cfg.ip)
            && let Some(found) = started_present(s, dl)?
        {
            return Err(OcfError::generic(format!(
                "{} is not on {where_}, but {found}, where start added it: the configuration changed while it ran",
                cfg.ip
            )));
        }
        Err(OcfError::not_running(format!(
            "{} is not on {where_}",
            cfg.ip
        )))
    }
}

/// Monitor of an address that is where the configuration says: is it usable?
fn healthy(
    cfg: &Config,
    ctx: &Context,
    nl: &mut Netlink,
    a: &Addr,
    dl: &Deadline,
) -> OcfResult<Status> {
    if a.flags & netlink::IFA_F_DADFAILED != 0 {
        return Err(OcfError::generic(format!(
            "{} failed duplicate address detection on {}",
            cfg.ip,
            netlink::name_of(a.index)
        )));
    }
    let need_link = cfg.check_link_status || cfg.arp_count_refresh > 0;
    if need_link {
        let link = nl.link(a.index).map_err(|e| nl_err("read link", e))?;
        if cfg.check_link_status && !link.is_usable() {
            let why = format!(
                "{} is down or has no carrier, so {} is not reachable",
                netlink::name_of(a.index),
                cfg.ip
            );
            // A recurring monitor's 7 is followed by a stop here; a probe's
            // is believed: the address would stay, and answer from this
            // node too once the link is back. So a probe says "failed".
            if ctx.is_probe() {
                return Err(OcfError::generic(format!(
                    "{why}, but it is configured here"
                )));
            }
            return Err(OcfError::not_running(why));
        }
        if cfg.arp_count_refresh > 0 {
            let t = Target {
                index: a.index,
                nic: netlink::name_of(a.index),
                prefix: a.prefix,
                broadcast: None,
            };
            match announce_address(cfg, &t, &link, cfg.arp_count_refresh, &dl.share(0.5)) {
                Ok(msg) => ocf::debug!("refresh: {msg}"),
                Err(e) => ocf::warn!("refresh: {e}"),
            }
        }
    }
    Ok(Status::Success)
}

// ---------------------------------------------------------------- what is ours

/// The interface the configuration leads to in this namespace: `nic`; or
/// without it, the interface start chose for this address (the record, by
/// index: a rename does not hide it, and once it is gone nothing is ours),
/// or without a record the one findif picks now. None: no such interface
/// here. An address of the same value on any other interface is not ours.
fn configured_iface(
    ip: IpAddr,
    prefix: Option<u8>,
    nic: Option<&str>,
    rec: Option<&Started>,
    here: Option<state::NsId>,
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
    let fam = if ip.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    };
    let routes = nl.routes(fam).map_err(|e| nl_err("read routes", e))?;
    Ok(find_route(&routes, ip, prefix, None).and_then(|r| r.oif))
}

/// Into the namespace of what start added: None when it no longer exists
/// (and with it every address that was in it).
fn visit_started(s: &Started) -> OcfResult<Option<state::Visit>> {
    match s.ns {
        None => Ok(Some(state::Visit::here())),
        Some(ns) => state::visit(ns, s.netns.as_deref()).map_err(|e| {
            OcfError::generic(format!(
                "cannot enter the network namespace of {}: {e}",
                s.describe()
            ))
        }),
    }
}

fn family_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

/// Where what start added is now ("198.51.100.10/24 is on eth1"), if anywhere.
fn started_present(s: &Started, dl: &Deadline) -> OcfResult<Option<String>> {
    let Some(_visit) = visit_started(s)? else {
        return Ok(None);
    };
    let mut nl = open_netlink(dl)?;
    let addrs = nl
        .addresses(family_of(s.ip))
        .map_err(|e| nl_err("read addresses", e))?;
    Ok(addrs
        .iter()
        .find(|a| a.address == s.ip && a.index == s.index)
        .map(|a| {
            format!(
                "{}/{} is on {}{}",
                s.ip,
                a.prefix,
                netlink::name_of(a.index),
                s.netns
                    .as_ref()
                    .map(|n| format!(" in network namespace {n}"))
                    .unwrap_or_default()
            )
        }))
}

/// Remove what start added, with any prefix, from the interface start put
/// it on, wherever that is now; an error when it stays.
fn remove_started(s: &Started, dl: &Deadline) -> OcfResult<usize> {
    let Some(_visit) = visit_started(s)? else {
        ocf::info!(
            "the network namespace of {} is gone, and the address with it",
            s.describe()
        );
        return Ok(0);
    };
    let mut nl = open_netlink(dl)?;
    let fam = family_of(s.ip);
    let addrs = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
    let n = remove_from(&mut nl, s.ip, &addrs, |a| a.index == s.index)?;
    if let (Some(label), IpAddr::V6(ip6)) = (s.addrlabel, s.ip) {
        del_addrlabel(&mut nl, ip6, label);
    }
    let left = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
    if left.iter().any(|a| a.address == s.ip && a.index == s.index) {
        return Err(OcfError::generic(format!(
            "{} is still there after removal",
            s.describe()
        )));
    }
    Ok(n)
}

fn del_addrlabel(nl: &mut Netlink, ip6: std::net::Ipv6Addr, label: u32) {
    match nl.del_addrlabel(ip6, label) {
        Ok(()) => ocf::info!("lvs_ipv6_addrlabel: removed label {label} of {ip6}/128"),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
        Err(e) => ocf::warn!("lvs_ipv6_addrlabel: cannot remove label of {ip6}: {e}"),
    }
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

    /// Into the namespace and onto the interface these name, if they exist.
    fn locate(
        &self,
        rec: Option<&Started>,
        dl: &Deadline,
    ) -> OcfResult<Option<(u32, Netlink, state::Visit)>> {
        let visit = match &self.netns {
            None => state::Visit::here(),
            Some(n) => match state::visit_named(n) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(OcfError::generic(format!(
                        "cannot enter network namespace {n}: {e}"
                    )));
                }
            },
        };
        let mut nl = open_netlink(dl)?;
        let here = state::current_ns();
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

    fn present(&self, rec: Option<&Started>, dl: &Deadline) -> OcfResult<Option<String>> {
        let Some((i, mut nl, _visit)) = self.locate(rec, dl)? else {
            return Ok(None);
        };
        let addrs = nl
            .addresses(family_of(self.ip))
            .map_err(|e| nl_err("read addresses", e))?;
        Ok(addrs
            .iter()
            .find(|a| a.address == self.ip && a.index == i)
            .map(|a| format!("{}/{} is on {}", self.ip, a.prefix, netlink::name_of(i))))
    }

    fn remove(&self, rec: Option<&Started>, dl: &Deadline) -> OcfResult<usize> {
        let Some((i, mut nl, _visit)) = self.locate(rec, dl)? else {
            return Ok(0);
        };
        let fam = family_of(self.ip);
        let addrs = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
        let n = remove_from(&mut nl, self.ip, &addrs, |a| a.index == i)?;
        let left = nl.addresses(fam).map_err(|e| nl_err("read addresses", e))?;
        if left.iter().any(|a| a.address == self.ip && a.index == i) {
            return Err(OcfError::generic(format!(
                "{} is still on {} after removal",
                self.ip,
                netlink::name_of(i)
            )));
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------- helpers

fn require_root(action: &str) -> OcfResult<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(OcfError::perm(format!("{action} must run as root")));
    }
    Ok(())
}

fn enter_netns(name: &str) -> OcfResult<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = format!("/run/netns/{name}");
    // O_NONBLOCK: something else in the namespace's place (a FIFO) must not
    // hold the action until its timeout; setns then refuses it.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| {
            OcfError::installed(format!(
                "network namespace {name} is not available on this node ({path}: {e})"
            ))
        })?;
    // SAFETY: setns on an fd we own; affects only this thread's namespace,
    // which is the thread that opens every socket afterwards.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) => {
                OcfError::perm(format!("cannot enter network namespace {name}: {e}"))
            }
            // Not a namespace file: as good as missing on this node.
            Some(libc::EINVAL) => OcfError::installed(format!(
                "network namespace {name} is not available on this node ({path} is not a network namespace)"
            )),
            _ => OcfError::generic(format!("cannot enter network namespace {name}: {e}")),
        });
    }
    ocf::debug!("entered network namespace {name}");
    Ok(())
}

fn open_netlink(dl: &Deadline) -> OcfResult<Netlink> {
    Netlink::open(dl.remaining().min(Duration::from_secs(5)))
        .map_err(|e| nl_err("open a netlink socket", e))
}

fn nl_err(what: &str, e: io::Error) -> OcfError {
    OcfError::generic(format!("cannot {what}: {e}"))
}

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
fn resolve_target(cfg: &Config, nl: &mut Netlink) -> OcfResult<Target> {
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
            .map_err(|e| nl_err("read routes", e))?
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
                .map_err(|e| nl_err("read addresses", e))?
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
                && r.kind == netlink::RTN_UNICAST
                && r.dst_len > 0
                && !r.gateway
                && r.oif.is_some()
                && (!ip.is_ipv4() || r.scope == netlink::RT_SCOPE_LINK)
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

/// Look for `ip` on interface `index`. `prefix` 0 means any prefix
/// (monitor without cidr_netmask); `label` None means any label.
pub fn served(ip: IpAddr, addrs: &[Addr], index: u32, prefix: u8, label: Option<&str>) -> Served {
    let candidates: Vec<&Addr> = addrs
        .iter()
        .filter(|a| a.address == ip && a.index == index)
        .collect();
    if candidates.is_empty() {
        return Served::No;
    }
    if let Some(a) = candidates.iter().find(|a| {
        (prefix == 0 || a.prefix == prefix) && (label.is_none() || a.label.as_deref() == label)
    }) {
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

/// Start's add phase: take the address off lo (LVS), check for a duplicate
/// (run_arping), then add it.
fn add_address(
    cfg: &Config,
    nl: &mut Netlink,
    t: &Target,
    addrs: &[Addr],
    link: &netlink::Link,
    dl: &Deadline,
) -> OcfResult<()> {
    if cfg.lvs_support
        && let Some(lo) = netlink::index_of("lo")
        && addrs.iter().any(|a| a.index == lo && a.address == cfg.ip)
    {
        ocf::info!("lvs_support: removing {} from lo", cfg.ip);
        remove_from(nl, cfg.ip, addrs, |a| a.index == lo)?;
    }
    if cfg.run_arping
        && let (IpAddr::V4(ip4), Some(mac)) = (cfg.ip, link.mac())
    {
        ocf::deadline::set_phase("duplicate address check");
        if !link.is_up() {
            nl.set_up(t.index)
                .map_err(|e| nl_err(&format!("set {} up", t.nic), e))?;
        }
        let wait = dl
            .remaining()
            .mul_f64(0.25)
            .min(Duration::from_millis(1500));
        match announce::probe_duplicate(t.index, mac, ip4, wait) {
            Ok(Some(other)) => {
                return Err(OcfError::generic(format!(
                    "{} is already in use on {} by {} (run_arping); not adding it",
                    cfg.ip,
                    t.nic,
                    announce::mac_string(&other)
                )));
            }
            Ok(None) => ocf::info!("run_arping: nobody answers for {} on {}", cfg.ip, t.nic),
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "run_arping: cannot probe on {}: {e}",
                    t.nic
                )));
            }
        }
    }

    if let (Some(label), IpAddr::V6(ip6)) = (cfg.addrlabel, cfg.ip) {
        ocf::info!("lvs_ipv6_addrlabel: label {label} for {ip6}/128");
        match nl.add_addrlabel(ip6, label) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            // IPaddr2 goes on too: the address still works, only its source selection does not.
            Err(e) => ocf::warn!("lvs_ipv6_addrlabel: cannot add label {label} for {ip6}: {e}"),
        }
    }

    ocf::deadline::set_phase("adding the address");
    let mut flags = 0;
    if cfg.nodad && !cfg.v4() {
        flags |= netlink::IFA_F_NODAD;
    }
    if cfg.noprefixroute {
        flags |= netlink::IFA_F_NOPREFIXROUTE;
    }
    let new = NewAddr {
        index: t.index,
        address: cfg.ip,
        prefix: t.prefix,
        broadcast: t.broadcast,
        label: cfg.label_for(&t.nic),
        flags,
        preferred_lft: cfg.preferred_lft,
    };
    ocf::info!(
        "adding {}/{} to {}{}{}",
        cfg.ip,
        t.prefix,
        t.nic,
        t.broadcast
            .map(|b| format!(" broadcast {b}"))
            .unwrap_or_default(),
        new.label
            .as_ref()
            .map(|l| format!(" label {l}"))
            .unwrap_or_default()
    );
    match nl.add_address(&new) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            ocf::info!("{} appeared meanwhile", cfg.ip)
        }
        Err(e) => {
            return Err(nl_err(
                &format!("add {}/{} to {}", cfg.ip, t.prefix, t.nic),
                e,
            ));
        }
    }
    Ok(())
}

/// Delete every instance of `ip` among `addrs` that `pick` selects.
fn remove_from(
    nl: &mut Netlink,
    ip: IpAddr,
    addrs: &[Addr],
    pick: impl Fn(&Addr) -> bool,
) -> OcfResult<usize> {
    let mut n = 0;
    for a in addrs.iter().filter(|a| a.address == ip && pick(a)) {
        let nic = netlink::name_of(a.index);
        match nl.del_address(a.index, ip, a.prefix) {
            Ok(()) => {
                ocf::info!("removed {ip}/{} from {nic}", a.prefix);
                n += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => return Err(nl_err(&format!("remove {ip}/{} from {nic}", a.prefix), e)),
        }
    }
    Ok(n)
}

/// IPv6: wait within the start budget for DAD to leave "tentative".
fn wait_for_dad(cfg: &Config, nl: &mut Netlink, t: &Target, dl: &Deadline) -> OcfResult<()> {
    ocf::deadline::set_phase("waiting for IPv6 duplicate address detection");
    let limit =
        dl.keep_back(Duration::from_millis(500) + cfg.arp_interval.min(Duration::from_secs(1)));
    let state = limit.poll(Duration::from_millis(50), || {
        let addrs = nl.addresses(cfg.family()).ok()?;
        let a = addrs
            .iter()
            .find(|a| a.address == cfg.ip && a.index == t.index)?;
        if a.flags & netlink::IFA_F_DADFAILED != 0 {
            Some(Err(()))
        } else if a.flags & netlink::IFA_F_TENTATIVE == 0 {
            Some(Ok(()))
        } else {
            None
        }
    });
    match state {
        Some(Ok(())) => Ok(()),
        Some(Err(())) => {
            let _ = nl.del_address(t.index, cfg.ip, t.prefix);
            Err(OcfError::generic(format!(
                "duplicate address detection failed (dadfailed): another host on {} uses {}; address removed",
                t.nic, cfg.ip
            )))
        }
        None => Err(OcfError::generic(format!(
            "{} is still tentative on {}: duplicate address detection did not finish within the start timeout",
            cfg.ip, t.nic
        ))),
    }
}

/// Gratuitous ARP or unsolicited NA, `count` rounds. Ok carries the log line.
fn announce_address(
    cfg: &Config,
    t: &Target,
    link: &netlink::Link,
    count: u32,
    dl: &Deadline,
) -> Result<String, String> {
    if count == 0 {
        return Ok("arp_count=0: no announcement".into());
    }
    if link.no_arp() {
        return Ok(format!("{} has NOARP: no announcement", t.nic));
    }
    let Some(mac) = link.mac() else {
        return Ok(format!("{} has no MAC address: no announcement", t.nic));
    };
    let res = match cfg.ip {
        IpAddr::V4(ip) => {
            announce::gratuitous_arp(t.index, mac, ip, cfg.arp_mode, count, cfg.arp_interval, dl)
                .map(|n| {
                    format!(
                        "sent {n} gratuitous ARP {} packets for {ip} on {} from {}",
                        cfg.arp_mode.word(),
                        t.nic,
                        announce::mac_string(&mac)
                    )
                })
        }
        IpAddr::V6(ip) => announce::unsolicited_na(t.index, mac, ip, count, cfg.arp_interval, dl)
            .map(|n| {
                format!(
                    "sent {n} unsolicited neighbour advertisements for {ip} on {}",
                    t.nic
                )
            }),
    };
    res.map_err(|e| format!("cannot announce {} on {}: {e}", cfg.ip, t.nic))
}

#[cfg(test)]
mod tests;
