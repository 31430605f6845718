//! Truthful state in a real two-node Corosync + Pacemaker cluster
//! (tests/harness/ns-cluster.sh, a libvirtd per node): a QEMU (TCG) guest
//! and a filesystem on the shared disk run under our agents while an admin
//! does what admins do:
//!
//! 1. `pcs resource update` of the running VM to a value our agent refuses
//!    (`shutdown_mode=bogus`), then the fix and a cleanup;
//! 2. the same for the running filesystem (`signal_delay=120`: ours allows
//!    at most 60 s; heartbeat's Filesystem takes anything);
//! 3. the device link the filesystem is configured with (`/run/...`, which
//!    is per node here, as a udev link is per host) vanishes on the node that
//!    has it mounted.
//!
//! A sampler watches both nodes from the root namespaces the whole time (a
//! qemu process of the guest in the node's network namespace; the mount in
//! the node's mount table) and the test asserts that at no moment did two
//! nodes run the guest or mount the filesystem, and that each runs exactly
//! once at the end. Before the record-based stop and probe, the first two
//! steps answered "stopped" over a running resource and the third mounted the
//! filesystem on the second node while the first still had it.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::guest;
use support::nscluster::NsCluster;
use support::scenarios::Agents;
use support::wait_for;

const VM: &str = "vmt";
const FS: &str = "fst";
const DIR: &str = "/srv/e2e-truth";
/// The filesystem's device as configured: a per-node link to the shared disk.
const LINK: &str = "/run/e2e-truth-disk";

/// Where each resource runs, as the machine (not Pacemaker) sees it.
#[derive(Default)]
struct Seen {
    /// Most nodes that ran the guest / had the filesystem mounted at once.
    max_vm: usize,
    max_fs: usize,
    /// (seconds since start, nodes running the guest, nodes with the mount)
    changes: Vec<(f64, Vec<usize>, Vec<usize>)>,
}

/// The nodes whose network namespace holds a qemu process of guest `name`.
fn guest_nodes(pids: &[(usize, String)], name: &str) -> Vec<usize> {
    let want = format!("guest={name},");
    let nets: Vec<(usize, std::path::PathBuf)> = pids
        .iter()
        .filter_map(|(i, p)| Some((*i, fs::read_link(format!("/proc/{p}/ns/net")).ok()?)))
        .collect();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name();
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if !cmd.contains("qemu-system") || !cmd.contains(&want) {
            continue;
        }
        let Ok(net) = fs::read_link(format!("/proc/{}/ns/net", pid.to_string_lossy())) else {
            continue;
        };
        for (i, n) in &nets {
            if *n == net && !out.contains(i) {
                out.push(*i);
            }
        }
    }
    out.sort();
    out
}

/// The nodes whose mount table has something mounted on `dir`.
fn mount_nodes(pids: &[(usize, String)], dir: &str) -> Vec<usize> {
    pids.iter()
        .filter(|(_, p)| {
            fs::read_to_string(format!("/proc/{p}/mountinfo"))
                .is_ok_and(|t| t.lines().any(|l| l.split(' ').nth(4) == Some(dir)))
        })
        .map(|(i, _)| *i)
        .collect()
}

fn sample(c: &NsCluster) -> (Vec<usize>, Vec<usize>) {
    let pids: Vec<(usize, String)> = (1..=c.nodes)
        .filter_map(|i| c.try_pid(i).map(|p| (i, p)))
        .collect();
    (guest_nodes(&pids, VM), mount_nodes(&pids, DIR))
}

/// Wait until node 1 sees `id` not started anywhere (stopped or failed).
fn wait_not_started(c: &NsCluster, id: &str) {
    assert!(
        wait_for(Duration::from_secs(120), || c.resource(1, id).is_some_and(
            |r| r.role != "Started" || r.failed || r.node.is_none()
        )),
        "{id} still reported started:\n{}",
        c.crm_mon(1)
    );
}

fn pcs(c: &NsCluster, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    c.pcs(1, &args);
}

