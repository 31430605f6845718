//! ocf:rust:drbd against ocf:linbit:drbd, both on the DRBD SIMULATOR
//! (tests/sim/drbd-simulator): there is no DRBD kernel module on these
//! machines. Each side gets a fresh simulated cluster (node1 acts, node2 is
//! its configured peer), the node's simulated drbdadm, drbdsetup,
//! crm_attribute and crm_resource first on PATH, and no /usr/sbin (so a tool
//! removed from the node's bin/ is missing, not found in drbd-utils' copy).
//!
//! What had to be faked for linbit's agent: it tests `-f /proc/drbd`, which
//! the simulator cannot create, so it runs as a copy (with its
//! drbd.shellfuncs.sh) whose one line `test -f /proc/drbd` reads
//! `test -f "${DRBD_SIM_PROC_DRBD:-/proc/drbd}"`, as bench/drbd.sh does; and
//! ocf-shellfuncs appends /sbin and /usr/sbin to PATH, where drbd-utils'
//! real drbdadm and drbdsetup would stand in for a simulated tool a case
//! removed, so it reads a copy of ocf-shellfuncs (`OCF_FUNCTIONS_DIR`)
//! whose PATH line appends /bin and /usr/bin only. Ours reads the simulated
//! /proc/drbd through its `OCF_RS_DRBD_PROC` hook, and /sys/block through
//! `OCF_RS_DRBD_SYS_BLOCK`.

use std::path::{Path, PathBuf};

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;

use support::drbd as drbd_sim;

use drbd_sim::Sim;

const LINBIT: &str = "/usr/lib/ocf/resource.d/linbit";
/// The copy's directory: `Scratch::new(COPY)` of this test process.
const COPY: &str = "linbit-drbd";

/// The patched copy of linbit's agent (the runner takes an absolute anchor
/// path as it is): one per test process, made by the anchor side's fixture
/// and removed with it.
fn linbit_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir()
            .join(format!("ocf-rs-test-{COPY}-{}", std::process::id()))
            .join("drbd")
            .display()
            .to_string()
    })
}

fn agents() -> (&'static str, &'static str) {
    (linbit_path(), "rust/drbd")
}

/// Make the copy of linbit's agent whose /proc/drbd test reads the
/// simulated file, with the ocf-shellfuncs it reads (`lib/`).
fn linbit_copy() -> support::Scratch {
    let scratch = support::Scratch::new(COPY);
    assert_eq!(Path::new(linbit_path()).parent(), Some(scratch.0.as_path()));
    let dir = scratch.0.clone();
    let put = |name: &str, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.join(name), text).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let agent = std::fs::read_to_string(format!("{LINBIT}/drbd")).unwrap();
    let from = "test -f /proc/drbd";
    assert_eq!(agent.matches(from).count(), 1, "linbit's agent changed");
    put(
        "drbd",
        &agent.replace(from, r#"test -f "${DRBD_SIM_PROC_DRBD:-/proc/drbd}""#),
    );
    let funcs = std::fs::read_to_string(format!("{LINBIT}/drbd.shellfuncs.sh")).unwrap();
    put("drbd.shellfuncs.sh", &funcs);
    // ocf-shellfuncs, with ocf-binaries' PATH no longer extended by /sbin
    // and /usr/sbin: there drbd-utils' real drbdadm and drbdsetup would
    // stand in for a simulated tool the case removed.
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for name in [
        "ocf-shellfuncs",
        "ocf-binaries",
        "ocf-returncodes",
        "ocf-directories",
        "ocf-rarun",
        "ocf-distro",
    ] {
        let mut text =
            std::fs::read_to_string(format!("/usr/lib/ocf/lib/heartbeat/{name}")).unwrap();
        if name == "ocf-binaries" {
            let from = "PATH=\"$PATH:/sbin:/bin:/usr/sbin:/usr/bin\"";
            assert_eq!(text.matches(from).count(), 1, "ocf-binaries changed");
            text = text.replace(from, "PATH=\"$PATH:/bin:/usr/bin\"");
        }
        std::fs::write(lib.join(name), text).unwrap();
    }
    scratch
}

