//! Unit tests: parameter rules, URI building, and the start/stop/monitor
//! decisions against a scripted in-memory backend (the real libvirt paths
//! are in tests/vm.rs).

use std::cell::RefCell;
use std::time::Instant;

use super::*;
use crate::backend::{DomainView, HvResult, Size};
use ocf::Agent;

fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
    Context::from_vars(
        "vm",
        action,
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
    let c = ctx("start", vars);
    let p = Params::parse(&PARAMS, &c.params)?;
    Vm::configure(&p, &c)
}

struct TempXml(PathBuf);
impl TempXml {
    fn new(tag: &str, xml: &str) -> TempXml {
        let p = std::env::temp_dir().join(format!("vma-unit-{tag}-{}.xml", std::process::id()));
        fs::write(&p, xml).unwrap();
        TempXml(p)
    }
}
impl Drop for TempXml {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

const XML: &str = "<domain type='qemu'><name>vma-unit</name>\
    <uuid>11111111-2222-4333-8444-555555555555</uuid></domain>";

fn cfg_with(tag: &str, extra: &[(&str, &str)]) -> (TempXml, Config) {
    let t = TempXml::new(tag, XML);
    let mut vars = vec![("OCF_RESKEY_config", t.0.to_str().unwrap())];
    vars.extend_from_slice(extra);
    let cfg = configure(&vars).unwrap();
    load_domain(&cfg).unwrap();
    (t, cfg)
}

/// A scripted hypervisor: one domain whose behaviour the test chooses.
struct Fake {
    state: RefCell<Option<DomState>>,
    uuid: String,
    /// The guest honours a shutdown request.
    obeys_shutdown: bool,
    /// Every call fails as if libvirtd were down.
    unreachable: bool,
    calls: RefCell<Vec<String>>,
}

impl Fake {
    fn new(state: Option<DomState>) -> Fake {
        Fake {
            state: RefCell::new(state),
            uuid: "11111111-2222-4333-8444-555555555555".into(),
            obeys_shutdown: true,
            unreachable: false,
            calls: RefCell::new(Vec::new()),
        }
    }
    fn log(&self, c: &str) -> HvResult<()> {
        self.calls.borrow_mut().push(c.to_string());
        if self.unreachable {
            return Err(HvError::Unreachable("connection refused".into()));
        }
        Ok(())
    }
    fn called(&self, c: &str) -> bool {
        self.calls.borrow().iter().any(|x| x == c)
    }
}

impl Backend for Fake {
    fn lookup(&self, _n: &str, _dl: &Deadline) -> HvResult<DomainView> {
        self.log("lookup")?;
        match *self.state.borrow() {
            None => Err(HvError::NoDomain),
            Some(s) => Ok(DomainView {
                state: s,
                uuid: self.uuid.clone(),
                persistent: true,
            }),
        }
    }
    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)> {
        let v = self.lookup("vma-unit", dl)?;
        if v.uuid.eq_ignore_ascii_case(uuid) {
            Ok(("vma-unit".into(), v))
        } else {
            Err(HvError::NoDomain)
        }
    }
    fn define(&self, _x: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("define")?;
        if self.state.borrow().is_none() {
            *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::Other(0)));
        }
        Ok(())
    }
    fn boot(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("boot")?;
        *self.state.borrow_mut() = Some(DomState::Running);
        Ok(())
    }
    fn restore(&self, _p: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("restore")
    }
    fn shutdown(&self, _n: &str, _m: u32, _dl: &Deadline) -> HvResult<()> {
        self.log("shutdown")?;
        if self.obeys_shutdown {
            *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::GuestShutdown));
        }
        Ok(())
    }
    fn destroy(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("destroy")?;
        *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::Destroyed));
        Ok(())
    }
    fn undefine(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("undefine")?;
        *self.state.borrow_mut() = None;
        Ok(())
    }
    fn save(&self, _n: &str, _p: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("save")
    }
    fn config_xml(&self, _n: &str, _dl: &Deadline) -> HvResult<String> {
        self.log("config_xml")?;
        Ok(XML.into())
    }
    fn size(&self, _n: &str, _dl: &Deadline) -> HvResult<Size> {
        self.log("size")?;
        Ok(Size {
            vcpus: 2,
            memory_mib: 512,
        })
    }
    fn migrate(&self, _n: &str, _m: &Migration, _dl: &Deadline) -> HvResult<()> {
        self.log("migrate")
    }
    fn start_network(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("start_network")
    }
    fn start_pool(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("start_pool")
    }
}

