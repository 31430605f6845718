//! Issue 14, ocf:rust:vm: hostile files and secrets, against the machine's
//! real libvirtd and QEMU (TCG). Every domain here has a VNC password; it
//! must reach the config file (and only with the file's own mode and
//! owner), and never a log line or an exit reason. Files are planted as
//! root in the test's own directories, where the old code followed them.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::vm::{Domain, Guest, qemu_pids, system_libvirtd, virsh};
use support::{AgentLink, Outcome, Scratch, agent_link, ocf, run_env, wait_for};

fn name(tag: &str) -> String {
    format!("vma-{tag}-{}", std::process::id())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The VNC password of the test domains (one per test process; VNC
/// allows 8 characters).
fn password() -> String {
    format!("Q{:07}", std::process::id() % 10_000_000)
}

/// Give the domain a VNC display with a password (loopback only).
fn with_vnc_password(d: &Domain) {
    let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memballoon model='none'/>",
        &format!(
            "<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='{}'/>\
             <memballoon model='none'/>",
            password()
        ),
    );
    std::fs::write(&d.xml, xml).unwrap();
}

/// One resource with its own HA_RSCTMP and a log file catching every line
/// the agent logs (debug included).
struct Rsc {
    a: AgentLink,
    rsctmp: PathBuf,
    log: PathBuf,
}

impl Rsc {
    fn new(s: &Scratch) -> Rsc {
        let rsctmp = s.path("rsctmp");
        std::fs::create_dir_all(&rsctmp).unwrap();
        Rsc {
            a: agent_link("vm"),
            rsctmp,
            log: s.path("agent.log"),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("OCF_RESKEY_CRM_meta_timeout".into(), "60000".into()),
            ("OCF_RESOURCE_INSTANCE".into(), "vmhostile".into()),
            ("HA_RSCTMP".into(), self.rsctmp.display().to_string()),
            ("HA_LOGFILE".into(), self.log.display().to_string()),
            ("HA_DEBUGLOG".into(), self.log.display().to_string()),
            ("HA_debug".into(), "1".into()),
        ]
    }

    fn run(&self, action: &str, params: &[(&str, &str)]) -> Outcome {
        let env = self.env();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = ocf(&self.a, action, params, &e);
        println!(
            "{action} -> {} in {:?}\n{}",
            out.code, out.elapsed, out.stderr
        );
        out
    }

    /// The action under `strace -f` (file creation, mode and owner calls,
    /// with descriptors shown as paths), the trace written to `trace`.
    fn traced(&self, action: &str, params: &[(&str, &str)], trace: &Path) -> Outcome {
        let mut env = self.env();
        env.push(("OCF_ROOT".into(), "/usr/lib/ocf".into()));
        env.extend(
            params
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        );
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let strace = which("strace");
        let out = run_env(
            &strace,
            &[
                "-f",
                "-y",
                "-qq",
                "-o",
                trace.to_str().unwrap(),
                "-e",
                "trace=open,openat,creat,chmod,fchmod,fchmodat,chown,fchown,fchownat,rename,renameat,renameat2",
                self.a.path.to_str().unwrap(),
                action,
            ],
            &e,
        );
        println!("{action} (traced) -> {}\n{}", out.code, out.stderr);
        out
    }

    /// Everything the agent logged, and every exit reason it gave.
    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn which(tool: &str) -> PathBuf {
    support::require(tool);
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .unwrap()
}

/// The octal mode argument that ends a traced call (`..., 0600)`).
fn mode_arg(line: &str) -> Option<u32> {
    let inner = line.rsplit_once(')')?.0;
    let last = inner.rsplit(", ").next()?.trim();
    u32::from_str_radix(last.strip_prefix('0')?, 8).ok()
}

/// save_config_on_stop with a config path that is a link to a 0600 file in
/// another directory, a VNC password in the domain, and links planted at
/// the temporary name the old code used (which it followed): the target
/// gets the new XML with its mode and owner, the link stays a link, nothing
/// is ever created readable by group or others (checked on the system
/// calls themselves), the planted links and their victim are untouched, and
/// the password is in no log line and no exit reason.
#[test]
fn save_config_writes_the_link_target_with_its_mode_and_never_follows_a_planted_name() {
    let uri = system_libvirtd();
    let s = Scratch::new("vmh-save");
    let r = Rsc::new(&s);
    let d = Domain::new(&s.0, &name("save"), Guest::Linux, uri);
    with_vnc_password(&d);
    // The file itself lives in real/, owned by nobody (kept), mode 0600.
    let real = s.path("real");
    std::fs::create_dir(&real).unwrap();
    let target = real.join("guest.xml");
    std::fs::rename(&d.xml, &target).unwrap();
    symlink(&target, &d.xml).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&target, Some(65534), Some(65534)).unwrap();
    // Planted at the old temporary names, beside the link and the target.
    let victim = s.path("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let planted = [
        d.xml.with_extension("xml.vm-new"),
        target.with_extension("xml.vm-new"),
    ];
    for p in &planted {
        symlink(&victim, p).unwrap();
    }

    let p = [("config", d.xml_str()), ("save_config_on_stop", "true")];
    let start = r.run("start", &p);
    assert_eq!(start.code, 0, "{start:?}");
    assert!(wait_for(Duration::from_secs(30), || d
        .console()
        .contains("GUEST-UP")));
    // A change made through libvirt, so there is something to save.
    let (code, out) = virsh(
        uri,
        None,
        &["desc", &d.name, "--config", "--new-desc", "saved-by-stop"],
    );
    assert_eq!(code, 0, "{out}");
    let trace = s.path("stop.trace");
    let stop = r.traced("stop", &p, &trace);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!d.defined() && qemu_pids(&d.name).is_empty());

    // The target has the new XML (with the password: it is the config),
    // its mode and its owner; the link is still the link.
    assert!(
        std::fs::symlink_metadata(&d.xml)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the config link is kept"
    );
    assert_eq!(std::fs::read_link(&d.xml).unwrap(), target);
    let saved = std::fs::read_to_string(&target).unwrap();
    assert!(saved.contains("saved-by-stop"), "{saved}");
    assert!(
        saved.contains(&password()),
        "the secure XML is what is saved"
    );
    assert_eq!(mode(&target), 0o600);
    let st = std::fs::metadata(&target).unwrap();
    assert_eq!((st.uid(), st.gid()), (65534, 65534), "its owner is kept");
    // The planted links and their victim: untouched.
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert_eq!(mode(&victim), 0o644);
    for p in &planted {
        assert!(
            std::fs::symlink_metadata(p)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // Nothing near the config was ever created or chmod'ed readable by
    // group or others, not even for a moment.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let mut seen = 0;
    for line in trace.lines() {
        let near = line.contains(real.to_str().unwrap()) || line.contains(d.xml_str());
        let creates = line.contains("O_CREAT") || line.contains("chmod(");
        if near && creates && !line.contains("= -1") {
            seen += 1;
            let m = mode_arg(line).unwrap_or_else(|| panic!("no mode in {line}"));
            assert_eq!(m & 0o077, 0, "created or made readable by others: {line}");
        }
    }
    assert!(seen > 0, "the write was traced:\n{trace}");
    // The password: in the file only.
    let logged = r.logged();
    assert!(logged.contains("saved the configuration"), "{logged}");
    for text in [&logged, &stop.stderr, &start.stderr] {
        assert!(
            !text.contains(&password()),
            "the VNC password leaked:\n{text}"
        );
    }
}

/// A config in a directory others may write to is not saved (one warning,
/// the stop goes on): someone could swap names in it between our look and
/// our write.
#[test]
fn save_config_refuses_a_directory_others_may_write() {
    let uri = system_libvirtd();
    let s = Scratch::new("vmh-open");
    let r = Rsc::new(&s);
    let d = Domain::new(&s.0, &name("open"), Guest::Linux, uri);
    with_vnc_password(&d);
    let open = s.path("open");
    std::fs::create_dir(&open).unwrap();
    let file = open.join("guest.xml");
    std::fs::rename(&d.xml, &file).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    let p = [
        ("config", file.to_str().unwrap()),
        ("save_config_on_stop", "true"),
    ];
    assert_eq!(r.run("start", &p).code, 0);
    let (code, out) = virsh(
        uri,
        None,
        &["desc", &d.name, "--config", "--new-desc", "not-saved"],
    );
    assert_eq!(code, 0, "{out}");
    let stop = r.run("stop", &p);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!d.defined());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let logged = r.logged();
    assert!(logged.contains("writable by others"), "{logged}");
    assert!(!logged.contains(&password()));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::rename(&file, &d.xml);
}

/// libvirt quotes the line of a domain XML it cannot parse in its error
/// (here a `passwd` attribute given twice, which our reader lets through
/// and libxml2 refuses): the start's exit reason and log say why without
/// the password.
#[test]
fn a_refused_domain_xml_never_puts_its_password_in_the_exit_reason() {
    system_libvirtd();
    let s = Scratch::new("vmh-refused");
    let r = Rsc::new(&s);
    let d = Domain::new(&s.0, &name("refused"), Guest::Bare, "qemu:///system");
    let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
        "<memballoon model='none'/>",
        &format!(
            "<graphics type='vnc' passwd='{}' passwd='{}'/><memballoon model='none'/>",
            password(),
            password()
        ),
    );
    std::fs::write(&d.xml, xml).unwrap();
    let p = [("config", d.xml_str())];
    let start = r.run("start", &p);
    assert_eq!(start.code, 2, "{start:?}");
    let reason = start.reason().unwrap();
    assert!(reason.contains("passwd redefined"), "{reason}");
    assert!(!reason.contains(&password()), "{reason}");
    assert!(!r.logged().contains(&password()), "{}", r.logged());
    assert!(!d.defined());
    assert_eq!(r.run("stop", &p).code, 0);
}