pub struct Drbd {
    sim: Sim,
    /// linbit's patched copy, on the anchor side.
    _linbit: Option<support::Scratch>,
}

impl Drbd {
    fn node(&self) -> PathBuf {
        self.sim.node("node1")
    }

    /// Run one of node `n`'s simulated tools by hand (the admin, not the agent).
    fn tool(&self, n: &str, tool: &str, args: &[&str]) {
        let program = self.sim.bin(n).join(tool);
        let (code, out) = support::sh(program.to_str().unwrap(), args);
        assert_eq!(code, 0, "{tool} {args:?}: {out}");
    }

    fn set(&self, kv: &[&str]) {
        self.sim.set("node1", kv);
    }

    /// Is a resource holding minor 0 (r0, under whatever name) up?
    fn minor0_up(&self) -> bool {
        self.node().join("sys-block/drbd0").exists()
    }
}

impl Fixture for Drbd {
    fn params(&self) -> Vec<(String, String)> {
        vec![
            ("drbd_resource".into(), "r0".into()),
            ("drbdconf".into(), self.sim.conf.display().to_string()),
            ("wfc_timeout".into(), "1".into()),
        ]
    }

    fn env(&self) -> Vec<(String, String)> {
        let node = self.node();
        let proc_file = node.join("proc-drbd").display().to_string();
        [
            (
                "PATH",
                format!("{}:/usr/bin:/bin", self.sim.bin("node1").display()),
            ),
            ("DRBD_SIM_PROC_DRBD", proc_file.clone()),
            ("OCF_RS_DRBD_PROC", proc_file),
            (
                "OCF_RS_DRBD_SYS_BLOCK",
                node.join("sys-block").display().to_string(),
            ),
            ("OCF_RESKEY_CRM_meta_on_node", "node1".into()),
            ("OCF_RESKEY_CRM_meta_notify", "true".into()),
            ("OCF_RESKEY_CRM_meta_clone_max", "2".into()),
            ("OCF_RESKEY_CRM_meta_promoted_max", "1".into()),
            ("OCF_RESKEY_crm_feature_set", "3.16.2".into()),
            (
                "OCF_FUNCTIONS_DIR",
                Path::new(linbit_path())
                    .with_file_name("lib")
                    .display()
                    .to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .to_vec()
    }

    /// Each DRBD resource of node1 (up or down, role, disks, on-disk data)
    /// and its node attributes (the promotion score), as the simulator keeps
    /// them.
    fn observe(&self) -> Vec<String> {
        let node = self.node();
        let sim = drbd_sim::simulator();
        let (code, out) = support::sh(sim.to_str().unwrap(), &["summary", node.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        out.lines().map(str::to_string).collect()
    }

    fn running(&self) -> bool {
        self.minor0_up()
    }
}

fn make_with(side: Side, extra: &[&str]) -> Drbd {
    let linbit = (side == Side::Anchor).then(linbit_copy);
    let sim = Sim::new(
        &format!("conf-{}", side.label()),
        &["node1", "node2"],
        extra,
    );
    Drbd {
        sim,
        _linbit: linbit,
    }
}

fn make(side: Side) -> Drbd {
    make_with(side, &[])
}

/// Two resources: r0 (the case's) and r1 (another one of the node).
fn make_two(side: Side) -> Drbd {
    make_with(side, &["--resource", "r0,r1"])
}

fn break_conf(d: &mut Drbd) {
    std::fs::write(&d.sim.conf, "resource r0 {\n  on node1 {\n").unwrap();
}

fn conf_without_r0(d: &mut Drbd) {
    std::fs::write(&d.sim.conf, "# r0 was removed\nresource r1 { }\n").unwrap();
}

fn remove_tool(d: &Drbd, tool: &str) {
    std::fs::remove_file(d.sim.bin("node1").join(tool)).unwrap();
}

fn restore_tool(d: &Drbd, tool: &str) {
    std::os::unix::fs::symlink(
        d.sim.dir.path("drbd-simulator"),
        d.sim.bin("node1").join(tool),
    )
    .unwrap();
}

fn lifecycle() -> Case<Drbd> {
    Case::new(
        "drbd/lifecycle",
        "probe, start, monitor, probe, stop, stop again, probe (peer not running)",
        agents(),
        make,
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

fn promote_demote() -> Case<Drbd> {
    Case::new(
        "drbd/promote-demote",
        "start, promote, monitor and probe as Primary, demote, stop",
        agents(),
        make,
        vec![
            run("start"),
            run("promote"),
            run("monitor"),
            probe(),
            run("demote"),
            run("monitor"),
            run("stop"),
        ],
    )
    .deviation(
        "after a demote ours sets the score the Secondary now has (1000: peer unknown); \
         linbit's leaves the Primary's 10000 until the next monitor",
        &[0, 0, 8, 8, 0, 0, 0],
    )
}

/// drbd.conf gets a syntax error while r0 runs: drbdadm fails on every
/// command. linbit's validation fails too: a probe says 7 and the recurring
/// monitor 5 while r0 runs; its stop falls back to `drbdsetup down`. Ours
/// reads the kernel (no configuration needed) and stops with drbdsetup when
/// drbdadm fails (issue 13: it retried drbdadm until the timeout, then 1).
fn conf_syntax_error() -> Case<Drbd> {
    Case::new(
        "drbd/conf-syntax-error",
        "drbd.conf gets a syntax error while running: probe, monitor, stop, probe",
        agents(),
        make,
        vec![
            run("start"),
            Step::Do("a syntax error in drbd.conf", break_conf),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "linbit's validation runs `drbdadm sh-dev`, which fails, before every action: its probe \
         answers 7 and its monitor 5 while r0 runs, and its stop (a `drbdsetup down` fallback) \
         leaves the promotion score behind; ours reads the kernel's state, which needs no \
         configuration (probe and monitor 0), and its stop falls back to drbdsetup too and \
         removes the score",
        &[0, 0, 0, 0, 0, 7],
    )
}

/// r0 is removed from drbd.conf while it runs as Primary.
fn resource_removed_from_conf() -> Case<Drbd> {
    Case::new(
        "drbd/resource-removed-from-conf",
        "r0 removed from drbd.conf while Primary: probe, stop, probe",
        agents(),
        make,
        vec![
            run("start"),
            run("promote"),
            Step::Do("drbd.conf declares only r1", conf_without_r0),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "linbit's probe answers 7 for a resource missing from drbd.conf even while it runs \
         Primary, and its stop (`drbdsetup down`) leaves the score; ours probes the kernel (8) \
         and stops with drbdsetup secondary and down when drbdadm refuses, removing the score",
        &[0, 0, 0, 8, 0, 7],
    )
}

/// drbd_resource=all: linbit accepts it (and `drbdadm down all` takes down
/// every resource of the node); ours refuses it and stops what it started.
fn resource_all() -> Case<Drbd> {
    Case::new(
        "drbd/resource-all",
        "r1 up by hand, r0 started; drbd_resource changed to `all`: validate, probe, stop, probe",
        agents(),
        make_two,
        vec![
            Step::Do("r1, another resource, up by hand", |d| {
                let conf = d.sim.conf.display().to_string();
                d.tool("node1", "drbdadm", &["-c", &conf, "up", "r1"]);
            }),
            run("start"),
            run_with("validate-all", &[("drbd_resource", "all")]),
            run_with("probe", &[("drbd_resource", "all")]),
            run_with("stop", &[("drbd_resource", "all")]),
            run_with("probe", &[("drbd_resource", "all")]),
        ],
    )
    .deviation(
        "linbit accepts drbd_resource=all: its probe answers 7 while r0 runs and its stop runs \
         `drbdadm down all`, taking down r1 too; ours refuses `all` (6), probes r0 from what \
         start recorded (0) and stops only r0",
        &[0, 0, 6, 0, 0, 7],
    )
}

/// An upgrade removed drbdadm while r0 runs.
fn drbdadm_missing() -> Case<Drbd> {
    Case::new(
        "drbd/drbdadm-missing",
        "drbdadm removed while running: probe, stop, probe",
        agents(),
        make,
        vec![
            run("start"),
            Step::Do("remove drbdadm", |d| remove_tool(d, "drbdadm")),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "linbit's check_binary exits 5 on every action, stop included (no fallback: the node \
         is fenced), while r0 runs; ours probes with drbdsetup (0) and stops with it (0)",
        &[0, 0, 0, 0, 7],
    )
}

/// An upgrade removed drbdsetup: nothing can see or stop r0.
fn drbdsetup_missing() -> Case<Drbd> {
    Case::new(
        "drbd/drbdsetup-missing",
        "drbdsetup removed while running (probe, stop), put back (stop), removed while stopped \
         (probe, stop)",
        agents(),
        make,
        vec![
            run("start"),
            Step::Do("remove drbdsetup", |d| remove_tool(d, "drbdsetup")),
            probe(),
            run("stop"),
            Step::Do("put drbdsetup back", |d| restore_tool(d, "drbdsetup")),
            run("stop"),
            Step::Do("remove drbdsetup", |d| remove_tool(d, "drbdsetup")),
            probe(),
            run("stop"),
        ],
    )
    .deviation(
        "linbit's check_binary answers 5 (\"not installed\": Pacemaker takes a probe's 5 for \
         stopped) whether r0 runs or not; ours answers 1 while /sys/block shows r0's minor \
         (it cannot be seen or stopped), and 7 / 0 once no minor of it exists",
        &[0, 0, 1, 1, 0, 0, 0, 7, 0],
    )
}

/// DRBD quorum is lost on the Primary: linbit answers 8 and removes the
/// score (issue 13: ours answered 9).
fn primary_quorum_lost() -> Case<Drbd> {
    Case::new(
        "drbd/primary-quorum-lost",
        "Primary loses quorum: monitor, probe, demote, stop",
        agents(),
        make,
        vec![
            run("start"),
            run("promote"),
            Step::Do("quorum lost", |d| d.set(&["quorum=no"])),
            run("monitor"),
            probe(),
            run("demote"),
            run("stop"),
        ],
    )
}

/// The Primary's disk fails with no peer to read from.
fn primary_without_good_data() -> Case<Drbd> {
    Case::new(
        "drbd/primary-without-good-data",
        "the Primary's disk fails, no peer: monitor, then stop",
        agents(),
        make,
        vec![
            run("start"),
            run("promote"),
            Step::Do("the disk fails", |d| d.set(&["disk_override=Failed"])),
            run("monitor"),
            Step::Do("the disk is back", |d| d.set(&["disk_override=none"])),
            run("stop"),
        ],
    )
    .deviation(
        "a Primary without access to UpToDate data (local disk Failed, no UpToDate peer) \
         serves I/O errors: ours reports it as a failed promoted instance (9) so Pacemaker \
         recovers it; linbit's reports 8 (both remove the score)",
        &[0, 0, 0, 9, 0, 0],
    )
}

/// The backing device cannot be opened: DRBD 9's `adjust --skip-net`
/// creates the resource and fails to attach (issue 13: ours answered 0 with
/// a Diskless disk).
fn start_attach_fails() -> Case<Drbd> {
    Case::new(
        "drbd/start-attach-fails",
        "the disk cannot be attached: start, probe, stop, probe",
        agents(),
        make,
        vec![
            Step::Do("the backing device cannot be opened", |d| {
                d.set(&["attach_error=yes"])
            }),
            run("start"),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

/// stop_outdates_secondary: node2 is Primary (Pacemaker's list says so),
/// the replication link is down so DRBD cannot tell. Pacemaker passes the
/// notify lists to the stop, but no notify_type (issue 13: ours needed it).
fn stop_outdates_secondary() -> Case<Drbd> {
    let lists = |stop: &'static str| -> Step<Drbd> {
        run_env_params(
            "stop",
            &[("stop_outdates_secondary", "true")],
            &[
                ("OCF_RESKEY_CRM_meta_notify_master_uname", "node2"),
                ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "node2"),
                ("OCF_RESKEY_CRM_meta_notify_slave_uname", "node1"),
                ("OCF_RESKEY_CRM_meta_notify_unpromoted_uname", "node1"),
                ("OCF_RESKEY_CRM_meta_notify_stop_uname", stop),
            ],
        )
    };
    Case::new(
        "drbd/stop-outdates-secondary",
        "node2 Primary, link cut: stop with node2 also stopping (no outdate), then alone (outdate)",
        agents(),
        make,
        vec![
            Step::Do("node2 up and Primary, the link cut", |d| {
                let cluster = d.sim.dir.0.display().to_string();
                d.sim.ctl(&["cut", &cluster]);
                d.tool("node2", "drbdadm", &["up", "r0"]);
                d.tool("node2", "drbdadm", &["primary", "r0"]);
            }),
            run("start"),
            lists("node1 node2"),
            run("start"),
            lists("node1"),
            probe(),
        ],
    )
}

/// drbd_resource changed to another valid resource while r0 runs.
fn parameter_changed() -> Case<Drbd> {
    Case::new(
        "drbd/resource-parameter-changed",
        "r0 runs, drbd_resource changed to r1: probe, monitor, stop, then a probe of r0",
        agents(),
        make_two,
        vec![
            run("start"),
            run_with("probe", &[("drbd_resource", "r1")]),
            run_with("stop", &[("drbd_resource", "r1")]),
            probe(),
        ],
    )
    .deviation(
        "linbit looks at r1 only: its probe answers 7 and its stop 0 while r0 keeps running \
         (its last probe of r0 answers 0); ours probes and stops r0 too, from what start \
         recorded",
        &[0, 0, 0, 7],
    )
}

/// The resource is renamed in the kernel (`drbdsetup rename-resource`)
/// while drbd_resource still says r0.
fn renamed_in_kernel() -> Case<Drbd> {
    Case::new(
        "drbd/renamed-in-kernel",
        "r0 renamed to r5 (kernel and drbd.conf): probe, stop, probe",
        agents(),
        make,
        vec![
            run("start"),
            Step::Do("drbdsetup rename-resource r0 r5", |d| {
                d.tool("node1", "drbdsetup", &["rename-resource", "r0", "r5"])
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "linbit's probe answers 7 (r0 is no longer in drbd.conf) and its stop runs \
         `drbdsetup down r0`, which finds nothing: r5 keeps running; ours finds the resource \
         by the minors start recorded, probes it (0) and takes it down",
        &[0, 0, 0, 0, 7],
    )
}

/// No DRBD module loaded at all (and nothing was started).
fn module_not_loaded() -> Case<Drbd> {
    Case::new(
        "drbd/module-not-loaded",
        "the DRBD module is not loaded: probe, stop",
        agents(),
        make,
        vec![
            Step::Do("unload the module", |d| {
                d.set(&["module=unloaded"]);
                std::fs::remove_file(d.node().join("proc-drbd")).unwrap();
            }),
            probe(),
            run("stop"),
        ],
    )
    .deviation(
        "linbit's validation cannot find the module version (`drbdadm --version` says 0, no \
         modinfo) and answers 5, for stop too (after a failed `drbdsetup down` and a 5 s \
         sleep); ours: no module means no resource can exist, so probe 7 and stop 0",
        &[0, 7, 0],
    )
}

/// Run `action` with some parameters changed and extra environment
/// (Pacemaker's meta variables).
fn run_env_params(
    action: &'static str,
    set: &[(&'static str, &str)],
    env: &[(&'static str, &str)],
) -> Step<Drbd> {
    Step::Run {
        action,
        set: set.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

cases!(
    lifecycle,
    promote_demote,
    conf_syntax_error,
    resource_removed_from_conf,
    resource_all,
    drbdadm_missing,
    drbdsetup_missing,
    primary_quorum_lost,
    primary_without_good_data,
    start_attach_fails,
    stop_outdates_secondary,
    parameter_changed,
    renamed_in_kernel,
    module_not_loaded,
);
