//! Start through libvirt: the record first, the systemd ordering, the
//! overlay (backingfile), networks and pools (start_resources), define,
//! then boot or restore from a snapshot, and wait for the monitor scripts.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{LibvirtConfig, shown};
use crate::files;
use crate::hypervisor::{HvError, Hypervisor, Libvirt, local_hypervisor, local_xen, no_xen_here};
use crate::monitor::utilization_cache;
use crate::record::{Started, Target, forget_legacy, refuse_over_recorded};

/// Start the configured domain (see the module doc).
pub fn start(cfg: &LibvirtConfig, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    files::state_remove(ctx, &utilization_cache(ctx));
    let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
    let (dom, _) = cfg.dom()?;
    let here = Target::named(&cfg.uri, &dom.name);
    refuse_over_recorded(ctx, Some(&here), dl)?;
    // Recorded before the domain is defined: a start that fails half-way
    // leaves what stop needs.
    let started = Started::Libvirt {
        uri: cfg.uri.clone(),
        name: dom.name.clone(),
        uuid: dom.uuid.clone(),
    };
    started.save(ctx);
    forget_legacy(ctx);
    if local_hypervisor(&cfg.uri) {
        systemd_ordering(Path::new("/"), dl);
    }
    let uuid = start_on(&hv, cfg, ctx, dl)?;
    started.with_uuid(&uuid).save(ctx);
    wait_for_scripts(cfg, dl)
}

/// Connect, mapping failure to a plain error (1): start and migrations
/// cannot proceed without the hypervisor. A Xen URI on a node without a
/// Xen hypervisor (as xl says) is 5: this node cannot run it at all.
pub(crate) fn connect(cfg: &LibvirtConfig, dl: &Deadline) -> OcfResult<Libvirt> {
    Libvirt::connect(&cfg.uri, dl).map_err(|e| {
        let reason = format!("cannot connect to {}: {e}", shown(&cfg.uri));
        if local_xen(&cfg.uri) && no_xen_here(dl) {
            return OcfError::installed(format!("{reason}; no Xen hypervisor on this node"));
        }
        OcfError::generic(reason)
    })
}

/// Define and boot (or restore) the configured domain; the UUID it runs with.
pub(crate) fn start_on(
    hv: &dyn Hypervisor,
    cfg: &LibvirtConfig,
    ctx: &Context,
    dl: &Deadline,
) -> OcfResult<String> {
    let (dom, xml) = cfg.dom()?;
    let name = dom.name.as_str();
    let call_dl = dl.cap(Duration::from_secs(60));
    match hv.lookup(name, &call_dl) {
        Ok(v) => {
            if let Some(want) = &dom.uuid
                && !v.uuid.is_empty()
                && !v.uuid.eq_ignore_ascii_case(want)
            {
                return Err(OcfError::args(format!(
                    "a domain named {name} is already defined here with UUID {}, but {} \
                     says {want}: undefine the other one first",
                    v.uuid,
                    cfg.config.display()
                )));
            }
            if v.state.is_active() {
                ocf::info!("{name} is already running ({})", v.state);
                return Ok(v.uuid);
            }
            if dom.uuid.is_none() && v.persistent {
                // The XML carries no UUID, so defining it would clash with
                // the inactive leftover: replace it.
                hv.undefine(name, &call_dl).map_err(|e| {
                    OcfError::generic(format!("cannot replace the inactive {name}: {e}"))
                })?;
            }
        }
        Err(HvError::NoDomain) => {}
        Err(e) => return Err(OcfError::generic(format!("start of {name}: {e}"))),
    }
    if cfg.start_resources {
        for n in &dom.networks {
            hv.start_network(n, &call_dl)
                .map_err(|e| OcfError::generic(e.to_string()))?;
        }
        for p in &dom.pools {
            hv.start_pool(p, &call_dl)
                .map_err(|e| OcfError::generic(e.to_string()))?;
        }
    }
    // libvirtd writes and reads memory images there as root: a directory
    // others may change could hold anyone's image (restored as our guest)
    // or a link where libvirt writes.
    let snapshot_dir = match &cfg.snapshot {
        Some(dir) => Some((
            dir.clone(),
            files::checked_dir(dir).map_err(|e| {
                OcfError::perm(format!("snapshot directory cannot be used safely: {e}"))
            })?,
        )),
        None => None,
    };
    let fresh_overlay = match &cfg.backing {
        Some(backing) => prepare_overlay(backing, &overlay_path(&cfg.config), cfg.stateless, dl)?,
        None => false,
    };
    hv.define(xml, &call_dl).map_err(|e| match e {
        HvError::Failed(m) => OcfError::args(format!(
            "libvirt refuses the domain in {}: {m}",
            cfg.config.display()
        )),
        e => OcfError::generic(format!("defining {name}: {e}")),
    })?;
    if fresh_overlay && !cfg.copyindirs.is_empty() {
        copy_in(cfg, name, &dl.share(0.5))?;
    }
    let mut restored = false;
    if let Some((dir, dir_fd)) = &snapshot_dir {
        let file = snapshot_name(name);
        let state = dir.join(&file);
        match files::entry(dir_fd, &file) {
            Ok(Some(rustix::fs::FileType::RegularFile)) => {
                match hv.restore(&state.to_string_lossy(), &call_dl) {
                    Ok(()) => {
                        ocf::info!("{name} restored from {}", state.display());
                        restored = true;
                        let _ = files::remove_in(dir_fd, &file);
                    }
                    Err(e) => {
                        // Never restore this memory image later over a disk
                        // that a fresh boot has changed.
                        let aside = format!("{file}.failed");
                        ocf::warn!(
                            "cannot restore {name} from {} ({e}); booting it afresh and \
                             moving the image to {aside}",
                            state.display(),
                        );
                        let _ = files::rename_in(dir_fd, &file, &aside);
                    }
                }
            }
            Ok(Some(_)) => ocf::warn!(
                "{} is not a regular file: not restored from, booting {name} afresh",
                state.display()
            ),
            Ok(None) => {}
            Err(e) => ocf::warn!("cannot look at {}: {e}", state.display()),
        }
    }
    if !restored {
        hv.boot(name, &call_dl)
            .map_err(|e| OcfError::generic(format!("cannot start {name}: {e}")))?;
    }
    let up = dl.poll(Duration::from_millis(200), || {
        hv.lookup(name, &dl.cap(Duration::from_secs(10)))
            .ok()
            .filter(|v| v.state.is_active())
    });
    let Some(v) = up else {
        return Err(OcfError::generic(format!(
            "{name} was started but is not running"
        )));
    };
    ocf::info!("{name} started ({}, {})", v.state, ctx.instance);
    Ok(v.uuid)
}

