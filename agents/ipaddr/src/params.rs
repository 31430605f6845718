//! The parameter table of ocf:rust:ipaddr (IPaddr2's names) and the checks
//! each value passes before `configure` reads it.

use std::net::{IpAddr, Ipv4Addr};

use ocf::ParamSpec;

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
     the address), as IPaddr2's findif does; a link-local IPv6 address (fe80::/10) needs it. \
     The old form nic:label is accepted and means iflabel=label.",
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
    "How many rounds of gratuitous ARP or unsolicited neighbour advertisements start sends: \
     the first before it returns, the rest in the background with arp_bg=true (the default), \
     all before it returns with arp_bg=false, stopping early rather than run past the start \
     timeout.",
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
    "Announce in the background",
    "As IPaddr2: start sends the first announcement and returns; the other arp_count - 1 \
     follow every arp_interval from a detached process, each only while the address is \
     still on its interface, logged, and ended after the last one. false: start sends \
     them all before it returns.",
)
.boolean()
.default("true");

pub static ARP_SENDER: ParamSpec = ParamSpec::new(
    "arp_sender",
    "Accepted for IPaddr2 compatibility",
    "Ignored: this agent sends ARP and neighbour advertisements itself from raw sockets; \
     no external sender is run.",
)
.choice(&["send_arp", "iputils_arping", "libnet_arping", "ipoibarping"]);

pub static MAC: ParamSpec = ParamSpec::new(
    "mac",
    "Cluster IP MAC address (IPaddr2 compatibility)",
    "IPaddr2 uses it only for a load-sharing clone (CLUSTERIP), which this agent does \
     not run (this kernel generation has no CLUSTERIP): accepted and ignored.",
);

pub static CLUSTERIP_HASH: ParamSpec = ParamSpec::new(
    "clusterip_hash",
    "Cluster IP hashing (IPaddr2 compatibility)",
    "IPaddr2's hashing for a load-sharing clone (CLUSTERIP), which this agent does not \
     run: accepted and ignored.",
)
.choice(&[
    "sourceip",
    "sourceip-sourceport",
    "sourceip-sourceport-destport",
]);

pub static UNIQUE_CLONE_ADDRESS: ParamSpec = ParamSpec::new(
    "unique_clone_address",
    "Unique address per clone instance (IPaddr2 compatibility)",
    "IPaddr2 uses it only to keep a globally unique clone out of CLUSTERIP mode; this \
     agent runs no clone of more than one instance: accepted and ignored.",
)
.boolean()
.default("false");

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

pub static PARAMS: [ParamSpec; 26] = [
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
    MAC,
    CLUSTERIP_HASH,
    UNIQUE_CLONE_ADDRESS,
];

pub(crate) fn check_ip(v: &str) -> Result<(), String> {
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

pub(crate) fn valid_ifname(nic: &str) -> Result<(), String> {
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
pub(crate) fn parse_mask(v: &str) -> Result<(u8, bool), String> {
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

pub(crate) fn check_netns(v: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&crate::INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
    }
}
