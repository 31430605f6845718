//! DRBD's state as a typed value, parsed from machine output only:
//! `drbdsetup events2 --now <res>` (DRBD 9) and `drbdsetup sh-status <res>`
//! (DRBD 8.4). Human text (`drbdadm status`, /proc/drbd's body) is never read.

/// A node's role for one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
    Unknown,
}

impl Role {
    fn parse(s: &str) -> Role {
        match s {
            "Primary" => Role::Primary,
            "Secondary" => Role::Secondary,
            _ => Role::Unknown,
        }
    }
}

/// A disk state (DRBD's own words). `Other` keeps anything newer verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disk {
    Diskless,
    Attaching,
    Detaching,
    Failed,
    Negotiating,
    Inconsistent,
    Outdated,
    DUnknown,
    Consistent,
    UpToDate,
    Other(String),
}

impl Disk {
    pub fn parse(s: &str) -> Disk {
        match s {
            "Diskless" => Disk::Diskless,
            "Attaching" => Disk::Attaching,
            "Detaching" => Disk::Detaching,
            "Failed" => Disk::Failed,
            "Negotiating" => Disk::Negotiating,
            "Inconsistent" => Disk::Inconsistent,
            "Outdated" => Disk::Outdated,
            "DUnknown" | "" => Disk::DUnknown,
            "Consistent" => Disk::Consistent,
            "UpToDate" => Disk::UpToDate,
            other => Disk::Other(other.to_string()),
        }
    }
}

/// One local volume (a minor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub number: u32,
    pub minor: Option<u32>,
    pub disk: Disk,
    /// An intentionally diskless client (`disk none` in drbd.conf).
    pub client: bool,
}

/// One volume as a peer reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerVolume {
    pub number: u32,
    pub disk: Disk,
    pub client: bool,
    /// `Established`, `SyncSource`, `SyncTarget`, `Off`, ... (8.4: the cstate).
    pub replication: String,
}

/// One connection to a peer node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub node_id: Option<u32>,
    pub name: String,
    /// `Connected`, `Connecting`, `StandAlone`, ... (8.4: `WFConnection`, ...).
    pub connection: String,
    pub role: Role,
    pub volumes: Vec<PeerVolume>,
}

impl Peer {
    pub fn connected(&self) -> bool {
        !matches!(
            self.connection.as_str(),
            "StandAlone"
                | "Disconnecting"
                | "Unconnected"
                | "Timeout"
                | "BrokenPipe"
                | "NetworkFailure"
                | "ProtocolError"
                | "TearDown"
                | "Connecting"
                | "WFConnection"
                | "WFReportParams"
        )
    }
}

/// Everything the agent decides on, for one resource on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceState {
    /// False when the kernel has no such resource (stopped).
    pub configured: bool,
    pub role: Role,
    pub volumes: Vec<Volume>,
    pub peers: Vec<Peer>,
    /// False when any volume reports `quorum:no` (DRBD 9 only).
    pub quorum: bool,
}

impl ResourceState {
    pub fn unconfigured() -> ResourceState {
        ResourceState {
            configured: false,
            role: Role::Unknown,
            volumes: vec![],
            peers: vec![],
            quorum: true,
        }
    }

    fn peer_mut(&mut self, id: Option<u32>, name: &str) -> &mut Peer {
        let at = self.peers.iter().position(|p| {
            (id.is_some() && p.node_id == id) || (!name.is_empty() && p.name == name)
        });
        match at {
            Some(i) => &mut self.peers[i],
            None => {
                self.peers.push(Peer {
                    node_id: id,
                    name: name.to_string(),
                    connection: "Unknown".into(),
                    role: Role::Unknown,
                    volumes: vec![],
                });
                self.peers.last_mut().expect("just pushed")
            }
        }
    }

    /// Some volume is StandAlone after a split brain, or a peer was refused.
    pub fn standalone_peers(&self) -> Vec<&str> {
        self.peers
            .iter()
            .filter(|p| p.connection == "StandAlone")
            .map(|p| p.name.as_str())
            .collect()
    }
}