/// Stop the configured domain as `Vm::stop` does.
fn stop_configured(hv: &Fake, cfg: &Config, dl: &Deadline, reserve: Duration) -> OcfResult<()> {
    let t = Target::named(&cfg.uri, cfg.name().unwrap());
    stop_on(hv, &t, &cfg.how(), dl, reserve)
}

#[test]
fn tables_are_sane() {
    ocf::metadata::check_info(&INFO).unwrap();
}

#[test]
fn bad_values_are_configuration_errors() {
    let t = TempXml::new("bad", XML);
    let cf = t.0.to_str().unwrap();
    for (k, v) in [
        ("OCF_RESKEY_config", "relative.xml"),
        ("OCF_RESKEY_hypervisor", "not a uri"),
        ("OCF_RESKEY_shutdown_mode", "acpi,reboot"),
        ("OCF_RESKEY_migrate_options", "--live --bogus"),
        ("OCF_RESKEY_migration_speed", "fast"),
        ("OCF_RESKEY_migration_transport", "carrier-pigeon"),
        ("OCF_RESKEY_migration_user", "a b"),
        ("OCF_RESKEY_monitor_scripts", "/bin/true relative"),
    ] {
        let vars = [("OCF_RESKEY_config", cf), (k, v)];
        let vars = if k == "OCF_RESKEY_config" {
            &vars[1..]
        } else {
            &vars[..]
        };
        assert_eq!(
            configure(vars).unwrap_err().status,
            Status::ErrConfigured,
            "{k}={v}"
        );
    }
    let both = configure(&[
        ("OCF_RESKEY_config", cf),
        ("OCF_RESKEY_force_stop", "true"),
        ("OCF_RESKEY_snapshot", "/var/tmp"),
    ])
    .unwrap_err();
    assert_eq!(both.status, Status::ErrConfigured);
    assert!(both.reason.contains("force_stop and snapshot"));
    // shutdown_mode is used, not a dead parameter (VirtualDomain's bug).
    let c = configure(&[
        ("OCF_RESKEY_config", cf),
        ("OCF_RESKEY_shutdown_mode", "agent,acpi"),
    ])
    .unwrap();
    assert_eq!(c.shutdown_mode, lv::SHUTDOWN_AGENT | lv::SHUTDOWN_ACPI);
}

#[test]
fn migrate_options_become_flags() {
    let (f, u) = parse_migrate_options("--p2p --auto-converge --migrateuri=tcp://x:1").unwrap();
    assert_eq!(f, lv::MIGRATE_PEER2PEER | lv::MIGRATE_AUTO_CONVERGE);
    assert_eq!(u.as_deref(), Some("tcp://x:1"));
    let (_, u) = parse_migrate_options("--migrateuri tcp://y").unwrap();
    assert_eq!(u.as_deref(), Some("tcp://y"));
    assert!(parse_migrate_options("--migrateuri").is_err());
}

#[test]
fn destroy_keeps_a_third_and_ten_seconds_where_possible() {
    let s = Duration::from_secs;
    assert_eq!(destroy_reserve(s(90)), s(30));
    assert_eq!(destroy_reserve(s(20)), s(10));
    assert_eq!(destroy_reserve(s(12)), s(8));
    assert_eq!(destroy_reserve(s(60)), s(20));
}

