//! Stop: the configured domain and the one the record names (libvirt or
//! xl), each gracefully for a budgeted share of the time, keeping at least
//! a third (and 10 s where the timeout allows) for destroy, then undefined
//! and looked at again before the answer. When libvirtd is down or hung,
//! the domain's QEMU process (or, for Xen, xl) decides.

use std::path::Path;
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Agent, Context, Deadline, OcfError, OcfResult, Record};
pub use xen::destroy_reserve;
use xen::xl;

use crate::config::{Config, LibvirtConfig};
use crate::hypervisor::{HvError, Hypervisor, Libvirt, local_qemu, local_xen, xl_tool};
use crate::libvirt as lv;
use crate::monitor::utilization_cache;
use crate::record::{Started, Target, find, forget_legacy, unusable_plan, xl_plan_of};
use crate::start::snapshot_name;
use crate::{domxml, files, qemu};

/// Stop what this resource runs here (see the module doc).
pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let recorded = Started::recorded(ctx, Record::load(ctx).as_ref(), cfg.uri());
    let mut libvirt = Vec::new();
    let mut other_xl = None;
    match cfg {
        Config::Libvirt(c) => {
            files::state_remove(ctx, &utilization_cache(ctx));
            let configured = Target::named(&c.uri, c.name()?);
            libvirt.push((configured.clone(), c.how()));
            match &recorded {
                Some(Started::Libvirt { uri, name, uuid }) => {
                    let t = Target::recorded(uri, name, uuid.clone());
                    if !t.same_place(&configured) {
                        ocf::warn!(
                            "the configuration names {} at {}, but this resource started {} \
                             at {} here: stopping both",
                            configured.name,
                            configured.uri,
                            t.name,
                            t.uri
                        );
                        libvirt.push((t, c.plain_how()));
                    }
                }
                Some(xl_rec @ Started::Xl(_)) => other_xl = xl_plan_of(xl_rec, c),
                None => {}
            }
        }
        Config::Xl { .. } => {
            if let Some(Started::Libvirt { uri, name, uuid }) = &recorded {
                ocf::warn!(
                    "this resource started {name} at {uri} through libvirt: stopping it too"
                );
                libvirt.push((Target::recorded(uri, name, uuid.clone()), cfg.plain_how()));
            }
        }
    }
    let xl = match cfg {
        Config::Xl { xl, .. } => Some(xl),
        Config::Libvirt(_) => None,
    };
    let mut result = Ok(());
    if !libvirt.is_empty() {
        let part = if xl.is_some() || other_xl.is_some() {
            dl.share(0.5)
        } else {
            dl.cap(dl.remaining())
        };
        result = stop_targets(&libvirt, &part);
    }
    if let Some(plan) = &other_xl {
        result = result.and(xen::stop::stop_plan(plan, ctx, dl));
    }
    if let Some(x) = xl {
        result = result.and(xen::Xen::stop(x, ctx, dl));
    }
    if result.is_ok() {
        forget_legacy(ctx);
    }
    result
}

/// Something is wrong (a parameter our table refuses, the config file
/// gone or unreadable, libvirt or a monitor script missing), yet a VM
/// may still run here: stop what the record names (by UUID) and what
/// the raw parameters still name, and answer 0 only when none of it
/// runs (RA#137, RA#1293).
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    if let Some(c @ Config::Libvirt(lc)) = cfg
        && lc.load_domain().is_ok()
    {
        // Only a node check failed: the domain is known, stop it as usual.
        ocf::warn!("stop: {}; stopping {} anyway", why.reason, lc.name()?);
        return stop(c, ctx, dl);
    }
    let plan = unusable_plan(cfg, rec, ctx);
    if plan.is_empty() {
        ocf::info!(
            "stop: {}; nothing of this resource is recorded or named here, so nothing of \
             it runs",
            why.reason
        );
        forget_legacy(ctx);
        return Ok(());
    }
    ocf::warn!(
        "stop: {}; stopping what the record and the parameters still name: {}",
        why.reason,
        plan.describe()
    );
    let mut result = Ok(());
    if !plan.libvirt.is_empty() {
        let part = if plan.xl.is_some() {
            dl.share(0.5)
        } else {
            dl.cap(dl.remaining())
        };
        result = stop_targets(&plan.libvirt, &part);
    }
    if plan.xl.is_some() || plan.xl_recorded {
        result = result.and(xen::unusable::stop_unusable(
            plan.xl,
            plan.xl_recorded,
            ctx,
            why,
            dl,
        ));
    }
    if result.is_ok() {
        forget_legacy(ctx);
    }
    result
}