/// Split `key:value` words; the first `:` separates (values may hold more).
fn fields(words: &[&str]) -> Vec<(String, String)> {
    words
        .iter()
        .filter_map(|w| w.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(f: &'a [(String, String)], key: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Parse `drbdsetup events2 --now` output for resource `name`.
///
/// Lines are `exists <object> name:<res> key:value ...`; DRBD 8.4's
/// variant starts with an event number (`12* exists ...`), which is
/// skipped. Parsing stops at `exists -` (the end of the current state).
/// Objects of other resources are ignored.
pub fn parse_events2(text: &str, name: &str) -> ResourceState {
    let mut st = ResourceState::unconfigured();
    for line in text.lines() {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.trim_end_matches('*').parse::<u64>().is_ok())
        {
            words.remove(0);
        }
        if words.len() < 2 || words[0] != "exists" {
            continue;
        }
        if words[1] == "-" {
            break;
        }
        let f = fields(&words[2..]);
        if get(&f, "name") != Some(name) {
            continue;
        }
        let num = |k: &str| get(&f, k).and_then(|v| v.parse::<u32>().ok());
        match words[1] {
            "resource" => {
                st.configured = true;
                st.role = Role::parse(get(&f, "role").unwrap_or(""));
            }
            "connection" => {
                let p = st.peer_mut(num("peer-node-id"), get(&f, "conn-name").unwrap_or(""));
                p.connection = get(&f, "connection").unwrap_or("Unknown").to_string();
                p.role = Role::parse(get(&f, "role").unwrap_or(""));
            }
            "device" => {
                st.configured = true;
                if get(&f, "quorum") == Some("no") {
                    st.quorum = false;
                }
                st.volumes.push(Volume {
                    number: num("volume").unwrap_or(0),
                    minor: num("minor"),
                    disk: Disk::parse(get(&f, "disk").unwrap_or("")),
                    client: get(&f, "client") == Some("yes"),
                });
            }
            "peer-device" => {
                let v = PeerVolume {
                    number: num("volume").unwrap_or(0),
                    disk: Disk::parse(get(&f, "peer-disk").unwrap_or("")),
                    client: get(&f, "peer-client") == Some("yes"),
                    replication: get(&f, "replication").unwrap_or("").to_string(),
                };
                let p = st.peer_mut(num("peer-node-id"), get(&f, "conn-name").unwrap_or(""));
                p.volumes.retain(|x| x.number != v.number);
                p.volumes.push(v);
            }
            _ => {}
        }
    }
    if st.configured && st.role == Role::Unknown {
        st.role = Role::Secondary;
    }
    st
}

/// Every resource in `drbdsetup events2 --now all` output with the minors of
/// its devices (sorted): how a resource is found again by its minors, which
/// the kernel keeps when the resource is renamed (`drbdsetup rename-resource`).
pub fn minors_by_resource(text: &str) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> = vec![];
    for line in text.lines() {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.trim_end_matches('*').parse::<u64>().is_ok())
        {
            words.remove(0);
        }
        if words.len() < 2 || words[0] != "exists" {
            continue;
        }
        if words[1] == "-" {
            break;
        }
        if !matches!(words[1], "resource" | "device") {
            continue;
        }
        let f = fields(&words[2..]);
        let Some(name) = get(&f, "name") else {
            continue;
        };
        let at = match out.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                out.push((name.to_string(), vec![]));
                out.len() - 1
            }
        };
        if words[1] == "device"
            && let Some(m) = get(&f, "minor").and_then(|m| m.parse::<u32>().ok())
        {
            out[at].1.push(m);
        }
    }
    for (_, minors) in &mut out {
        minors.sort_unstable();
        minors.dedup();
    }
    out
}