/// backingfile: qemu-img writes the overlay as root by its path. In a
/// directory others may write to, start refuses (4) and a link planted at
/// the overlay's name (to an empty file, which the old code took for "no
/// overlay yet" and had qemu-img write through) is left alone with its
/// victim. In the config's own (root's) directory, a link at that name is
/// removed, never followed, and the fresh overlay is readable by no one
/// but its owner (qemu-img alone makes it 0644).
#[test]
fn the_overlay_is_never_written_through_a_planted_link_and_is_not_world_readable() {
    let uri = system_libvirtd();
    let s = Scratch::new("vmh-overlay");
    let r = Rsc::new(&s);
    let base = s.path("base.raw");
    let (code, out) = support::sh(
        "qemu-img",
        &["create", "-q", "-f", "raw", base.to_str().unwrap(), "16M"],
    );
    assert_eq!(code, 0, "{out}");
    let victim = s.path("victim");
    std::fs::write(&victim, "").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let with_disk = |d: &Domain, overlay: &Path| {
        let xml = std::fs::read_to_string(&d.xml).unwrap().replace(
            "<memballoon model='none'/>",
            &format!(
                "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
                 <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
                 <memballoon model='none'/>",
                overlay.display()
            ),
        );
        std::fs::write(&d.xml, xml).unwrap();
    };

    // A directory others may write to.
    let open = s.path("open");
    std::fs::create_dir(&open).unwrap();
    let d = Domain::new(&open, &name("ovl-open"), Guest::Bare, uri);
    let overlay = d.xml.with_extension("qcow2");
    with_disk(&d, &overlay);
    symlink(&victim, &overlay).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = [
        ("config", d.xml_str()),
        ("backingfile", base.to_str().unwrap()),
        ("force_stop", "true"),
    ];
    let start = r.run("start", &p);
    assert_eq!(start.code, 4, "{start:?}");
    assert!(
        start.reason().unwrap().contains("writable by others"),
        "{start:?}"
    );
    assert_eq!(
        std::fs::metadata(&victim).unwrap().len(),
        0,
        "victim untouched"
    );
    assert!(!d.defined());
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(d);

    // Root's own directory, a link at the overlay's name.
    let d = Domain::new(&s.0, &name("ovl"), Guest::Bare, uri);
    let overlay = d.xml.with_extension("qcow2");
    with_disk(&d, &overlay);
    symlink(&victim, &overlay).unwrap();
    let p = [
        ("config", d.xml_str()),
        ("backingfile", base.to_str().unwrap()),
        ("force_stop", "true"),
    ];
    let start = r.run("start", &p);
    assert_eq!(start.code, 0, "{start:?}");
    assert_eq!(d.state(), "running");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().len(),
        0,
        "victim untouched"
    );
    let st = std::fs::symlink_metadata(&overlay).unwrap();
    assert!(st.file_type().is_file(), "a fresh file, not the link");
    assert_eq!(st.mode() & 0o077, 0, "mode {:o}", st.mode() & 0o7777);
    assert_eq!(r.run("stop", &p).code, 0);
    let _ = std::fs::remove_file(&overlay);
}

