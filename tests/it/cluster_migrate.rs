//! `ocf-rs migrate` in a real one-node Corosync + Pacemaker cluster: a group
//! of heartbeat agents (IPaddr2 on a root-namespace veth, Filesystem on a
//! loop device, pgsql) runs; `migrate --cib` reports on the saved CIB;
//! `migrate --apply` towards agents that say "not running" rolls back with
//! nothing restarted; `migrate --apply` towards ours switches all three
//! in place: the postmaster PID and the mount are the same, the address
//! never left its interface, no start and no failure was recorded, and each
//! resource then monitors 0 under ocf:<provider>:*.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use support::cluster::Cluster;
use support::database as db;
use support::filesystem::{LoopDev, MountPoint};
use support::ipaddr::ip;
use support::{provider, sh, system_install, wait_for};

const NIC: &str = "mig-c0";
const PEER: &str = "mig-c0p";
const VIP: &str = "198.18.77.10";
const PACEMAKER_LOG: &str = "/var/log/pacemaker/pacemaker.log";

/// A veth in the root namespace (where the cluster runs) with its peer in
/// a namespace of its own; removed on drop.
struct Veth(String);

impl Veth {
    fn new() -> Veth {
        let ns = format!("mig-c-{}", std::process::id());
        let _ = sh("ip", &["link", "del", NIC]);
        ip(&["netns", "add", &ns]);
        ip(&[
            "link", "add", NIC, "type", "veth", "peer", "name", PEER, "netns", &ns,
        ]);
        ip(&["link", "set", NIC, "up"]);
        ip(&["-n", &ns, "link", "set", PEER, "up"]);
        ip(&["-n", &ns, "addr", "add", "198.18.77.2/24", "dev", PEER]);
        Veth(ns)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = sh("ip", &["link", "del", NIC]);
        let _ = sh("ip", &["netns", "del", &self.0]);
    }
}

fn vip_present() -> bool {
    sh("ip", &["-o", "-4", "addr", "show", "dev", NIC])
        .1
        .contains(&format!("inet {VIP}/"))
}

/// The mount ID of what is mounted on `dir` (changes with every mount).
fn mount_id(dir: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&dir.to_str()?)).then(|| f[0].to_string())
    })
}

/// Watches the address every 100 ms in a thread; counts the misses.
struct Watch {
    stop: Arc<AtomicBool>,
    misses: Arc<AtomicU32>,
    looks: Arc<AtomicU32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start() -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let misses = Arc::new(AtomicU32::new(0));
        let looks = Arc::new(AtomicU32::new(0));
        let (s, m, l) = (stop.clone(), misses.clone(), looks.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if !vip_present() {
                    m.fetch_add(1, Ordering::SeqCst);
                }
                l.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Watch {
            stop,
            misses,
            looks,
            thread: Some(thread),
        }
    }
    /// (misses, looks)
    fn finish(mut self) -> (u32, u32) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        (
            self.misses.load(Ordering::SeqCst),
            self.looks.load(Ordering::SeqCst),
        )
    }
}

/// Pacemaker's "Result of start operation for mig-..." lines after `from`.
fn starts_since(from: u64) -> Vec<String> {
    let text = std::fs::read(PACEMAKER_LOG).unwrap_or_default();
    let tail = text.get(from as usize..).unwrap_or_default();
    String::from_utf8_lossy(tail)
        .lines()
        .filter(|l| l.contains("Result of start operation for mig-"))
        .map(str::to_string)
        .collect()
}

fn log_size() -> u64 {
    std::fs::metadata(PACEMAKER_LOG)
        .map(|m| m.len())
        .unwrap_or(0)
}

fn migrate(args: &[&str]) -> (i32, String) {
    let bin = system_install();
    let mut all = vec!["migrate", "--provider"];
    let p = provider();
    all.push(&p);
    all.extend(args);
    sh(bin.to_str().unwrap(), &all)
}