/// Parse DRBD 8.4's `drbdsetup sh-status <res>`: shell assignments
/// (`_role=Secondary`), one block per volume closed by `_sh_status_process`.
/// Values are taken as data, never evaluated. 8.4 has one peer and no quorum.
pub fn parse_sh_status(text: &str) -> ResourceState {
    let mut st = ResourceState::unconfigured();
    let mut block: Vec<(String, String)> = vec![];
    let mut peer = Peer {
        node_id: None,
        name: "peer".into(),
        connection: "Unknown".into(),
        role: Role::Unknown,
        volumes: vec![],
    };
    for line in text.lines().map(str::trim) {
        if line == "_sh_status_process" {
            let val = |k: &str| get(&block, k).unwrap_or("").to_string();
            let role = val("_role");
            if val("_known") != "Unconfigured" && matches!(role.as_str(), "Primary" | "Secondary") {
                st.configured = true;
                let r = Role::parse(&role);
                if st.role != Role::Primary {
                    st.role = r;
                }
                let number = val("_volume").parse().unwrap_or(st.volumes.len() as u32);
                st.volumes.push(Volume {
                    number,
                    minor: val("_minor").parse().ok(),
                    disk: Disk::parse(&val("_disk")),
                    client: false,
                });
                let cstate = val("_cstate");
                peer.connection = cstate.clone();
                if peer.role != Role::Primary {
                    peer.role = Role::parse(&val("_peer"));
                }
                peer.volumes.push(PeerVolume {
                    number,
                    disk: Disk::parse(&val("_pdsk")),
                    client: false,
                    replication: cstate,
                });
            }
            block.clear();
        } else if let Some((k, v)) = line.split_once('=') {
            let v = v.trim_matches(|c| c == '\'' || c == '"');
            block.push((k.to_string(), v.to_string()));
        }
    }
    if st.configured {
        // A StandAlone 8.4 node without network config still lists a peer
        // as Unknown/DUnknown: keep it, so "peer disk unknown" is seen.
        st.peers.push(peer);
    }
    st
}

/// A kernel module version `x.y.z` as linbit's code: `x<<16 | y<<8 | z`.
pub fn version_code(v: &str) -> Option<u32> {
    let mut it = v.trim().split(['.', '-']);
    let mut part = || -> Option<u32> {
        let s = it.next()?;
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok().filter(|n| *n < 256)
    };
    let (a, b, c) = (part()?, part()?, part()?);
    Some(a << 16 | b << 8 | c)
}

/// The module version from `/proc/drbd`'s first line (`version: 9.2.8 (api...)`).
pub fn version_from_proc(text: &str) -> Option<u32> {
    let first = text.lines().next()?;
    let v = first.strip_prefix("version:")?.split_whitespace().next()?;
    version_code(v)
}