#[test]
fn remote_and_migration_uris() {
    let (_t, c) = cfg_with("uri", &[]);
    assert_eq!(remote_uri(&c, "node2"), "qemu://node2/system");
    let (_t, c) = cfg_with(
        "uri2",
        &[
            ("OCF_RESKEY_migration_transport", "ssh"),
            ("OCF_RESKEY_migration_user", "root"),
            ("OCF_RESKEY_migration_network_suffix", "-mig"),
            ("OCF_RESKEY_migration_speed", "100"),
            ("OCF_RESKEY_migration_downtime", "300"),
        ],
    );
    assert_eq!(
        remote_uri(&c, "node2.example.com"),
        "qemu+ssh://root@node2-mig.example.com/system"
    );
    let m = migration(&c, "node2.example.com");
    assert_eq!(
        m.migrate_uri.as_deref(),
        Some("tcp://node2-mig.example.com")
    );
    assert_eq!((m.bandwidth, m.downtime_ms), (100, 300));
    let (_t, c) = cfg_with(
        "port",
        &[
            ("OCF_RESKEY_migration_network_suffix", "-mig"),
            ("OCF_RESKEY_migrateport", "49160"),
        ],
    );
    assert_eq!(
        migration(&c, "node2").migrate_uri.as_deref(),
        Some("tcp://node2-mig:49160")
    );
    assert!(
        configure(&[
            ("OCF_RESKEY_config", "/x.xml"),
            ("OCF_RESKEY_migrateport", "70000")
        ])
        .is_err(),
        "a port above 65535 is refused"
    );
    assert_ne!(m.flags & lv::MIGRATE_LIVE, 0);
    let (_t, c) = cfg_with(
        "uri3",
        &[
            ("OCF_RESKEY_hypervisor", "qemu+tcp://10.0.0.1:16509/system"),
            ("OCF_RESKEY_migrateuri", "tcp://%n:49152"),
        ],
    );
    assert_eq!(remote_uri(&c, "n2"), "qemu+tcp://n2:16509/system");
    assert_eq!(
        migration(&c, "n2").migrate_uri.as_deref(),
        Some("tcp://n2:49152")
    );
    let (_t, c) = cfg_with("uri4", &[("OCF_RESKEY_remoteuri", "qemu+tcp://%n/system")]);
    assert_eq!(remote_uri(&c, "hvb"), "qemu+tcp://hvb/system");
    assert!(local_qemu("qemu:///system"));
    assert!(local_qemu("qemu+unix:///system?socket=/x/sock"));
    assert!(!local_qemu("qemu+tcp://10.0.0.1/system"));
    assert!(!local_qemu("xen:///system"));
}

#[test]
fn start_boots_and_is_idempotent() {
    let (_t, cfg) = cfg_with("start", &[]);
    let c = ctx("start", &[]);
    let dl = Deadline::after(Duration::from_secs(5));
    let hv = Fake::new(None);
    start_on(&hv, &cfg, &c, &dl).unwrap();
    assert!(hv.called("define") && hv.called("boot"));
    hv.calls.borrow_mut().clear();
    start_on(&hv, &cfg, &c, &dl).unwrap();
    assert!(!hv.called("boot"), "already running: no second boot");
}

#[test]
fn start_refuses_a_same_named_domain_with_another_uuid() {
    let (_t, cfg) = cfg_with("uuid", &[]);
    let mut hv = Fake::new(Some(DomState::ShutOff(Shutoff::Other(0))));
    hv.uuid = "99999999-2222-4333-8444-555555555555".into();
    let e = start_on(
        &hv,
        &cfg,
        &ctx("start", &[]),
        &Deadline::after(Duration::from_secs(5)),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::ErrArgs);
    assert!(
        e.reason.contains("already defined here with UUID 9999"),
        "{}",
        e.reason
    );
    assert!(!hv.called("define"));
}

#[test]
fn stop_destroys_a_guest_that_ignores_shutdown_within_budget() {
    let (_t, cfg) = cfg_with("ignore", &[]);
    let mut hv = Fake::new(Some(DomState::Running));
    hv.obeys_shutdown = false;
    let total = Duration::from_secs(3);
    let dl = Deadline::after(total);
    let t = Instant::now();
    stop_configured(&hv, &cfg, &dl, destroy_reserve(total)).unwrap();
    let took = t.elapsed();
    assert!(hv.called("shutdown") && hv.called("destroy") && hv.called("undefine"));
    // The graceful phase gave up when only the reserve (2 s of 3) was left.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < total, "{took:?}");
}

