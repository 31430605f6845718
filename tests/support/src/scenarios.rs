//! The end-to-end scenarios as data: the exact `pcs` commands of each one,
//! for either set of agents. The tests (tests/it/e2e_*.rs) run these commands,
//! and docs/cookbook.md is generated from the same table (tests/it/cookbook.rs
//! fails when it differs), so the cookbook cannot rot.
//!
//! Switching a scenario from the heartbeat agents to ours changes only
//! [`Agents`]: the resource type and the parameter names.

use super::{bin, provider, run_env};

/// Which agents a scenario runs with: ClusterLabs' shell agents or ours.
#[derive(Debug, Clone)]
pub struct Agents {
    /// "heartbeat" or "rust": the label in measurements and test names.
    pub label: &'static str,
    pub provider: String,
    ours: bool,
}

/// Addresses of the scenarios (TEST-NET-3, only inside the e2e namespaces).
pub const STACK_IP: &str = "203.0.113.100";
pub const SPLIT_IP: &str = "203.0.113.101";
/// Where the service stack's filesystem is mounted, and its database.
pub const STACK_DIR: &str = "/srv/e2e-pg";
pub const STACK_PGDATA: &str = "/srv/e2e-pg/pgdata";
pub const SPLIT_DIR: &str = "/srv/e2e-split";
pub const DRBD_IP: &str = "203.0.113.102";
pub const DRBD_DIR: &str = "/srv/e2e-drbd";
/// Debian 12's PostgreSQL.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The network interface of every node (a veth into the cluster's bridge).
pub const NIC: &str = "e2e0";

impl Agents {
    /// ocf:heartbeat:Filesystem, IPaddr2, pgsql, VirtualDomain.
    pub fn heartbeat() -> Agents {
        Agents {
            label: "heartbeat",
            provider: "heartbeat".into(),
            ours: false,
        }
    }

    /// Ours, under the test provider (`OCF_RS_TEST_PROVIDER`, default `rust`).
    pub fn rust() -> Agents {
        Agents::rust_as(&provider())
    }

    pub fn rust_as(provider: &str) -> Agents {
        Agents {
            label: "rust",
            provider: provider.into(),
            ours: true,
        }
    }

    fn kind(&self, ours: &str, theirs: &str) -> String {
        format!(
            "ocf:{}:{}",
            self.provider,
            if self.ours { ours } else { theirs }
        )
    }

    /// A filesystem on `device`, mounted at `directory`.
    pub fn filesystem(&self, device: &str, directory: &str) -> Vec<String> {
        vec![
            self.kind("filesystem", "Filesystem"),
            format!("device={device}"),
            format!("directory={directory}"),
            "fstype=ext4".into(),
        ]
    }

    /// A floating IPv4 address /24 on the nodes' interface.
    pub fn ipaddr(&self, ip: &str) -> Vec<String> {
        vec![
            self.kind("ipaddr", "IPaddr2"),
            format!("ip={ip}"),
            "cidr_netmask=24".into(),
            format!("nic={NIC}"),
        ]
    }

    /// PostgreSQL on `datadir`, port 5432, socket in /run/e2e-pg.
    pub fn database(&self, datadir: &str) -> Vec<String> {
        if self.ours {
            vec![
                self.kind("database", ""),
                "engine=postgresql".into(),
                format!("datadir={datadir}"),
                "user=postgres".into(),
                "port=5432".into(),
                "socketdir=/run/e2e-pg".into(),
            ]
        } else {
            vec![
                self.kind("", "pgsql"),
                format!("pgctl={PG_BIN}/pg_ctl"),
                format!("psql={PG_BIN}/psql"),
                format!("pgdata={datadir}"),
                "pgport=5432".into(),
                "socketdir=/run/e2e-pg".into(),
            ]
        }
    }

    /// A libvirt domain defined by `config`, live-migratable over TCP.
    pub fn vm(&self, config: &str) -> Vec<String> {
        vec![
            self.kind("vm", "VirtualDomain"),
            format!("config={config}"),
            "hypervisor=qemu:///system".into(),
            "migration_transport=tcp".into(),
        ]
    }

