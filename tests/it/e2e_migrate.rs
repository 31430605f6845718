//! Issue 17's end-to-end switch, on the two-node namespace cluster
//! (tests/harness/ns-cluster.sh): the cookbook's service stack (Filesystem,
//! IPaddr2, pgsql in a group) and a VM (VirtualDomain) run on the heartbeat
//! agents; `ocf-rs migrate` reports, `ocf-rs migrate --apply` switches all
//! four to ours while a client pings the floating IP every 150 ms. Nothing
//! restarted: the same postmaster, the same QEMU, every ping answered, no
//! failure. Then the node that runs the stack is killed and everything comes
//! up on the survivor under our agents.

use std::time::{Duration, Instant};

use support::guest;
use support::nscluster::NsCluster;
use support::scenarios::{Agents, STACK_DIR, STACK_IP, STACK_PGDATA, ha_vm, service_stack};
use support::{provider, system_install, wait_for};

const IDS: [(&str, &str); 4] = [
    ("stack-fs", "filesystem"),
    ("stack-ip", "ipaddr"),
    ("stack-db", "pgsql"),
    ("vm1", "vm"),
];

/// The agent node `i` sees `id` run under.
fn agent_of(c: &NsCluster, i: usize, id: &str) -> String {
    use ocf::xml;
    let (_, text) = c.exec(i, &["crm_mon", "-1", "--output-as=xml"]);
    let Ok(doc) = xml::parse(&text) else {
        return String::new();
    };
    xml::elements(&doc, "resource")
        .find(|n| n.attribute("id") == Some(id))
        .and_then(|n| n.attribute("resource_agent"))
        .unwrap_or_default()
        .to_string()
}

fn postmaster(c: &NsCluster, i: usize) -> String {
    let (code, out) = c.exec(
        i,
        &["head", "-n1", &format!("{STACK_PGDATA}/postmaster.pid")],
    );
    assert_eq!(code, 0, "{out}");
    out.trim().to_string()
}

fn qemu(c: &NsCluster, i: usize) -> String {
    let (code, out) = c.exec(i, &["pgrep", "-f", "guest=vm1"]);
    assert_eq!(code, 0, "no qemu for vm1 on node{i}: {out}");
    out.trim().to_string()
}