/// The module version from `drbdadm --version` (`DRBD_KERNEL_VERSION_CODE=0x090208`);
/// `None` when it is 0 (module not loaded).
pub fn version_from_drbdadm(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("DRBD_KERNEL_VERSION_CODE="))
        .and_then(|v| u32::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
        .filter(|c| *c != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DRBD 9.2 `drbdsetup events2 --now r0`, two peers, one syncing.
    pub const EVENTS2: &str = "\
exists resource name:r0 role:Primary suspended:no force-io-failures:no may_promote:no promotion_score:10102
exists connection name:r0 peer-node-id:1 conn-name:alpha connection:Connected role:Secondary
exists connection name:r0 peer-node-id:2 conn-name:beta connection:Connecting role:Unknown
exists device name:r0 volume:0 minor:10 backing_dev:/dev/vg/r0 disk:UpToDate client:no quorum:yes
exists device name:r0 volume:1 minor:11 backing_dev:/dev/vg/r0b disk:UpToDate client:no quorum:yes
exists peer-device name:r0 peer-node-id:1 conn-name:alpha volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no
exists peer-device name:r0 peer-node-id:1 conn-name:alpha volume:1 replication:SyncSource peer-disk:Inconsistent peer-client:no resync-suspended:no
exists peer-device name:r0 peer-node-id:2 conn-name:beta volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no
exists peer-device name:r0 peer-node-id:2 conn-name:beta volume:1 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no
exists path name:r0 peer-node-id:1 conn-name:alpha local:ipv4:10.0.0.1:7789 peer:ipv4:10.0.0.2:7789 established:yes
exists resource name:other role:Secondary suspended:no
exists device name:other volume:0 minor:20 disk:Inconsistent client:no quorum:no
exists -
change resource name:r0 role:Secondary
";

    #[test]
    fn events2_is_parsed_into_a_typed_state() {
        let st = parse_events2(EVENTS2, "r0");
        assert!(st.configured);
        assert_eq!(st.role, Role::Primary);
        assert!(st.quorum, "the other resource's quorum:no is not ours");
        assert_eq!(st.volumes.len(), 2);
        assert_eq!(st.volumes[1].minor, Some(11));
        assert_eq!(st.volumes[1].disk, Disk::UpToDate);
        assert_eq!(st.peers.len(), 2);
        let alpha = &st.peers[0];
        assert_eq!((alpha.name.as_str(), alpha.node_id), ("alpha", Some(1)));
        assert!(alpha.connected());
        assert_eq!(alpha.volumes[1].disk, Disk::Inconsistent);
        assert_eq!(alpha.volumes[1].replication, "SyncSource");
        assert!(!st.peers[1].connected());
        assert_eq!(st.peers[1].volumes[0].disk, Disk::DUnknown);
    }

    #[test]
    fn events2_edge_cases() {
        assert!(!parse_events2("exists -\n", "r0").configured);
        assert!(!parse_events2("", "r0").configured);
        let other = parse_events2(EVENTS2, "other");
        assert!(!other.quorum);
        assert_eq!(other.role, Role::Secondary);
        // 8.4-style numbered lines, a diskless client, unknown disk words.
        let st = parse_events2(
            "3* exists resource name:r0 role:Secondary\n4 exists device name:r0 volume:0 minor:0 disk:Diskless client:yes\n5 exists device name:r0 volume:1 minor:1 disk:Frobnicated\n6 exists -\n",
            "r0",
        );
        assert!(st.configured);
        assert!(st.volumes[0].client);
        assert_eq!(st.volumes[1].disk, Disk::Other("Frobnicated".into()));
    }

    #[test]
    fn minors_of_every_resource() {
        let all = minors_by_resource(EVENTS2);
        assert_eq!(
            all,
            vec![
                ("r0".to_string(), vec![10, 11]),
                ("other".to_string(), vec![20])
            ]
        );
        assert!(minors_by_resource("exists -\n").is_empty());
        // A resource without devices yet (between new-resource and new-minor).
        assert_eq!(
            minors_by_resource("exists resource name:r9 role:Secondary\nexists -\n"),
            vec![("r9".to_string(), vec![])]
        );
    }

    #[test]
    fn sh_status_is_parsed_without_evaluating_it() {
        let text = "_minor=0\n_res_name=r0\n_known=Configured\n_cstate=SyncSource\n_role=Primary\n_peer=Secondary\n_disk=UpToDate\n_pdsk=Inconsistent\n_flags_susp=\n_sh_status_process\n_minor=1\n_res_name=r0\n_known=Configured\n_cstate=SyncSource\n_role=Primary\n_peer=Secondary\n_disk=UpToDate\n_pdsk=UpToDate\n_sh_status_process\n";
        let st = parse_sh_status(text);
        assert!(st.configured);
        assert_eq!(st.role, Role::Primary);
        assert_eq!(st.volumes.len(), 2);
        assert_eq!(st.peers.len(), 1);
        assert!(st.peers[0].connected());
        assert_eq!(st.peers[0].volumes[0].disk, Disk::Inconsistent);
        let down = parse_sh_status(
            "_minor=0\n_res_name=r0\n_known=Unconfigured\n_cstate=Unconfigured\n_role=\n_sh_status_process\n",
        );
        assert!(!down.configured);
        assert!(!parse_sh_status("$(reboot)\n_sh_status_process\n").configured);
    }

    #[test]
    fn versions() {
        assert_eq!(version_code("9.2.8"), Some(0x090208));
        assert_eq!(version_code("8.4.11-1"), Some(0x08040b));
        assert_eq!(version_code("9.2"), None);
        assert_eq!(version_code("x.y.z"), None);
        assert_eq!(
            version_from_proc("version: 9.2.8 (api:2/proto:86-122)\nGIT-hash: x\n"),
            Some(0x090208)
        );
        assert_eq!(version_from_proc("garbage"), None);
        let out =
            "DRBDADM_API_VERSION=2\nDRBD_KERNEL_VERSION_CODE=0x080410\nDRBDADM_VERSION=9.22.0\n";
        assert_eq!(version_from_drbdadm(out), Some(0x080410));
        assert_eq!(
            version_from_drbdadm("DRBD_KERNEL_VERSION_CODE=0x000000\n"),
            None
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        const DISKS: [&str; 10] = [
            "Diskless",
            "Attaching",
            "Detaching",
            "Failed",
            "Negotiating",
            "Inconsistent",
            "Outdated",
            "DUnknown",
            "Consistent",
            "UpToDate",
        ];

        fn disk() -> impl Strategy<Value = &'static str> {
            proptest::sample::select(&DISKS[..])
        }

        fn role() -> impl Strategy<Value = Role> {
            prop_oneof![Just(Role::Primary), Just(Role::Secondary)]
        }

        fn word(r: Role) -> &'static str {
            match r {
                Role::Primary => "Primary",
                Role::Secondary => "Secondary",
                Role::Unknown => "Unknown",
            }
        }

        /// A resource state as DRBD 9 could report it: volumes numbered
        /// 0..n with distinct minors, peers with distinct ids and names.
        fn state() -> impl Strategy<Value = ResourceState> {
            let volumes = proptest::collection::vec((0u32..1 << 20, disk(), any::<bool>()), 0..4);
            let peers = proptest::collection::vec(
                (
                    "[a-z][a-z0-9.-]{0,12}",
                    proptest::sample::select(&["Connected", "Connecting", "StandAlone"][..]),
                    role(),
                    proptest::collection::vec((disk(), any::<bool>(), "[A-Za-z]{1,12}"), 0..4),
                ),
                0..4,
            );
            (role(), volumes, peers, any::<bool>()).prop_map(|(role, vols, peers, quorum)| {
                let mut seen = std::collections::BTreeSet::new();
                let volumes: Vec<Volume> = vols
                    .into_iter()
                    .enumerate()
                    .filter(|(_, (m, _, _))| seen.insert(*m))
                    .map(|(i, (minor, d, client))| Volume {
                        number: i as u32,
                        minor: Some(minor),
                        disk: Disk::parse(d),
                        client,
                    })
                    .collect();
                let mut names = std::collections::BTreeSet::new();
                let peers: Vec<Peer> = peers
                    .into_iter()
                    .filter(|(n, ..)| names.insert(n.clone()))
                    .enumerate()
                    .map(|(i, (name, conn, role, pv))| Peer {
                        node_id: Some(i as u32 + 1),
                        name,
                        connection: conn.to_string(),
                        role,
                        volumes: pv
                            .into_iter()
                            .enumerate()
                            .map(|(v, (d, client, repl))| PeerVolume {
                                number: v as u32,
                                disk: Disk::parse(d),
                                client,
                                replication: repl,
                            })
                            .collect(),
                    })
                    .collect();
                ResourceState {
                    configured: true,
                    role,
                    quorum: quorum || volumes.is_empty(),
                    volumes,
                    peers,
                }
            })
        }

        /// `drbdsetup events2 --now` lines for `st` (and another resource).
        fn events2(name: &str, st: &ResourceState) -> String {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let mut out = format!(
                "exists resource name:{name} role:{} suspended:no\n",
                word(st.role)
            );
            for p in &st.peers {
                out += &format!(
                    "exists connection name:{name} peer-node-id:{} conn-name:{} connection:{} role:{}\n",
                    p.node_id.unwrap(),
                    p.name,
                    p.connection,
                    word(p.role)
                );
            }
            for v in &st.volumes {
                out += &format!(
                    "exists device name:{name} volume:{} minor:{} disk:{:?} client:{} quorum:{}\n",
                    v.number,
                    v.minor.unwrap(),
                    v.disk,
                    yn(v.client),
                    yn(st.quorum)
                );
            }
            for p in &st.peers {
                for v in &p.volumes {
                    out += &format!(
                        "exists peer-device name:{name} peer-node-id:{} conn-name:{} volume:{} replication:{} peer-disk:{:?} peer-client:{}\n",
                        p.node_id.unwrap(),
                        p.name,
                        v.number,
                        v.replication,
                        v.disk,
                        yn(v.client)
                    );
                }
            }
            out += "exists resource name:zz-other role:Primary\nexists device name:zz-other volume:0 minor:999999 disk:Failed quorum:no\n";
            out + "exists -\nchange resource name:r0 role:Unknown\n"
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text: every parser answers, nothing panics.
            #[test]
            fn any_text_parses(text in "(exists |resource |device |peer-device |connection |name:|r0 |minor:|volume:|disk:|role:|-|_|=|'|\\d|\n| |[ -~]){0,120}") {
                let st = parse_events2(&text, "r0");
                let _ = parse_events2(&text, "");
                let _ = parse_sh_status(&text);
                let _ = minors_by_resource(&text);
                let _ = version_code(&text);
                let _ = version_from_proc(&text);
                let _ = version_from_drbdadm(&text);
                // Only the resource asked for is ever described.
                if !text.contains("name:r0") {
                    prop_assert!(!st.configured);
                }
            }

            /// What DRBD 9 reports is what we read, and the minors found by
            /// name are the ones found for every resource.
            #[test]
            fn events2_round_trips(st in state(), name in "r[a-z0-9_]{0,8}") {
                let text = events2(&name, &st);
                let back = parse_events2(&text, &name);
                prop_assert_eq!(&back, &st);
                let mut minors: Vec<u32> = st.volumes.iter().filter_map(|v| v.minor).collect();
                minors.sort_unstable();
                let all = minors_by_resource(&text);
                prop_assert_eq!(all.iter().find(|(n, _)| *n == name).map(|(_, m)| m.clone()), Some(minors));
            }

            /// DRBD 8.4's sh-status blocks, one per volume, with one peer.
            #[test]
            fn sh_status_round_trips(
                role in role(),
                peer_role in role(),
                cstate in proptest::sample::select(&["Connected", "WFConnection", "StandAlone", "SyncSource"][..]),
                vols in proptest::collection::vec((0u32..1 << 20, disk(), disk()), 1..4),
            ) {
                let mut text = String::new();
                for (i, (minor, d, pd)) in vols.iter().enumerate() {
                    text += &format!(
                        "_minor={minor}\n_volume={i}\n_res_name=r0\n_known=Configured\n_cstate={cstate}\n_role={}\n_peer={}\n_disk={d}\n_pdsk='{pd}'\n_flags_susp=\n_sh_status_process\n",
                        word(role), word(peer_role)
                    );
                }
                let st = parse_sh_status(&text);
                prop_assert!(st.configured);
                prop_assert_eq!(st.role, role);
                prop_assert_eq!(st.volumes.len(), vols.len());
                prop_assert_eq!(st.peers.len(), 1);
                prop_assert_eq!(st.peers[0].role, peer_role);
                prop_assert_eq!(st.peers[0].connection.as_str(), cstate);
                for (v, (minor, d, pd)) in st.volumes.iter().zip(&vols) {
                    prop_assert_eq!(v.minor, Some(*minor));
                    prop_assert_eq!(&v.disk, &Disk::parse(d));
                    prop_assert_eq!(&st.peers[0].volumes[v.number as usize].disk, &Disk::parse(pd));
                }
            }

            #[test]
            fn versions_round_trip(a in 0u32..256, b in 0u32..256, c in 0u32..256) {
                let code = a << 16 | b << 8 | c;
                prop_assert_eq!(version_code(&format!("{a}.{b}.{c}")), Some(code));
                prop_assert_eq!(version_from_proc(&format!("version: {a}.{b}.{c} (api:2)\n")), Some(code));
                let adm = format!("DRBD_KERNEL_VERSION_CODE=0x{code:06x}\n");
                prop_assert_eq!(version_from_drbdadm(&adm), (code != 0).then_some(code));
            }
        }
    }
}