    /// A promotable DRBD resource `r0` (ours only: see [`drbd_stack`]).
    pub fn drbd(&self) -> Vec<String> {
        assert!(self.ours, "the DRBD scenario runs with our agent only");
        vec![
            self.kind("drbd", ""),
            "drbd_resource=r0".into(),
            "drbdconf={drbdconf}".into(),
            "drbdadm={drbdadm}".into(),
            "drbdsetup={drbdsetup}".into(),
        ]
    }

    /// Why this set cannot run a scenario that needs `agents` (our names):
    /// the first one this binary lacks (`ocf-rs list`). The heartbeat set
    /// always can (the test command installs resource-agents).
    pub fn missing(&self, agents: &[&str]) -> Option<String> {
        if !self.ours {
            return None;
        }
        let list = run_env(&bin(), &["list"], &[]).stdout;
        let built: Vec<&str> = list.lines().filter_map(|l| l.split('\t').next()).collect();
        agents
            .iter()
            .find(|a| !built.contains(a))
            .map(|a| format!("agent {a} not built into this binary"))
    }

    /// Make sure this set can run a scenario that needs `agents`, and install
    /// this build for the cluster when the set is ours. Every agent is built
    /// into the binary, so one missing is a defect, not a reason to skip.
    pub fn prepare(&self, scenario: &str, agents: &[&str]) {
        if let Some(why) = self.missing(agents) {
            panic!("{scenario} with {} agents: {why}", self.label);
        }
        if self.ours {
            super::system_install();
        }
    }
}

/// One command of a scenario: a note for the cookbook and pcs's arguments.
/// Arguments may hold `{name}` placeholders, filled in when run.
#[derive(Debug, Clone)]
pub struct Step {
    /// Which phase of the scenario it belongs to (the test runs by phase).
    pub phase: &'static str,
    pub note: &'static str,
    pub args: Vec<String>,
}

/// A scenario: its title, what it shows, and its pcs commands in order.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    pub about: &'static str,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The commands of `phase` with the placeholders filled in from `vars`.
    pub fn commands(&self, phase: &str, vars: &[(&str, &str)]) -> Vec<Vec<String>> {
        let steps: Vec<&Step> = self.steps.iter().filter(|s| s.phase == phase).collect();
        assert!(!steps.is_empty(), "{} has no phase {phase}", self.id);
        steps
            .iter()
            .map(|s| s.args.iter().map(|a| fill(a, vars)).collect())
            .collect()
    }
}

fn fill(arg: &str, vars: &[(&str, &str)]) -> String {
    let mut out = arg.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    assert!(
        !out.contains('{') || !out.contains('}'),
        "unfilled placeholder in {out}"
    );
    out
}