/// `ping` summary: (transmitted, received).
fn ping_summary(text: &str) -> (u32, u32) {
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in:\n{text}"));
    let nums: Vec<u32> = line
        .split([',', ' '])
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn heartbeat_stack_and_vm_switch_to_ours_without_a_restart() {
    let hb = Agents::heartbeat();
    hb.prepare("migrate", &[]);
    system_install();
    guest::build_image();
    let c = NsCluster::up(2, true);
    c.harness(&["prep-pg", STACK_DIR]);
    let disk = c.disk.clone();
    for cmd in service_stack(&hb).commands("create", &[("disk", &disk)]) {
        c.pcs(1, &cmd);
    }
    // The VM without a disk: the stack's filesystem has the shared one.
    let config = guest::domain("vm1", None);
    for cmd in ha_vm(&hb).commands("create", &[("config", config.to_str().unwrap())]) {
        c.pcs(1, &cmd);
    }
    let active = c
        .wait_started(1, "stack-db", Duration::from_secs(120))
        .unwrap_or_else(|| panic!("the stack did not start:\n{}", c.crm_mon(1)));
    let home = c
        .wait_started(1, "vm1", Duration::from_secs(120))
        .unwrap_or_else(|| panic!("vm1 did not start:\n{}", c.crm_mon(1)));
    assert!(
        wait_for(Duration::from_secs(60), || guest::console("vm1").ticks >= 3),
        "the guest did not boot: {:?}",
        guest::console("vm1")
    );
    println!("{}", c.crm_mon(active));
    let pm = postmaster(&c, active);
    let qm = qemu(&c, home);
    let boots = guest::console("vm1").boots;

    let bin = system_install();
    let bin = bin.to_str().unwrap();
    let p = provider();
    // The report, as an admin runs it on a node first (the default
    // provider: the report reads the CIB only).
    let (code, report) = c.exec(active, &[bin, "migrate"]);
    println!("ocf-rs migrate on node{active} (exit {code}):\n{report}");
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("Summary: 4 can switch, 0 need the admin"),
        "{report}"
    );

    // A client pings the floating IP every 150 ms through the switch.
    let ping = c.client_spawn(&["ping", "-n", "-i", "0.15", "-W", "1", STACK_IP]);
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    let (code, out) = c.exec(active, &[bin, "migrate", "--apply", "--provider", &p]);
    let took = t0.elapsed();
    println!(
        "ocf-rs migrate --apply on node{active} ({:.1} s, exit {code}):\n{out}",
        took.as_secs_f64()
    );
    assert_eq!(code, 0, "{out}\n{}", c.crm_mon(active));
    for (id, agent) in IDS {
        assert_eq!(agent_of(&c, active, id), format!("ocf:{p}:{agent}"), "{id}");
    }
    // Several monitors of ours later: nothing restarted, nothing failed.
    std::thread::sleep(Duration::from_secs(8));
    // SAFETY: kill(2) on the ping we started; it prints its summary on SIGINT.
    unsafe { libc::kill(ping.id() as i32, libc::SIGINT) };
    let out = ping.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (sent, got) = ping_summary(&text);
    println!("ping through the switch: {sent} sent, {got} answered");
    assert!(sent >= 40, "{text}");
    assert_eq!(
        sent, got,
        "the address went away during the switch:\n{text}"
    );
    assert_eq!(postmaster(&c, active), pm, "postgres restarted");
    assert_eq!(qemu(&c, home), qm, "the guest's QEMU restarted");
    println!("postmaster pid {pm} on node{active} and qemu pid {qm} on node{home}: unchanged");
    assert_eq!(guest::console("vm1").boots, boots, "the guest rebooted");
    let mon = c.crm_mon(active);
    println!("{mon}");
    for (id, _) in IDS {
        let r = c.resource(active, id).unwrap();
        assert!(r.role == "Started" && !r.failed, "{id}:\n{mon}");
    }
    assert!(!mon.contains("Failed Resource Actions"), "{mon}");

    // A failover afterwards, under our agents: kill the stack's node.
    let survivor = 3 - active;
    let ci = format!("host={STACK_IP} port=5432 user=postgres dbname=postgres connect_timeout=1");
    let t0 = Instant::now();
    c.kill(active);
    let (took, out) = c
        .first_client_success(
            &["psql", &ci, "-XAtc", "SELECT 1"],
            t0,
            Duration::from_secs(120),
        )
        .unwrap_or_else(|| panic!("no answer after the kill:\n{}", c.crm_mon(survivor)));
    assert_eq!(out.trim(), "1");
    println!(
        "kill-to-select1 after the switch: {:.1} s",
        took.as_secs_f64()
    );
    for (id, agent) in IDS {
        assert_eq!(
            c.wait_started(survivor, id, Duration::from_secs(180)),
            Some(survivor),
            "{id}:\n{}",
            c.crm_mon(survivor)
        );
        assert_eq!(
            agent_of(&c, survivor, id),
            format!("ocf:{p}:{agent}"),
            "{id}"
        );
    }
    println!("after killing node{active}:\n{}", c.crm_mon(survivor));

    // And back: node{active} returns, the survivor (now running the VM
    // too) is killed: the guest boots again under ours elsewhere.
    c.start(active);
    let boots = guest::console("vm1").boots;
    let t0 = Instant::now();
    c.kill(survivor);
    let here = format!("node{active}");
    for (id, agent) in IDS {
        // node{active} may still see the killed node's resources for a moment.
        assert!(
            wait_for(Duration::from_secs(180), || c
                .resource(active, id)
                .is_some_and(|r| r.role == "Started"
                    && !r.failed
                    && r.node.as_deref() == Some(here.as_str()))),
            "{id}:\n{}",
            c.crm_mon(active)
        );
        assert_eq!(agent_of(&c, active, id), format!("ocf:{p}:{agent}"), "{id}");
    }
    assert!(
        wait_for(Duration::from_secs(120), || guest::console("vm1").boots
            > boots),
        "the guest did not boot on node{active}: {:?}",
        guest::console("vm1")
    );
    println!(
        "after killing node{survivor} ({:.1} s to all started):\n{}",
        t0.elapsed().as_secs_f64(),
        c.crm_mon(active)
    );
    assert_eq!(psql_select1(&c), "1");
}

fn psql_select1(c: &NsCluster) -> String {
    let ci = format!("host={STACK_IP} port=5432 user=postgres dbname=postgres connect_timeout=2");
    let (code, out) = c.client(&["psql", &ci, "-XAtc", "SELECT 1"]);
    assert_eq!(code, 0, "{out}");
    out.trim().to_string()
}