/// The agent each resource runs under, and the rc of its last recurring
/// monitor, from crm_mon's XML.
fn agent_and_monitor(id: &str) -> (String, Option<String>) {
    use ocf::xml;
    let text = sh("crm_mon", &["-1", "--output-as=xml", "--include=all"]).1;
    let doc = xml::parse(&text).unwrap();
    let agent = xml::elements(&doc, "resource")
        .find(|n| n.attribute("id") == Some(id))
        .and_then(|n| n.attribute("resource_agent"))
        .unwrap_or_default()
        .to_string();
    let rc = xml::elements(&doc, "resource_history")
        .find(|n| n.attribute("id") == Some(id))
        .and_then(|h| {
            xml::children(h, "operation_history")
                .filter(|o| {
                    o.attribute("task") == Some("monitor") && o.attribute("interval") != Some("0ms")
                })
                .last()
                .and_then(|o| o.attribute("rc").map(str::to_string))
        });
    (agent, rc)
}

/// A provider whose agents are the heartbeat Dummy: meta-data works, a
/// probe answers 7. `--apply` towards it must fail its check and roll back.
struct DummyProvider(String);

impl DummyProvider {
    fn new() -> DummyProvider {
        let name = format!("{}bad", provider());
        let dir = format!("/usr/lib/ocf/resource.d/{name}");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for a in ["ipaddr", "filesystem", "pgsql"] {
            std::os::unix::fs::symlink("../heartbeat/Dummy", format!("{dir}/{a}")).unwrap();
        }
        DummyProvider(name)
    }
}

impl Drop for DummyProvider {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/usr/lib/ocf/resource.d/{}", self.0));
    }
}