fn step(phase: &'static str, note: &'static str, args: &[&str]) -> Step {
    Step {
        phase,
        note,
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// `pcs resource create ID <agent and params> EXTRA...`
fn create(
    phase: &'static str,
    note: &'static str,
    id: &str,
    agent: Vec<String>,
    extra: &[&str],
) -> Step {
    let mut args: Vec<String> = vec!["resource".into(), "create".into(), id.into()];
    args.extend(agent);
    args.extend(extra.iter().map(|s| s.to_string()));
    Step { phase, note, args }
}

const DB_OPS: &[&str] = &[
    "op",
    "start",
    "timeout=60s",
    "op",
    "stop",
    "timeout=60s",
    "op",
    "monitor",
    "interval=10s",
    "timeout=30s",
];
const VM_OPS: &[&str] = &[
    "op",
    "start",
    "timeout=90s",
    "op",
    "stop",
    "timeout=90s",
    "op",
    "monitor",
    "interval=10s",
    "timeout=30s",
    "op",
    "migrate_to",
    "timeout=120s",
    "op",
    "migrate_from",
    "timeout=120s",
];
const FAST_OPS: &[&str] = &["op", "monitor", "interval=10s", "timeout=20s"];

fn concat(a: &[&'static str], b: &[&'static str]) -> Vec<&'static str> {
    a.iter().chain(b).copied().collect()
}

/// Scenario 1, the service stack: filesystem on the shared disk, then a
/// floating IP, then PostgreSQL, as one group (ordered and colocated).
pub fn service_stack(a: &Agents) -> Scenario {
    Scenario {
        id: "service-stack",
        title: "1. A database service: filesystem, floating IP, PostgreSQL",
        about: "Two nodes share a disk (`{disk}`: a SAN LUN, here a loop device; many two-node \
clusters replicate with DRBD instead, but this test machine's kernel has no DRBD module, so the \
scenarios use the shared disk; scenario 7 adds DRBD, against a simulator). One group keeps \
the three resources together and starts them in order: the filesystem, then the address, then \
the database. Clients connect to the floating IP only. Kill the active node and the group comes \
up on the survivor; put a node in standby to move the service on purpose.",
        steps: vec![
            step(
                "create",
                "keep resources where they run when a failed node comes back",
                &["resource", "defaults", "update", "resource-stickiness=100"],
            ),
            create(
                "create",
                "the shared filesystem (holds the database)",
                "stack-fs",
                a.filesystem("{disk}", STACK_DIR),
                &concat(FAST_OPS, &["--group", "stack"]),
            ),
            create(
                "create",
                "the floating IP the clients use",
                "stack-ip",
                a.ipaddr(STACK_IP),
                &concat(FAST_OPS, &["--group", "stack"]),
            ),
            create(
                "create",
                "PostgreSQL, its data on the shared filesystem",
                "stack-db",
                a.database(STACK_PGDATA),
                &concat(DB_OPS, &["--group", "stack"]),
            ),
            step(
                "standby",
                "planned switchover: move everything off the active node",
                &["node", "standby", "{node}"],
            ),
            step(
                "unstandby",
                "let the node run resources again (they stay where they are)",
                &["node", "unstandby", "{node}"],
            ),
        ],
    }
}

/// Scenario 6, split network: three nodes, the minority stops its resources.
pub fn split_network(a: &Agents) -> Scenario {
    Scenario {
        id: "split-network",
        title: "6. Split network: the minority stops its resources",
        about: "Three nodes; a filesystem on the shared disk and a floating IP in one group. \
When the network splits, the side without quorum (the single node) stops what it runs \
(`no-quorum-policy=stop`) and the majority starts it. Without fencing, Pacemaker cannot order \
the two: the majority may start the group before the minority has stopped it (the test samples \
every node and reports how long both ran; after the split and after the network heals, the \
group runs exactly once). With fencing (the last two commands; `fence_e2e` powers a node of this \
test cluster off; a real cluster uses fence_ipmilan, fence_sbd, ...) the majority powers the \
lost node off before it starts anything, and the test asserts that at no moment did two nodes \
run the group.",
        steps: vec![
            step(
                "create",
                "without quorum, stop everything (the default, made explicit)",
                &["property", "set", "no-quorum-policy=stop"],
            ),
            step(
                "create",
                "stay put when the partitioned node returns",
                &["resource", "defaults", "update", "resource-stickiness=100"],
            ),
            create(
                "create",
                "a filesystem on the shared disk: it must never be mounted twice",
                "split-fs",
                a.filesystem("{disk}", SPLIT_DIR),
                &concat(FAST_OPS, &["--group", "split"]),
            ),
            create(
                "create",
                "a floating IP: it must never answer from two nodes",
                "split-ip",
                a.ipaddr(SPLIT_IP),
                &concat(FAST_OPS, &["--group", "split"]),
            ),
            step(
                "fence",
                "fencing: a node the others lose is powered off before its resources start elsewhere",
                &[
                    "stonith",
                    "create",
                    "fence-e2e",
                    "fence_e2e",
                    "pcmk_host_list=node1 node2 node3",
                ],
            ),
            step(
                "fence",
                "and switch fencing on",
                &["property", "set", "stonith-enabled=true"],
            ),
        ],
    }
}

/// Scenario 2, a highly available VM: failover on node loss, live migration on move.
pub fn ha_vm(a: &Agents) -> Scenario {
    let mut vm = a.vm("{config}");
    vm.extend(VM_OPS.iter().map(|s| s.to_string()));
    vm.extend(["meta", "allow-migrate=true"].map(String::from));
    Scenario {
        id: "ha-vm",
        title: "2. A highly available virtual machine",
        about: "Two nodes, each with its own libvirtd; the guest's disk is the shared disk \
(`{disk}`, attached with `cache='none'` so that live migration is safe). With \
`allow-migrate=true`, `pcs resource move` live-migrates the guest: it keeps running (its uptime \
continues on the new node). When its node dies, the guest is started again on the survivor.",
        steps: vec![
            step(
                "create",
                "keep the guest where it runs",
                &["resource", "defaults", "update", "resource-stickiness=100"],
            ),
            create(
                "create",
                "the guest (its domain XML is at the same path on every node)",
                "vm1",
                vm,
                &[],
            ),
            step(
                "move",
                "live-migrate it to the other node (the constraint goes once it is there)",
                &["resource", "move", "vm1", "{target}"],
            ),
        ],
    }
}

/// Scenario 5, the N+1 farm: two active hosts and a spare, asymmetric cluster.
pub fn farm(a: &Agents) -> Scenario {
    let mut steps = vec![
        step(
            "create",
            "resources run only where a location constraint allows them",
            &["property", "set", "symmetric-cluster=false"],
        ),
        step(
            "create",
            "a running guest never moves back by itself",
            &[
                "resource",
                "defaults",
                "update",
                "resource-stickiness=INFINITY",
            ],
        ),
    ];
    for (id, home) in [
        ("farm1", "node1"),
        ("farm2", "node1"),
        ("farm3", "node2"),
        ("farm4", "node2"),
    ] {
        let mut agent = a.vm(&format!("{{config_{id}}}"));
        agent.extend(VM_OPS.iter().map(|s| s.to_string()));
        steps.push(create("create", "a guest", id, agent, &[]));
        steps.push(Step {
            phase: "create",
            note: "its home host first, the spare (node3) second",
            args: ["constraint", "location", id, "prefers"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("{home}=200"), "node3=100".into()])
                .collect(),
        });
    }
    Scenario {
        id: "farm",
        title: "5. An N+1 farm: two hosts and a spare",
        about: "Three nodes: node1 and node2 run the guests, node3 is the spare. The cluster is \
asymmetric (nothing runs anywhere unless allowed) and stickiness is INFINITY, so when a host \
dies its guests start on the spare, and stay there when the host returns.",
        steps,
    }
}