/// How stop asks a domain to go.
#[derive(Clone, Copy, Debug, Default)]
pub struct StopHow<'a> {
    pub force: bool,
    /// libvirt shutdown flags (0: the hypervisor's default).
    pub mode: u32,
    /// Save the memory here instead of shutting down (the configured domain).
    pub snapshot: Option<&'a Path>,
    /// save_config_on_stop: write libvirt's XML back (the configured domain).
    pub save: Option<&'a LibvirtConfig>,
}

impl LibvirtConfig {
    /// Everything the configuration asks of stop, for its own domain.
    pub fn how(&self) -> StopHow<'_> {
        StopHow {
            force: self.force_stop,
            mode: self.shutdown_mode,
            snapshot: self.snapshot.as_deref(),
            save: self.save_config.then_some(self),
        }
    }

    /// For a domain the record names that is not the configured one.
    pub fn plain_how(&self) -> StopHow<'static> {
        StopHow {
            force: self.force_stop,
            mode: self.shutdown_mode,
            snapshot: None,
            save: None,
        }
    }
}

impl Config {
    /// How stop asks a domain the record names (force_stop, shutdown_mode).
    pub fn plain_how(&self) -> StopHow<'static> {
        match self {
            Config::Libvirt(c) => c.plain_how(),
            Config::Xl { xl, .. } => StopHow {
                force: xl.shutdown_timeout == Some(Duration::ZERO),
                mode: if xl.acpi { lv::SHUTDOWN_ACPI } else { 0 },
                snapshot: None,
                save: None,
            },
        }
    }
}

/// How often a graceful stop repeats its shutdown request.
const RESEND_SHUTDOWN: Duration = Duration::from_secs(5);

/// Stop each target, each with an equal share of the time left; the first
/// failure is the answer, after every target had its turn.
pub(crate) fn stop_targets(list: &[(Target, StopHow)], dl: &Deadline) -> OcfResult<()> {
    let mut result = Ok(());
    for (i, (t, how)) in list.iter().enumerate() {
        let part = dl.share(1.0 / (list.len() - i) as f64);
        let reserve = destroy_reserve(part.remaining());
        // Connecting gets at most a quarter of the time: a hung libvirtd
        // must leave enough for ending QEMU ourselves.
        let connect_dl = part.cap(part.remaining() / 4);
        let r = match Libvirt::connect(&t.uri, &connect_dl) {
            Ok(hv) => stop_on(&hv, t, how, &part, reserve),
            Err(e) => {
                ocf::warn!("stop: {e}");
                stop_without_hypervisor(t, &e, &part)
            }
        };
        result = result.and(r);
    }
    result
}