#[test]
fn a_heartbeat_group_switches_in_place_and_a_failed_switch_rolls_back() {
    system_install();
    let _veth = Veth::new();
    let lo = LoopDev::new("i17mig", "ext4", 64, None);
    let mp = MountPoint::new("i17mig");
    let pg = db::Pg::init("i17mig-pg", 56177);
    let c = Cluster::up();
    let bin = db::pg_bin();
    let create = |id: &str, agent: &str, params: &[String]| {
        let mut args = vec!["resource", "create", id, agent];
        args.extend(params.iter().map(String::as_str));
        args.extend([
            "op",
            "monitor",
            "interval=3s",
            "timeout=20s",
            "--group",
            "mig-g",
        ]);
        c.pcs(&args);
    };
    create(
        "mig-vip",
        "ocf:heartbeat:IPaddr2",
        &[
            format!("ip={VIP}"),
            "cidr_netmask=24".into(),
            format!("nic={NIC}"),
        ],
    );
    create(
        "mig-fs",
        "ocf:heartbeat:Filesystem",
        &[
            format!("device={}", lo.dev),
            format!("directory={}", mp.s()),
            "fstype=ext4".into(),
        ],
    );
    create(
        "mig-db",
        "ocf:heartbeat:pgsql",
        &[
            format!("pgctl={}", bin.join("pg_ctl").display()),
            format!("psql={}", bin.join("psql").display()),
            format!("pgdata={}", pg.data.display()),
            format!("pgport={}", pg.port),
            format!("socketdir={}", pg.sock.display()),
        ],
    );
    for id in ["mig-vip", "mig-fs", "mig-db"] {
        assert!(
            c.wait_role(id, "Started", Duration::from_secs(90)),
            "{}",
            c.crm_mon()
        );
    }
    let postmaster = pg.postmaster_pid().unwrap();
    let mount = mount_id(&mp.0).unwrap();
    assert!(vip_present());

    // The report on a saved CIB: all three switch; psql is noted.
    let saved = pg.dir.path("cib.xml");
    let (code, cib) = sh("cibadmin", &["--query"]);
    assert_eq!(code, 0, "{cib}");
    std::fs::write(&saved, &cib).unwrap();
    let (code, out) = migrate(&["--cib", saved.to_str().unwrap()]);
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    let p = provider();
    for line in [
        format!("mig-vip: ocf:heartbeat:IPaddr2 -> ocf:{p}:ipaddr, in group mig-g"),
        format!("mig-fs: ocf:heartbeat:Filesystem -> ocf:{p}:filesystem, in group mig-g"),
        format!("mig-db: ocf:heartbeat:pgsql -> ocf:{p}:pgsql, in group mig-g"),
        "note: psql: accepted, ignored".into(),
        "Summary: 3 can switch, 0 need the admin".into(),
    ] {
        assert!(out.contains(&line), "no {line:?} in:\n{out}");
    }
    // A refused value in the same CIB: exit 1, named.
    let bad = cib.replace(
        "name=\"pgport\"",
        "name=\"rep_mode\" value=\"sync\"/><nvpair id=\"x-pgport\" name=\"pgport\"",
    );
    std::fs::write(&saved, &bad).unwrap();
    let (code, out) = migrate(&["--cib", saved.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rep_mode=sync: replication is not supported yet"),
        "{out}"
    );

    // Towards agents that answer "not running": the check fails, the CIB
    // is put back, nothing restarted.
    let from = log_size();
    let dummy = DummyProvider::new();
    let watch = Watch::start();
    let (code, out) = sh(
        system_install().to_str().unwrap(),
        &[
            "migrate",
            "--apply",
            "--provider",
            &dummy.0,
            "--verify-timeout",
            "15",
        ],
    );
    println!("{out}");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Rolled back"), "{out}");
    // The reason is the state the new agents reported, not a cut-off tool.
    assert!(out.contains("not as before in time: mig-"), "{out}");
    for id in ["mig-vip", "mig-fs", "mig-db"] {
        assert!(
            wait_for(Duration::from_secs(30), || {
                let r = c.resource(id).unwrap_or_default();
                r.role == "Started" && !r.failed && agent_and_monitor(id).1.as_deref() == Some("0")
            }),
            "{id}:\n{}",
            c.crm_mon()
        );
        assert!(
            agent_and_monitor(id).0.starts_with("ocf:heartbeat:"),
            "{id}"
        );
    }
    drop(dummy);

    // Towards ours: switched in place.
    let (code, out) = migrate(&["--apply"]);
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    for (id, agent) in [
        ("mig-vip", "ipaddr"),
        ("mig-fs", "filesystem"),
        ("mig-db", "pgsql"),
    ] {
        let want = format!("ocf:{p}:{agent}");
        assert!(
            wait_for(Duration::from_secs(30), || agent_and_monitor(id)
                == (want.clone(), Some("0".to_string()))),
            "{id} does not monitor 0 under {want}: {:?}\n{}",
            agent_and_monitor(id),
            c.crm_mon()
        );
        let r = c.resource(id).unwrap();
        assert!(
            r.role == "Started" && !r.failed && c.fail_count(id) == 0,
            "{}",
            c.crm_mon()
        );
    }
    // A few monitors later, still the same server, mount and address.
    std::thread::sleep(Duration::from_secs(7));
    let (misses, looks) = watch.finish();
    assert_eq!(
        misses, 0,
        "the address was missing {misses} of {looks} looks"
    );
    assert!(looks > 50, "{looks}");
    assert_eq!(pg.postmaster_pid(), Some(postmaster), "postgres restarted");
    assert_eq!(mount_id(&mp.0), Some(mount), "remounted");
    pg.psql("SELECT 1").unwrap();
    let starts = starts_since(from);
    assert!(starts.is_empty(), "starts recorded: {starts:#?}");
    for id in ["mig-vip", "mig-fs", "mig-db"] {
        assert_eq!(c.fail_count(id), 0, "{}", c.crm_mon());
        let (_, rc) = agent_and_monitor(id);
        assert_eq!(rc.as_deref(), Some("0"));
    }
    // Nothing left to do: a second run says so (exit 0).
    let (code, out) = migrate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Summary: 0 can switch, 0 need the admin, 3 already"),
        "{out}"
    );

    // Ours stops them for real.
    c.pcs(&["resource", "disable", "mig-g"]);
    assert!(
        c.wait_role("mig-vip", "Stopped", Duration::from_secs(90)),
        "{}",
        c.crm_mon()
    );
    assert!(pg.processes().is_empty(), "stop left server processes");
    assert!(!vip_present());
    assert!(mount_id(&mp.0).is_none());
    c.pcs(&["resource", "delete", "mig-g"]);
}