/// Scenario 3, live migration of a guest another one is ordered after.
pub fn ordered_migration(a: &Agents) -> Scenario {
    let mut steps = vec![step(
        "create",
        "keep guests where they run",
        &["resource", "defaults", "update", "resource-stickiness=100"],
    )];
    for (id, home) in [("vm1", "node1"), ("vm2", "node2")] {
        let mut agent = a.vm(&format!("{{config_{id}}}"));
        agent.extend(VM_OPS.iter().map(|s| s.to_string()));
        agent.extend(["meta", "allow-migrate=true"].map(String::from));
        steps.push(create("create", "a migratable guest", id, agent, &[]));
        steps.push(Step {
            phase: "create",
            note: "on its own node",
            args: ["constraint", "location", id, "prefers"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("{home}=50")])
                .collect(),
        });
    }
    steps.push(step(
        "create",
        "vm2 needs vm1 (mandatory order)",
        &[
            "constraint",
            "order",
            "start",
            "vm1",
            "then",
            "start",
            "vm2",
        ],
    ));
    steps.push(step(
        "move",
        "live-migrate vm1: vm2 must keep running untouched",
        &["resource", "move", "vm1", "node2"],
    ));
    Scenario {
        id: "ordered-migration",
        title: "3. Live migration of a guest that another one depends on",
        about: "vm1 and vm2 run on different nodes, vm2 is ordered after vm1. Migrating vm1 must \
not stop or restart vm2. Before the move, `crm_simulate` on a copy of the live CIB with the move \
applied shows the transition Pacemaker will run; after it, vm2's qemu process is the same one.",
        steps,
    }
}