#[test]
fn stop_of_an_obedient_guest_never_destroys() {
    let (_t, cfg) = cfg_with("obey", &[]);
    let hv = Fake::new(Some(DomState::Running));
    stop_configured(
        &hv,
        &cfg,
        &Deadline::after(Duration::from_secs(5)),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(hv.called("shutdown") && !hv.called("destroy"));
    assert!(hv.state.borrow().is_none(), "undefined after stop");
}

#[test]
fn force_stop_skips_the_graceful_phase() {
    let (_t, cfg) = cfg_with("force", &[("OCF_RESKEY_force_stop", "1")]);
    let hv = Fake::new(Some(DomState::Running));
    stop_configured(
        &hv,
        &cfg,
        &Deadline::after(Duration::from_secs(5)),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(!hv.called("shutdown") && hv.called("destroy"));
}

#[test]
fn stop_of_an_absent_domain_is_success() {
    let (_t, cfg) = cfg_with("absent", &[]);
    let hv = Fake::new(None);
    let dl = Deadline::after(Duration::from_secs(5));
    stop_configured(&hv, &cfg, &dl, Duration::from_secs(2)).unwrap();
    assert!(!hv.called("destroy"));
}

/// A domain known only from the record is confirmed by its UUID: a
/// same-named domain with another UUID is someone else's and survives stop.
#[test]
fn a_recorded_domain_is_ours_only_with_its_uuid() {
    let dl = Deadline::after(Duration::from_secs(5));
    let hv = Fake::new(Some(DomState::Running));
    let theirs = Target::recorded(
        "qemu:///system",
        "vma-unit",
        Some("99999999-2222-4333-8444-555555555555".into()),
    );
    assert_eq!(find(&hv, &theirs, &dl), Ok(None));
    stop_on(
        &hv,
        &theirs,
        &StopHow::default(),
        &dl,
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(
        !hv.called("destroy") && !hv.called("shutdown"),
        "left alone"
    );
    assert_eq!(*hv.state.borrow(), Some(DomState::Running));

    let ours = Target::recorded(
        "qemu:///system",
        "renamed-since",
        Some("11111111-2222-4333-8444-555555555555".into()),
    );
    let (name, _) = find(&hv, &ours, &dl).unwrap().unwrap();
    assert_eq!(name, "vma-unit", "found by UUID, whatever the name");
    let force = StopHow {
        force: true,
        ..StopHow::default()
    };
    stop_on(&hv, &ours, &force, &dl, Duration::from_secs(2)).unwrap();
    assert!(hv.called("destroy"));
    // Without a recorded UUID the name is all there is.
    let by_name = Target::recorded("qemu:///system", "vma-unit", None);
    assert!(!by_name.strict);
}

#[test]
fn monitor_answers() {
    let (_t, cfg) = cfg_with("mon", &[]);
    let dl = Deadline::after(Duration::from_secs(10));
    let probe = ctx("monitor", &[]);
    let recurring = ctx("monitor", &[("OCF_RESKEY_CRM_meta_interval", "10000")]);
    let run = |hv: &Fake, c: &Context| monitor_on(Ok(hv as &dyn Backend), &cfg, c, &dl);

    assert_eq!(
        run(&Fake::new(Some(DomState::Running)), &probe),
        Ok(Status::Success)
    );
    assert_eq!(
        run(&Fake::new(Some(DomState::Paused)), &probe),
        Ok(Status::Success)
    );
    let t = Instant::now();
    assert_eq!(
        run(&Fake::new(None), &probe).unwrap_err().status,
        Status::NotRunning
    );
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "a probe does not re-check"
    );
    let t = Instant::now();
    let e = run(
        &Fake::new(Some(DomState::ShutOff(Shutoff::Crashed))),
        &recurring,
    )
    .unwrap_err();
    assert_eq!(e.status, Status::NotRunning);
    assert!(e.reason.contains("shut off (crashed)"), "{}", e.reason);
    assert!(t.elapsed() >= Duration::from_secs(1), "re-checked (RA#314)");
    assert_eq!(
        run(&Fake::new(Some(DomState::Crashed)), &probe)
            .unwrap_err()
            .status,
        Status::ErrGeneric
    );
    // libvirtd down and no QEMU of this name here: not running, even recurring.
    let down: Result<&dyn Backend, HvError> = Err(HvError::Unreachable("refused".into()));
    let e = monitor_on(down.clone(), &cfg, &probe, &dl).unwrap_err();
    assert_eq!(e.status, Status::NotRunning, "{}", e.reason);
    // ... but on a remote hypervisor nobody can tell: 1.
    let (_t2, remote) = cfg_with(
        "mon-remote",
        &[("OCF_RESKEY_hypervisor", "qemu+tcp://h/system")],
    );
    let e = monitor_on(down, &remote, &probe, &dl).unwrap_err();
    assert_eq!(e.status, Status::ErrGeneric);
}

#[test]
fn utilization_pairs_follow_the_switches() {
    let (_t, cfg) = cfg_with("util", &[("OCF_RESKEY_autoset_utilization_cpu", "false")]);
    let u = utilization(
        &cfg,
        Size {
            vcpus: 4,
            memory_mib: 1024,
        },
    );
    assert_eq!(
        u,
        vec![
            ("host_memory", "1024".to_string()),
            ("hv_memory", "1024".to_string())
        ]
    );
    assert!(
        cfg.util_unset.is_empty(),
        "nothing to remove without unset_*"
    );
    // unset_* removes only what is not autoset: the cpu and host_memory
    // switches are off here, hv_memory stays on and is not removed.
    let (_t, cfg) = cfg_with(
        "unset",
        &[
            ("OCF_RESKEY_autoset_utilization_cpu", "false"),
            ("OCF_RESKEY_autoset_utilization_host_memory", "false"),
            ("OCF_RESKEY_unset_utilization_cpu", "true"),
            ("OCF_RESKEY_unset_utilization_host_memory", "true"),
            ("OCF_RESKEY_unset_utilization_hv_memory", "true"),
        ],
    );
    assert_eq!(cfg.util_unset, vec!["cpu", "host_memory"]);
    let u = utilization(
        &cfg,
        Size {
            vcpus: 4,
            memory_mib: 512,
        },
    );
    assert_eq!(u, vec![("hv_memory", "512".to_string())]);
}

#[test]
fn sync_config_on_stop_implies_saving_and_needs_csync2() {
    let (_t, c) = cfg_with("sync", &[("OCF_RESKEY_sync_config_on_stop", "true")]);
    assert!(c.save_config && c.sync_config);
    if ocf::exec::which("csync2").is_none() {
        let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        assert!(e.reason.contains("csync2"), "{}", e.reason);
    }
    let (_t, c) = cfg_with("nosync", &[]);
    assert!(!c.save_config && !c.sync_config);
}

#[test]
fn a_missing_or_broken_config_file_is_node_local() {
    let c = configure(&[("OCF_RESKEY_config", "/nonexistent/vma.xml")]).unwrap();
    let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
    assert_eq!(e.status, Status::ErrInstalled);
    let t = TempXml::new("broken", "<domain><name>x</domain>");
    let c = configure(&[("OCF_RESKEY_config", t.0.to_str().unwrap())]).unwrap();
    let e = Vm::check_environment(&c, &ctx("monitor", &[])).unwrap_err();
    assert_eq!(e.status, Status::ErrArgs);
}

#[test]
fn systemd_ordering_drop_in_only_on_systemd_nodes() {
    let root = std::env::temp_dir().join(format!("vma-unit-systemd-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    let dl = Deadline::after(Duration::from_secs(5));
    assert_eq!(
        systemd_ordering(&root, &dl),
        None,
        "no systemd: nothing written"
    );
    fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    let written = systemd_ordering(&root, &dl).expect("written on a systemd node");
    let text = fs::read_to_string(&written).unwrap();
    assert!(text.contains("After=libvirtd.service"));
    assert!(text.contains("Wants=virt-guest-shutdown.target"));
    assert!(written.starts_with(root.join("run/systemd/system/resource-agents-deps.target.d")));
    assert_eq!(
        systemd_ordering(&root, &dl),
        None,
        "already there: left alone"
    );
    fs::remove_dir_all(&root).unwrap();
    assert!(local_hypervisor("qemu:///system") && local_hypervisor("xen:///system"));
    assert!(!local_hypervisor("qemu+ssh://n1/system"));
}

#[test]
fn overlay_path_and_image_format() {
    assert_eq!(
        overlay_path(Path::new("/etc/libvirt/qemu/web.xml")),
        PathBuf::from("/etc/libvirt/qemu/web.qcow2")
    );
    // VirtualDomain's ${config%%.*} would give /srv/vm.qcow2 here.
    assert_eq!(
        overlay_path(Path::new("/srv/vm.d/web.domain.xml")),
        PathBuf::from("/srv/vm.d/web.qcow2")
    );
    let info = r#"{
    "backing-filename-format": "raw",
    "virtual-size": 16777216,
    "format": "qcow2",
    "format-specific": { "type": "qcow2" }
}"#;
    assert_eq!(image_format(info).as_deref(), Some("qcow2"));
    assert_eq!(image_format(r#"{"format": "raw"}"#).as_deref(), Some("raw"));
    assert_eq!(image_format(r#"{"format": "a b"}"#), None);
    assert_eq!(image_format("{}"), None);
    assert!(
        configure(&[
            ("OCF_RESKEY_config", "/x.xml"),
            ("OCF_RESKEY_stateless", "true")
        ])
        .is_err(),
        "stateless needs a backing file"
    );
}

/// Issue 14: the XML text (VNC password and all) is never in `Debug`, and
/// a URI's password is masked there and in what we show.
#[test]
fn debug_and_shown_uris_keep_secrets_out() {
    let t = TempXml::new(
        "secret",
        "<domain type='qemu'><name>vma-unit</name><devices>\
         <graphics type='vnc' passwd='Pw0rdXyz'/></devices></domain>",
    );
    let cfg = configure(&[
        ("OCF_RESKEY_config", t.0.to_str().unwrap()),
        ("OCF_RESKEY_remoteuri", "qemu+tcp://bob:Hunter22@%n/system"),
    ])
    .unwrap();
    load_domain(&cfg).unwrap();
    let dbg = format!("{cfg:?}");
    assert!(dbg.contains("vma-unit"), "{dbg}");
    assert!(
        !dbg.contains("Pw0rdXyz") && !dbg.contains("Hunter22"),
        "{dbg}"
    );
    let m = migration(&cfg, "node2");
    assert_eq!(shown(&m.remote_uri), "qemu+tcp://bob:***@node2/system");
}

/// Issue 14: the target node's name goes into URIs that libvirt may hand
/// to ssh: migrate_to refuses one that is no host name, before any call.
#[test]
fn a_migration_target_that_is_no_host_name_is_refused() {
    let (_t, cfg) = cfg_with(
        "badtarget",
        &[("OCF_RESKEY_remoteuri", "qemu+ssh://%n/system")],
    );
    for target in ["-oProxyCommand=id", "node2;id", "node 2", "$(id)"] {
        let c = ctx(
            "migrate_to",
            &[("OCF_RESKEY_CRM_meta_migrate_target", target)],
        );
        let e = Vm::migrate_to(&cfg, &c, &Deadline::after(Duration::from_secs(5))).unwrap_err();
        assert_eq!(e.status, Status::ErrArgs, "{target}: {e:?}");
        assert!(e.reason.contains("neither an IP address"), "{e:?}");
    }
}