/// The memory image's file name in the snapshot directory (VirtualDomain's
/// NAME.state; a `/` cannot be in a file name, a leading `.` would hide it).
pub(crate) fn snapshot_name(name: &str) -> String {
    format!("{}.state", ocf::files::instance_file_name(&[name]))
}

/// Poll the monitor scripts until they all pass (start, migrate_from).
pub(crate) fn wait_for_scripts(cfg: &LibvirtConfig, dl: &Deadline) -> OcfResult<()> {
    if cfg.monitor_scripts.is_empty() {
        return Ok(());
    }
    let mut last = None;
    let ok = dl.poll(Duration::from_secs(1), || match run_scripts(cfg, dl) {
        Ok(()) => Some(()),
        Err(e) => {
            last = Some(e);
            None
        }
    });
    match ok {
        Some(()) => Ok(()),
        None => Err(last.unwrap_or_else(|| OcfError::generic("monitor scripts did not pass"))),
    }
}

pub(crate) fn run_scripts(cfg: &LibvirtConfig, dl: &Deadline) -> OcfResult<()> {
    for s in &cfg.monitor_scripts {
        match exec::run(&Cmd::new(s), dl) {
            Ok(out) if out.success() => {}
            Ok(out) => {
                return Err(OcfError::generic(format!(
                    "monitor script {} failed: {}",
                    s.display(),
                    out.describe()
                )));
            }
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "monitor script {}: {e}",
                    s.display()
                )));
            }
        }
    }
    Ok(())
}

/// Where backingfile's overlay lives: next to the config file, named after
/// it up to its first dot (web.xml -> web.qcow2). VirtualDomain cuts the
/// whole path at its first dot, so a dot in a directory name breaks it.
pub fn overlay_path(config: &Path) -> PathBuf {
    let file = config
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    config.with_file_name(format!("{stem}.qcow2"))
}

/// backingfile: (re)create the qcow2 overlay the domain runs on, when it is
/// missing or empty, or always with `stateless`. The backing format is read
/// from the image and passed with -F: qemu-img refuses -b without it since
/// QEMU 6.1, which breaks VirtualDomain's plain `qemu-img create -b`.
fn prepare_overlay(
    backing: &Path,
    overlay: &Path,
    stateless: bool,
    dl: &Deadline,
) -> OcfResult<bool> {
    // qemu-img writes the overlay as root by its path: only in a directory
    // no one else can change (a link there is root's own doing).
    let (dir, file) = files::split(overlay).map_err(|e| OcfError::configured(e.to_string()))?;
    let dir_fd = files::checked_dir(&dir).map_err(|e| {
        OcfError::perm(format!(
            "backingfile: the overlay {} cannot be made safely: {e}",
            overlay.display()
        ))
    })?;
    let present = fs::metadata(overlay).is_ok_and(|m| m.len() > 0);
    if present && !stateless {
        ocf::info!("using the overlay {} (stateless=false)", overlay.display());
        return Ok(false);
    }
    ocf::deadline::set_phase("creating the overlay");
    let step_dl = dl.cap(Duration::from_secs(30));
    let info = exec::run(
        &Cmd::new("qemu-img")
            .args(["info", "--output=json", "-U"])
            .arg(backing.as_os_str()),
        &step_dl,
    )
    .map_err(|e| OcfError::generic(format!("qemu-img info {}: {e}", backing.display())))?;
    if !info.success() {
        return Err(OcfError::generic(format!(
            "qemu-img info {}: {}",
            backing.display(),
            info.describe()
        )));
    }
    let format = image_format(&info.stdout_str()).ok_or_else(|| {
        OcfError::generic(format!("qemu-img info {}: no format", backing.display()))
    })?;
    // A fresh file of ours that only root can read until libvirt hands it
    // to the guest's user: the guest's writes are nobody else's business
    // (qemu-img would create it world-readable). Whatever had the name
    // (the old overlay, an empty leftover, a link) is removed, never
    // followed.
    files::remove_in(&dir_fd, &file)
        .and_then(|()| files::create_empty(&dir_fd, &file, 0o600))
        .map_err(|e| {
            OcfError::generic(format!(
                "cannot make a fresh overlay {}: {e}",
                overlay.display()
            ))
        })?;
    let out = exec::run(
        &Cmd::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", &format, "-b"])
            .arg(backing.as_os_str())
            .arg(overlay.as_os_str()),
        &step_dl,
    )
    .map_err(|e| OcfError::generic(format!("qemu-img create {}: {e}", overlay.display())))?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "cannot create the overlay {} on {}: {}",
            overlay.display(),
            backing.display(),
            out.describe()
        )));
    }
    ocf::info!(
        "created the overlay {} on {} ({format})",
        overlay.display(),
        backing.display()
    );
    Ok(true)
}