/// Scenario 4, a guest shut down from inside (ours: `respect_guest_shutdown`).
pub fn guest_shutdown(a: &Agents) -> Scenario {
    let mut steps = Vec::new();
    for (id, respect) in [("vm-respect", "true"), ("vm-restart", "false")] {
        let mut agent = a.vm(&format!("{{config_{id}}}"));
        agent.push(format!("respect_guest_shutdown={respect}"));
        agent.extend(VM_OPS.iter().map(|s| s.to_string()));
        steps.push(create(
            "create",
            if respect == "true" {
                "a guest whose own shutdown the cluster respects"
            } else {
                "a guest the cluster restarts whatever happened to it"
            },
            id,
            agent,
            &[],
        ));
    }
    Scenario {
        id: "guest-shutdown",
        title: "4. A guest shut down from inside",
        about: "Only with our vm agent. When the guest powers itself off (here: it answers an ACPI \
power-button press by powering off), `respect_guest_shutdown=true` makes the cluster take that \
as the administrator's intent and leave the guest stopped; with `false` (the default, and what \
VirtualDomain does) the monitor reports a failure and the cluster starts it again.",
        steps,
    }
}

/// Scenario 7, the service stack on DRBD: a promotable clone, and a group
/// that runs where it is promoted. Ours only: Pacemaker runs agents with its
/// own PATH, and only our agent takes the simulator's tools as parameters.
pub fn drbd_stack(a: &Agents) -> Scenario {
    let mut drbd = a.drbd();
    drbd.extend(
        [
            "op",
            "monitor",
            "interval=10s",
            "role=Promoted",
            "timeout=20s",
            "op",
            "monitor",
            "interval=11s",
            "role=Unpromoted",
            "timeout=20s",
            "promotable",
            "notify=true",
        ]
        .map(String::from),
    );
    Scenario {
        id: "drbd-stack",
        title: "7. The stack on DRBD: a promotable clone and what runs on its Primary",
        about: "Only with our agents, and against the DRBD SIMULATOR (`tests/sim/drbd-simulator`): this machine's \
kernel has no DRBD module. Two nodes replicate `r0`; a group (filesystem, floating IP) runs \
where `r0` is promoted, started after the promotion. The group is created disabled and \
enabled once its constraints exist, so it never starts anywhere else. On a real DRBD node, \
leave out `drbdadm=`, `drbdsetup=` and `drbdconf=` (the defaults are the installed tools and \
/etc/drbd.conf) and put the filesystem on `/dev/drbd0`; here the simulator has no data path, \
so the filesystem is on the shared disk `{disk}`. Kill the Primary's node: the survivor is \
promoted and the group follows. The killed node comes back as a resync target with the \
lowest promotion score (it reaches good data only through its peer), so the Primary stays \
with the good data; the resync raises the score again. Standby moves everything on purpose.",
        steps: vec![
            step(
                "create",
                "keep resources where they run when a failed node comes back",
                &["resource", "defaults", "update", "resource-stickiness=100"],
            ),
            create(
                "create",
                "the replicated device, promoted on one node",
                "r0",
                drbd,
                &[],
            ),
            create(
                "create",
                "the filesystem on it (disabled until the constraints exist)",
                "drbd-fs",
                a.filesystem("{disk}", DRBD_DIR),
                &concat(FAST_OPS, &["--group", "drbd-stack", "--disabled"]),
            ),
            create(
                "create",
                "the floating IP of the service",
                "drbd-ip",
                a.ipaddr(DRBD_IP),
                &concat(FAST_OPS, &["--group", "drbd-stack", "--disabled"]),
            ),
            step(
                "create",
                "the group runs only where r0 is promoted",
                &[
                    "constraint",
                    "colocation",
                    "add",
                    "drbd-stack",
                    "with",
                    "Promoted",
                    "r0-clone",
                    "INFINITY",
                ],
            ),
            step(
                "create",
                "and starts after the promotion",
                &[
                    "constraint",
                    "order",
                    "promote",
                    "r0-clone",
                    "then",
                    "start",
                    "drbd-stack",
                ],
            ),
            step(
                "create",
                "now let the group start",
                &["resource", "enable", "drbd-fs", "drbd-ip"],
            ),
            step(
                "standby",
                "planned switchover: demote here, promote there, move the group",
                &["node", "standby", "{node}"],
            ),
            step(
                "unstandby",
                "let the node run resources again",
                &["node", "unstandby", "{node}"],
            ),
        ],
    }
}