/// snapshot: libvirtd writes and reads the memory image as root. A
/// snapshot directory others may write to could hold anyone's image
/// (restored as our guest) or a link where libvirtd writes: start refuses
/// (4), and a stop of a guest running while the directory is like that
/// shuts it down instead of saving there.
#[test]
fn a_snapshot_directory_others_may_write_is_never_used() {
    let uri = system_libvirtd();
    let s = Scratch::new("vmh-snap");
    let r = Rsc::new(&s);
    let d = Domain::new(&s.0, &name("snap"), Guest::Linux, uri);
    let snap = s.path("snapshots");
    std::fs::create_dir(&snap).unwrap();
    let p = [
        ("config", d.xml_str()),
        ("snapshot", snap.to_str().unwrap()),
    ];
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o777)).unwrap();
    let start = r.run("start", &p);
    assert_eq!(start.code, 4, "{start:?}");
    assert!(!d.defined());
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(r.run("start", &p).code, 0);
    assert!(wait_for(Duration::from_secs(30), || d
        .console()
        .contains("GUEST-UP")));
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o777)).unwrap();
    let stop = r.run("stop", &p);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!d.defined() && qemu_pids(&d.name).is_empty());
    assert_eq!(
        std::fs::read_dir(&snap).unwrap().count(),
        0,
        "no image saved"
    );
    assert!(
        r.logged().contains("shutting it down instead"),
        "{}",
        r.logged()
    );
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Host names are resolved by libvirt itself (the target's hypervisor URI
/// when migrating), inside a libvirt call that runs under the action's
/// deadline (`backend::bounded`). Here the target's name goes to a DNS
/// server that never answers (on loopback, through a resolv.conf that only
/// the agent's own mount namespace sees, with 30 s of retries): migrate_to
/// still ends well within its 8 s timeout, with its own reason (not the
/// watchdog's), and the domain keeps running here.
#[test]
fn a_migration_target_whose_name_never_resolves_is_bounded_by_the_deadline() {
    let uri = system_libvirtd();
    let s = Scratch::new("vmh-dns");
    let r = Rsc::new(&s);
    let d = Domain::new(&s.0, &name("dns"), Guest::Bare, uri);
    let p = [("config", d.xml_str()), ("force_stop", "true")];
    assert_eq!(r.run("start", &p).code, 0);
    let dns = std::net::UdpSocket::bind("127.0.0.77:53").expect("a silent DNS server");
    dns.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let resolv = s.path("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.77\noptions timeout:10 attempts:3\n",
    )
    .unwrap();
    let mut env = r.env();
    env.retain(|(k, _)| k != "OCF_RESKEY_CRM_meta_timeout");
    env.extend([
        (
            "OCF_RESKEY_CRM_meta_timeout".to_string(),
            "8000".to_string(),
        ),
        ("OCF_ROOT".to_string(), "/usr/lib/ocf".to_string()),
        ("OCF_RESKEY_config".to_string(), d.xml_str().to_string()),
        ("OCF_RESKEY_force_stop".to_string(), "true".to_string()),
        (
            "OCF_RESKEY_remoteuri".to_string(),
            "qemu+tcp://%n/system".to_string(),
        ),
        (
            "OCF_RESKEY_CRM_meta_migrate_target".to_string(),
            "vma-never.example".to_string(),
        ),
    ]);
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = run_env(
        &which("unshare"),
        &[
            "-m",
            "--",
            "/bin/sh",
            "-c",
            "mount --bind \"$1\" /etc/resolv.conf && exec \"$2\" migrate_to",
            "sh",
            resolv.to_str().unwrap(),
            r.a.path.to_str().unwrap(),
        ],
        &e,
    );
    println!(
        "migrate_to -> {} in {:?}\n{}",
        out.code, out.elapsed, out.stderr
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.elapsed < Duration::from_secs(8), "{:?}", out.elapsed);
    let reason = out.reason().unwrap();
    assert!(
        reason.contains("connecting to qemu+tcp://vma-never.example/system")
            && reason.contains("in time"),
        "{reason}"
    );
    let mut buf = [0u8; 512];
    assert!(
        dns.recv(&mut buf).is_ok(),
        "the name really went to the silent server"
    );
    assert_eq!(d.state(), "running");
    assert_eq!(r.run("stop", &p).code, 0);
    assert!(qemu_pids(&d.name).is_empty());
}