/// copyindirs: what VirtualDomain does to a fresh overlay before the first
/// boot, `virt-copy-in -d NAME DIR... /` (libguestfs), at the domain's URI.
/// The directories are absolute paths (checked), so none reads as an option.
fn copy_in(cfg: &LibvirtConfig, name: &str, dl: &Deadline) -> OcfResult<()> {
    ocf::deadline::set_phase("virt-copy-in");
    let out = exec::run(
        &Cmd::new("virt-copy-in")
            .args(["-c", cfg.uri.as_str(), "-d", name])
            .args(cfg.copyindirs.iter().map(|d| d.as_os_str()))
            .arg("/"),
        dl,
    )
    .map_err(|e| OcfError::generic(format!("virt-copy-in into {name}: {e}")))?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "virt-copy-in into {name} failed: {}",
            out.describe()
        )));
    }
    ocf::info!("copied {} into {name} (copyindirs)", cfg.copyindirs.len());
    Ok(())
}

/// The top image's `format` in `qemu-img info --output=json` (a plain
/// word: it goes on qemu-img's argv).
pub fn image_format(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let f = v["format"].as_str()?;
    (!f.is_empty()
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| f.to_string())
}

/// The drop-in that orders Pacemaker's `resource-agents-deps.target` after
/// libvirtd and pulls in `virt-guest-shutdown.target`, so at node shutdown
/// systemd stops Pacemaker (which stops or migrates the VMs) before libvirtd
/// and libvirt-guests kill them (RA#1087, PR RA#1105).
pub const SYSTEMD_DROPIN: &str = "\
# Written by ocf:rust:vm: stop cluster VMs before libvirtd at shutdown (RA#1087).
[Unit]
After=libvirtd.service
Wants=virt-guest-shutdown.target
After=virt-guest-shutdown.target
";

/// On a systemd node (`<root>/run/systemd/system` exists), install
/// [`SYSTEMD_DROPIN`] under `<root>/run/systemd/system` if it is not there
/// yet and reload systemd, bounded. Returns the path when it wrote it.
pub fn systemd_ordering(root: &Path, dl: &Deadline) -> Option<PathBuf> {
    let units = root.join("run/systemd/system");
    if !units.is_dir() {
        return None;
    }
    let dir = units.join("resource-agents-deps.target.d");
    let file = dir.join("ocf-rs-vm-libvirt.conf");
    // Written as root into a directory systemd trusts: relative to checked
    // directories, never through a link, replaced atomically.
    let written = ocf::files::TrustedDir::open(&units, None)
        .and_then(|u| u.subdir("resource-agents-deps.target.d", Some(0o755)))
        .and_then(|d| {
            let current = d.read("ocf-rs-vm-libvirt.conf", 4096).ok();
            if current.as_deref() == Some(SYSTEMD_DROPIN.as_bytes()) {
                return Ok(false);
            }
            d.replace("ocf-rs-vm-libvirt.conf", SYSTEMD_DROPIN.as_bytes(), 0o644)
                .map(|()| true)
        });
    match written {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            ocf::warn!("cannot write {}: {e}", file.display());
            return None;
        }
    }
    if root == Path::new("/") {
        let reload = Cmd::new("systemctl").arg("daemon-reload");
        if let Err(e) = exec::run(&reload, &dl.cap(Duration::from_secs(10))) {
            ocf::warn!("systemctl daemon-reload: {e}");
        }
    }
    ocf::info!("installed {} (RA#1087)", file.display());
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypervisor::{DomState, Shutoff};
    use crate::tests::{Fake, cfg_with, configure, ctx};
    use ocf::Status;

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
}