/// Every scenario, in the cookbook's order.
pub fn all(a: &Agents) -> Vec<Scenario> {
    vec![
        service_stack(a),
        ha_vm(a),
        ordered_migration(a),
        guest_shutdown(a),
        farm(a),
        split_network(a),
    ]
}

/// The scenarios only our agents run (no heartbeat counterpart is tested).
pub fn ours_only(a: &Agents) -> Vec<Scenario> {
    vec![drbd_stack(a)]
}

/// A shell word: quoted only where the shell needs it.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:+,@%{}$".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The values the cookbook shows for the placeholders.
const COOKBOOK_VARS: &[(&str, &str)] = &[
    ("disk", "$DISK"),
    ("node", "node1"),
    ("target", "node2"),
    ("config", "/etc/e2e/vm1.xml"),
    ("config_vm1", "/etc/e2e/vm1.xml"),
    ("config_vm2", "/etc/e2e/vm2.xml"),
    ("config_farm1", "/etc/e2e/farm1.xml"),
    ("config_farm2", "/etc/e2e/farm2.xml"),
    ("config_farm3", "/etc/e2e/farm3.xml"),
    ("config_farm4", "/etc/e2e/farm4.xml"),
    ("config_vm-respect", "/etc/e2e/vm-respect.xml"),
    ("config_vm-restart", "/etc/e2e/vm-restart.xml"),
    ("drbdconf", "/var/tmp/e2e-drbd-sim/drbd.conf"),
    ("drbdadm", "/var/tmp/e2e-drbd-sim/by-hostname/bin/drbdadm"),
    (
        "drbdsetup",
        "/var/tmp/e2e-drbd-sim/by-hostname/bin/drbdsetup",
    ),
];

/// docs/cookbook.md, generated from the tables above.
pub fn cookbook() -> String {
    let ours = Agents::rust_as("rust");
    let theirs = Agents::heartbeat();
    let mut md = String::from(
        "# Cookbook: the end-to-end scenarios\n\n\
<!-- Generated from tests/support/src/scenarios.rs: edit that table, then run\n     \
E2E_BLESS=1 cargo test --test it cookbook. tests/it/cookbook.rs fails when this file differs. -->\n\n\
These are the exact `pcs` commands the end-to-end tests run (`tests/it/e2e_*.rs`, on the multi-node \
cluster of `tests/harness/ns-cluster.sh`), so every one of them is known to work with \
pcs 0.11 / Pacemaker 2.1. Run them on any one node of the cluster. `$DISK` is the shared \
block device; the nodes are `node1`, `node2` (and `node3`); the cluster network is \
203.0.113.0/24 and every node's interface is `e2e0`. Each scenario is shown with our agents \
and, for comparison, with the ClusterLabs agents they replace; the failover times of both are \
in [benchmarks.md](benchmarks.md).\n\n\
Scenarios 1, 2 and 7 run in `scripts/test.sh`; all of them run in `scripts/test-e2e.sh`.\n",
    );
    let theirs_all = all(&theirs);
    for (sc, hb) in all(&ours).iter().zip(theirs_all.iter()) {
        md.push_str(&format!(
            "\n## {}\n\n{}\n\n",
            sc.title,
            fill(sc.about, COOKBOOK_VARS)
        ));
        md.push_str(&render(sc));
        if sc.id != "guest-shutdown" {
            md.push_str("\nThe same with the heartbeat agents:\n\n");
            md.push_str(&render(hb));
        }
    }
    for sc in ours_only(&ours) {
        md.push_str(&format!(
            "\n## {}\n\n{}\n\n",
            sc.title,
            fill(sc.about, COOKBOOK_VARS)
        ));
        md.push_str(&render(&sc));
    }
    md
}

fn render(sc: &Scenario) -> String {
    let mut out = String::from("```sh\n");
    let mut phase = "";
    for s in &sc.steps {
        if s.phase != phase && !phase.is_empty() {
            out.push('\n');
        }
        phase = s.phase;
        out.push_str(&format!("# {}\n", s.note));
        let words: Vec<String> = s
            .args
            .iter()
            .map(|a| shell_word(&fill(a, COOKBOOK_VARS)))
            .collect();
        out.push_str(&format!("pcs {}\n", words.join(" ")));
    }
    out.push_str("```\n");
    out
}