/// Stop the target's domain on `hv`: graceful for a budgeted share (or a
/// snapshot, or straight to destroy with force), then destroy, undefine,
/// and re-read the state before answering.
pub(crate) fn stop_on(
    hv: &dyn Hypervisor,
    t: &Target,
    how: &StopHow,
    dl: &Deadline,
    reserve: Duration,
) -> OcfResult<()> {
    let (name, first) = match find(hv, t, &dl.cap(dl.remaining() / 4)) {
        Ok(Some(found)) => found,
        Ok(None) => {
            ocf::info!("{} is not defined at {}: already stopped", t.name, t.uri);
            return Ok(());
        }
        Err(e) => return stop_without_hypervisor(t, &e, dl),
    };
    let look = |d: &Deadline| hv.lookup(&name, d);
    if first.state.is_active() {
        if let Some(cfg) = how.save {
            save_config(
                hv,
                cfg,
                &name,
                &dl.keep_back(reserve).cap(Duration::from_secs(10)),
            );
        }
        let graceful = dl.keep_back(reserve);
        let mut gone = false;
        if let Some(dir) = how.snapshot {
            ocf::deadline::set_phase("saving the domain's memory");
            match files::checked_dir(dir) {
                Ok(dir_fd) => {
                    let file = snapshot_name(&name);
                    let path = dir.join(&file);
                    match hv.save(&name, &path.to_string_lossy(), &graceful) {
                        Ok(()) => {
                            ocf::info!("{name} saved to {}", path.display());
                            gone = true;
                        }
                        Err(e) => {
                            ocf::warn!("cannot save {name} to {}: {e}", path.display());
                            let _ = files::remove_in(&dir_fd, &file);
                        }
                    }
                }
                // Stop must still stop: a shutdown instead of a memory
                // image libvirtd would write where others can plant links.
                Err(e) => ocf::warn!(
                    "snapshot: not saving {name}'s memory ({e}); shutting it down instead"
                ),
            }
        }
        if !gone && !how.force && !graceful.expired() {
            ocf::deadline::set_phase("graceful shutdown");
            ocf::info!(
                "{name}: asking the guest to shut down ({:.0}s, then destroy)",
                graceful.remaining().as_secs_f64()
            );
            match hv.shutdown(&name, how.mode, &graceful) {
                Ok(()) => {
                    let mut asked = std::time::Instant::now();
                    let outcome = graceful.poll(Duration::from_millis(250), || {
                        match look(&graceful.cap(Duration::from_secs(5))) {
                            Ok(v) if !v.state.is_active() => Some(Ok(())),
                            Err(HvError::NoDomain) => Some(Ok(())),
                            // libvirtd stopped answering: QEMU runs with
                            // -no-shutdown and will not exit by itself.
                            Err(e) if e.is_unreachable() && !graceful.expired() => Some(Err(e)),
                            _ => {
                                // A guest still booting misses the request
                                // (no ACPI handler yet): ask again.
                                if asked.elapsed() >= RESEND_SHUTDOWN && !graceful.expired() {
                                    asked = std::time::Instant::now();
                                    let _ = hv.shutdown(
                                        &name,
                                        how.mode,
                                        &graceful.cap(Duration::from_secs(5)),
                                    );
                                }
                                None
                            }
                        }
                    });
                    if let Some(Err(e)) = outcome {
                        return stop_without_hypervisor(t, &e, dl);
                    }
                    gone = outcome.is_some();
                    if gone {
                        ocf::info!("{name}: the guest shut down");
                    } else {
                        ocf::warn!("{name}: the guest did not shut down in time");
                    }
                }
                Err(HvError::NoDomain) => gone = true,
                Err(e) if e.is_unreachable() => {
                    return stop_without_hypervisor(t, &e, dl);
                }
                Err(e) => ocf::warn!("{name}: graceful shutdown refused: {e}"),
            }
        }
        if !gone {
            ocf::deadline::set_phase("destroy");
            // Keep a little for ending QEMU ourselves if destroy hangs.
            let fallback = if local_qemu(&t.uri) {
                (dl.remaining() / 4).min(Duration::from_secs(5))
            } else {
                Duration::ZERO
            };
            let destroy_dl = dl.keep_back(fallback);
            match hv.destroy(&name, &destroy_dl) {
                Ok(()) => ocf::info!("{name} destroyed"),
                Err(HvError::NoDomain) => {}
                Err(HvError::Failed(m)) => ocf::warn!("{name}: destroy: {m}"),
                Err(e) => return stop_without_hypervisor(t, &e, dl),
            }
        }
    }
    // Undefine what start defined, then re-read the state (RA#1293).
    ocf::deadline::set_phase("verifying the domain is gone");
    let end = dl.cap(dl.remaining());
    let verdict = end.poll(Duration::from_millis(200), || {
        match look(&end.cap(Duration::from_secs(5))) {
            Err(HvError::NoDomain) => Some(Ok(())),
            Ok(v) if !v.state.is_active() => {
                if v.persistent
                    && let Err(e) = hv.undefine(&name, &end.cap(Duration::from_secs(5)))
                {
                    ocf::warn!("{name} is stopped but could not be undefined: {e}");
                }
                Some(Ok(()))
            }
            Ok(_) => None,
            Err(e) if e.is_unreachable() => Some(Err(e)),
            Err(_) => None,
        }
    });
    match verdict {
        Some(Ok(())) => {
            ocf::info!("{name} is stopped");
            Ok(())
        }
        Some(Err(e)) => stop_without_hypervisor(t, &e, dl),
        None => Err(OcfError::generic(format!(
            "{name} is still running after destroy"
        ))),
    }
}