#[test]
fn refused_parameters_and_a_vanished_device_link_never_run_anything_twice() {
    let a = Agents::rust();
    a.prepare("truth", &["vm", "filesystem"]);
    guest::build_image();
    let c = Arc::new(NsCluster::up(2, true));
    c.harness(&["mkfs"]);
    let config = guest::domain(VM, None);
    let config = config.to_str().unwrap().to_string();
    for i in 1..=2 {
        let (code, out) = c.exec(i, &["ln", "-sfn", &c.disk, LINK]);
        assert_eq!(code, 0, "{out}");
    }
    let prov = &a.provider;
    pcs(
        &c,
        &["resource", "defaults", "update", "resource-stickiness=100"],
    );
    pcs(
        &c,
        &[
            "resource",
            "create",
            VM,
            &format!("ocf:{prov}:vm"),
            &format!("config={config}"),
            "hypervisor=qemu:///system",
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
        ],
    );
    pcs(
        &c,
        &[
            "resource",
            "create",
            FS,
            &format!("ocf:{prov}:filesystem"),
            &format!("device={LINK}"),
            &format!("directory={DIR}"),
            "fstype=ext4",
            "op",
            "monitor",
            "interval=5s",
            "timeout=20s",
        ],
    );

    // The sampler: both nodes, every 200 ms, until the end of the test.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (c, seen, done) = (Arc::clone(&c), Arc::clone(&seen), Arc::clone(&done));
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut last = (vec![], vec![]);
            while !done.load(Ordering::SeqCst) {
                let now = sample(&c);
                let mut s = seen.lock().unwrap();
                s.max_vm = s.max_vm.max(now.0.len());
                s.max_fs = s.max_fs.max(now.1.len());
                if now != last {
                    s.changes
                        .push((t0.elapsed().as_secs_f64(), now.0.clone(), now.1.clone()));
                    last = now;
                }
                drop(s);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let history = |seen: &Mutex<Seen>| {
        seen.lock()
            .unwrap()
            .changes
            .iter()
            .map(|(t, v, f)| format!("  {t:6.1}s  guest on {v:?}, mounted on {f:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };

    let vm_home = c
        .wait_started(1, VM, Duration::from_secs(180))
        .unwrap_or_else(|| panic!("{VM} did not start:\n{}", c.crm_mon(1)));
    let fs_home = c
        .wait_started(1, FS, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{FS} did not start:\n{}", c.crm_mon(1)));
    assert!(
        wait_for(Duration::from_secs(30), || sample(&c).0 == vec![vm_home]),
        "the guest runs on node{vm_home} only: {:?}",
        sample(&c)
    );

    // 1. The VM gets a value our agent refuses: whatever Pacemaker then does
    //    (restart: stop, start -> 6), the guest must not be left running
    //    while the cluster believes it stopped; the fix brings it back once.
    pcs(&c, &["resource", "update", VM, "shutdown_mode=bogus"]);
    wait_not_started(&c, VM);
    std::thread::sleep(Duration::from_secs(5));
    let (guests, _) = sample(&c);
    assert!(
        guests.is_empty(),
        "Pacemaker reports {VM} stopped, but the guest runs on {guests:?}:\n{}\n{}",
        c.crm_mon(1),
        history(&seen)
    );
    pcs(&c, &["resource", "update", VM, "shutdown_mode="]);
    pcs(&c, &["resource", "cleanup", VM]);
    let vm_home = c
        .wait_started(1, VM, Duration::from_secs(180))
        .unwrap_or_else(|| panic!("{VM} did not come back:\n{}", c.crm_mon(1)));

    // 2. The same for the filesystem.
    pcs(&c, &["resource", "update", FS, "signal_delay=120"]);
    wait_not_started(&c, FS);
    std::thread::sleep(Duration::from_secs(5));
    let (_, mounts) = sample(&c);
    assert!(
        mounts.is_empty(),
        "Pacemaker reports {FS} stopped, but {DIR} is mounted on {mounts:?}:\n{}\n{}",
        c.crm_mon(1),
        history(&seen)
    );
    pcs(&c, &["resource", "update", FS, "signal_delay="]);
    pcs(&c, &["resource", "cleanup", FS]);
    let fs_home = c
        .wait_started(1, FS, Duration::from_secs(60))
        .unwrap_or(fs_home);

    // 3. The configured device link vanishes where the filesystem is
    //    mounted (udev removed it): the monitors that follow must still see
    //    the mount as ours, so it is never mounted on the other node too.
    let (code, out) = c.exec(fs_home, &["rm", "-f", LINK]);
    assert_eq!(code, 0, "{out}");
    std::thread::sleep(Duration::from_secs(25));
    let (code, out) = c.exec(fs_home, &["ln", "-sfn", &c.disk, LINK]);
    assert_eq!(code, 0, "{out}");
    let _ = c.wait_started(1, FS, Duration::from_secs(60));

    // The end: each runs exactly once, and never ran twice.
    assert!(
        wait_for(Duration::from_secs(60), || {
            let (g, m) = sample(&c);
            g.len() == 1 && m.len() == 1
        }),
        "at the end the guest and the filesystem run once: {:?}\n{}",
        sample(&c),
        c.crm_mon(1)
    );
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let (max_vm, max_fs) = {
        let s = seen.lock().unwrap();
        (s.max_vm, s.max_fs)
    };
    let log = history(&seen);
    println!("guest first on node{vm_home}; what the sampler saw:\n{log}");
    assert!(
        max_vm <= 1,
        "the guest ran on two nodes at once:\n{log}\n{}",
        c.crm_mon(1)
    );
    assert!(
        max_fs <= 1,
        "{DIR} was mounted on two nodes at once:\n{log}\n{}",
        c.crm_mon(1)
    );
}