/// libvirt is unreachable during stop: decide by the QEMU process (found by
/// the recorded UUID when there is one), or for Xen by what xl says.
pub(crate) fn stop_without_hypervisor(t: &Target, why: &HvError, dl: &Deadline) -> OcfResult<()> {
    let name = t.name.as_str();
    if local_xen(&t.uri) {
        ocf::deadline::set_phase("stopping through xl without libvirt");
        let xl = xl_tool();
        let gone = |d: &Deadline| {
            exec::which("xl").is_none()
                || matches!(
                    xl.lookup(name, d),
                    xl::Lookup::Absent | xl::Lookup::NoHypervisor(_)
                )
        };
        if gone(&dl.cap(Duration::from_secs(10))) {
            ocf::info!("{name}: {why}; xl shows no such domain, so it is stopped");
            return Ok(());
        }
        ocf::warn!("{name}: {why}; destroying it with xl");
        if let Err(e) = xl.destroy(name, dl) {
            ocf::warn!("{e}");
        }
        return match dl.poll(Duration::from_millis(300), || gone(dl).then_some(())) {
            Some(()) => Ok(()),
            None => Err(OcfError::generic(format!(
                "cannot stop {name}: {why}, and xl still shows it after destroy"
            ))),
        };
    }
    if !local_qemu(&t.uri) {
        return Err(OcfError::generic(format!(
            "cannot stop {name}: {why}, and its emulator is not on this host to check"
        )));
    }
    ocf::deadline::set_phase("ending QEMU without libvirt");
    if qemu::pids_of(t.guest()).is_empty() {
        ocf::info!("{name}: {why}; no QEMU process of it runs, so it is stopped");
        return Ok(());
    }
    ocf::warn!("{name}: {why}; ending its QEMU process directly");
    if qemu::kill(t.guest(), Duration::from_secs(5), dl) {
        ocf::info!("{name}: its QEMU process is gone, so it is stopped");
        Ok(())
    } else {
        Err(OcfError::generic(format!(
            "{name}: {why}, and its QEMU process survived SIGKILL"
        )))
    }
}

/// save_config_on_stop: write libvirt's persistent XML back to the config
/// file when it differs, then (sync_config_on_stop) hand the file to csync2.
pub(crate) fn save_config(hv: &dyn Hypervisor, cfg: &LibvirtConfig, name: &str, dl: &Deadline) {
    if write_config(hv, cfg, name, dl) && cfg.sync_config {
        sync_config(cfg, dl);
    }
}

/// `csync2 -x FILE`, bounded; a failure is only logged (VirtualDomain does the same).
fn sync_config(cfg: &LibvirtConfig, dl: &Deadline) {
    let file = cfg.config.display().to_string();
    ocf::info!("syncing {file} to the other nodes with csync2 -x");
    let cmd = Cmd::new("csync2").arg("-x").arg(&file);
    match exec::run(&cmd, dl) {
        Ok(out) if out.success() => {}
        Ok(out) => ocf::warn!("csync2 -x {file} failed: {}", out.describe()),
        Err(e) => ocf::warn!("csync2 -x {file} failed: {e}"),
    }
}

/// Did the file change? The XML holds the guest's VNC/SPICE passwords
/// (it is read with the secure flag): it goes only into the config file,
/// through [`files::save`] (a checked directory, never through a link, the
/// old file's owner and mode, never readable by others while written), and
/// never into a log line or an exit reason.
fn write_config(hv: &dyn Hypervisor, cfg: &LibvirtConfig, name: &str, dl: &Deadline) -> bool {
    let xml = match hv.config_xml(name, dl) {
        Ok(x) => x,
        Err(e) => {
            ocf::warn!("save_config_on_stop: cannot read the XML of {name}: {e}");
            return false;
        }
    };
    match domxml::parse(&xml) {
        Ok(d) if d.name == name => {}
        _ => {
            ocf::warn!("save_config_on_stop: libvirt's XML of {name} does not parse; not saved");
            return false;
        }
    }
    match files::save(&cfg.config, xml.as_bytes()) {
        Ok(files::Saved::Unchanged) => {
            ocf::debug!("{name}: the config file already holds libvirt's XML");
            false
        }
        Ok(files::Saved::Written(path)) => {
            if path == cfg.config {
                ocf::info!("saved the configuration of {name} to {}", path.display());
            } else {
                ocf::info!(
                    "saved the configuration of {name} to {} (the target of the link {})",
                    path.display(),
                    cfg.config.display()
                );
            }
            true
        }
        Err(e) => {
            ocf::warn!(
                "save_config_on_stop: not saved to {}: {e}",
                cfg.config.display()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypervisor::DomState;
    use crate::tests::{Fake, cfg_with, stop_configured};
    use std::time::Instant;

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
}
