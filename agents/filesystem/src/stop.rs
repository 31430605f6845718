//! Stop: umount(2) first; only on EBUSY a scan of /proc finds the
//! holders, which get the term signals for the first half of the budget
//! and the kill signals after; submounts first; all inside ONE budget.

use std::path::Path;
use std::time::{Duration, Instant};

use ocf::{Context, Deadline, OcfError, OcfResult};
use rustix::io::Errno;
use rustix::mount::{UnmountFlags, unmount};

use crate::bounded_io;
use crate::config::{Config, NETWORK, lenient_config, normalize, recorded_config};
use crate::holders;
use crate::monitor::status_file;
use crate::mountinfo::{self, Mount};
use crate::ours::{find, mount_dir, read_mounts};
use crate::params::system_directory;
use crate::record::{self, Recorded};
use crate::signals;

/// Stop what the configuration names on its directory and what start
/// recorded, wherever that is now (a parameter changed to another valid
/// value, a directory renamed, a device link gone).
pub fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let rec = record::load(ctx);
    stop_found(cfg, rec.as_ref(), ctx, dl)
}

/// Stop with parameters that do not validate: unmount what the record
/// names and what the raw device and directory still identify (with
/// the valid values and defaults for the rest); 0 only when nothing of
/// ours is left mounted, because a filesystem left mounted here while
/// Pacemaker believes it stopped can be mounted on a second node.
pub fn stop_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    why: &OcfError,
    dl: &Deadline,
) -> OcfResult<()> {
    if let Some(cfg) = cfg {
        return stop(cfg, ctx, dl);
    }
    let rec = rec.and_then(Recorded::from_record);
    let Some(cfg) =
        lenient_config(ctx).or_else(|| rec.as_ref().and_then(|r| recorded_config(r, ctx)))
    else {
        ocf::info!(
            "stop: {}; no record of a start here and no usable device and directory, so nothing of ours can be mounted",
            why.reason
        );
        return Ok(());
    };
    ocf::warn!(
        "stop: {}; unmounting {} from {}{} with default settings where they do not validate",
        why.reason,
        cfg.device_text,
        cfg.directory.display(),
        if rec.is_some() {
            " and what start recorded"
        } else {
            ""
        }
    );
    stop_found(&cfg, rec.as_ref(), ctx, dl)
}

/// Stop everything of ours `cfg` and `rec` find: each mount with what sits
/// on it (submounts, mounts stacked on top), every copy stacked on the
/// same place, and other mounts of the same block device (binds of it
/// elsewhere keep the device busy), all inside one budget.
fn stop_found(cfg: &Config, rec: Option<&Recorded>, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let dl = if cfg.fast_stop {
        dl.cap(Duration::from_secs(6))
    } else {
        *dl
    };
    let mounts = read_mounts()?;
    let dir = mount_dir(cfg, &mounts);
    let ours = find(cfg, rec, ctx, &mounts, &dir, &dl);
    let roots = ours.all();
    if roots.is_empty() {
        if let Some(other) = mountinfo::at(&mounts, &dir).last() {
            ocf::info!(
                "{} is not mounted on {} ({} is, and is left alone)",
                cfg.device_text,
                dir.display(),
                other.source_text()
            );
        } else {
            ocf::info!("{} is not mounted on {}", cfg.device_text, dir.display());
        }
        return Ok(());
    }
    if ours.config.is_empty()
        && let Some(m) = ours.record.last()
    {
        ocf::warn!(
            "{} is not mounted on {}, but what start mounted ({} on {}, mount ID {}) is: unmounting that",
            cfg.device_text,
            dir.display(),
            m.source_text(),
            m.mount_point.display(),
            m.id
        );
    }
    // The status file of depth 20 goes first; a failure is only a warning.
    let mut places: Vec<&Path> = roots.iter().map(|m| m.mount_point.as_path()).collect();
    places.sort();
    places.dedup();
    let status = status_file(cfg, ctx);
    for place in places {
        if let Err(e) = bounded_io::remove(place, &status, &dl.cap(Duration::from_secs(2))) {
            ocf::warn!(
                "cannot remove the status file {}: {e}",
                status.path(place).display()
            );
        }
    }
    let mut ids: Vec<u32> = roots.iter().map(|m| m.id).collect();
    // Other mounts of the same filesystem (binds of its subdirectories
    // elsewhere) keep the device in use after ours is gone. Never one above
    // our directory: that would be unmounting (and signalling the holders
    // of) a parent. Not for a bind: its device is the source's.
    let bind_root = |m: &Mount| {
        (ours.config.iter().any(|c| c.id == m.id) && (cfg.bind || !cfg.is_block_kind()))
            || (ours.record.iter().any(|r| r.id == m.id)
                && rec.is_some_and(|r| r.is_bind() || !record::recorded_block_kind(r)))
    };
    for root in &roots {
        if root.major == 0 || bind_root(root) {
            continue;
        }
        for m in mounts.iter().rev() {
            let above = m.mount_point != root.mount_point
                && mountinfo::is_within(&root.mount_point, &m.mount_point);
            if !ids.contains(&m.id)
                && (m.major, m.minor) == (root.major, root.minor)
                && !above
                && m.mount_point != Path::new("/")
            {
                ocf::info!(
                    "{} is also mounted on {}; unmounting that too",
                    root.source_text(),
                    m.mount_point.display()
                );
                ids.push(m.id);
            }
        }
    }
    let mut targets: Vec<Mount> = mountinfo::unmount_order(&mounts, &ids)
        .into_iter()
        .cloned()
        .collect();
    targets.retain(|t| t.mount_point != Path::new("/"));
    let started = Instant::now();
    let term_until = started + dl.remaining() / 2;
    for t in &targets {
        unmount_one(cfg, t, &dl, term_until)?;
    }
    let after = read_mounts()?;
    let left: Vec<&Mount> = roots
        .iter()
        .filter(|r| {
            after
                .iter()
                .any(|m| m.id == r.id && (m.major, m.minor) == (r.major, r.minor))
        })
        .copied()
        .collect();
    if let Some(l) = left.first() {
        return Err(OcfError::generic(format!(
            "{} is still mounted on {}",
            l.source_text(),
            l.mount_point.display()
        )));
    }
    ocf::info!(
        "{} unmounted from {} in {:.2}s",
        cfg.device_text,
        roots
            .iter()
            .map(|m| m.mount_point.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// umount2 with UMOUNT_NOFOLLOW (and MNT_FORCE when `force`).
fn umount(path: &Path, force: bool) -> Result<(), Errno> {
    let mut flags = UnmountFlags::NOFOLLOW;
    if force {
        flags |= UnmountFlags::FORCE;
    }
    unmount(path, flags)
}

fn still_mounted(id: u32) -> bool {
    mountinfo::read().map_or(true, |m| m.iter().any(|x| x.id == id))
}

/// Unmount one mount: umount first; on EBUSY signal its holders (term
/// signals until `term_until`, kill signals after) and retry every 20 ms
/// for `signal_delay`, until the shared deadline. Never signalled: this
/// agent and its ancestors and children, init, the cluster stack's daemons,
/// and anyone at all when the mount sits on a system directory (another
/// mount of our device bound there by hand): the stop then fails, truthfully.
fn unmount_one(cfg: &Config, m: &Mount, dl: &Deadline, term_until: Instant) -> OcfResult<()> {
    let path = &m.mount_point;
    ocf::deadline::set_phase(&format!("unmounting {}", path.display()));
    let network = cfg.is_network() || NETWORK.contains(&m.fstype.as_str());
    let guard = holders::Guard::new();
    let system = system_directory(&normalize(path));
    let mut last_holders: Vec<holders::Holder> = Vec::new();
    let mut rounds = 0u32;
    loop {
        let force = network && Instant::now() >= term_until;
        match umount(path, force) {
            Ok(()) => {
                ocf::info!("unmounted {}", path.display());
                return Ok(());
            }
            Err(Errno::INVAL | Errno::NOENT) if !still_mounted(m.id) => {
                return Ok(());
            }
            Err(Errno::BUSY) => {}
            Err(e) => ocf::warn!("umount {}: {e}", path.display()),
        }
        if dl.expired() {
            // No new scan here: past the deadline only the watchdog's margin
            // is left, and a scan of /proc on a loaded node can take longer.
            let loops = holders::loop_devices_within(path);
            let who = if !loops.is_empty() && last_holders.is_empty() {
                format!("; the kernel holds it for {}", loops.join(", "))
            } else if last_holders.is_empty() {
                String::new()
            } else {
                format!(
                    "; still held by {}",
                    last_holders
                        .iter()
                        .take(5)
                        .map(|h| match (&h.protected, &system) {
                            (Some(why), _) => format!("{h} ({why}: never signalled)"),
                            (None, Some(_)) => format!("{h} (not signalled: a system directory)"),
                            (None, None) => h.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(OcfError::generic(format!(
                "could not unmount {} within the stop timeout{who}",
                path.display()
            )));
        }
        rounds += 1;
        if cfg.force_unmount {
            let phase_kill = Instant::now() >= term_until;
            let signals = if phase_kill {
                &cfg.kill_signals
            } else {
                &cfg.term_signals
            };
            let found = holders::scan(path, &guard);
            if found.is_empty() {
                let loops = holders::loop_devices_within(path);
                if loops.is_empty() {
                    ocf::info!(
                        "{} is busy, but no process holds anything under it",
                        path.display()
                    );
                } else {
                    ocf::warn!(
                        "{} is busy: the kernel holds it for {}; detach those to free it",
                        path.display(),
                        loops.join(", ")
                    );
                }
            }
            if let Some(why) = &system
                && rounds == 1
                && !found.is_empty()
            {
                ocf::warn!(
                    "{} is busy, but {why}: its holders are never signalled",
                    path.display()
                );
            }
            for h in &found {
                let seen = last_holders.iter().any(|o| o.pid == h.pid);
                if let Some(why) = &h.protected {
                    if !seen {
                        ocf::warn!(
                            "{h} holds {}, but it is {why}: never signalled",
                            path.display()
                        );
                    }
                    continue;
                }
                if system.is_some() {
                    if !seen {
                        ocf::warn!("{h} holds {}: not signalled", path.display());
                    }
                    continue;
                }
                for &s in signals {
                    ocf::info!(
                        "{} is busy: sending {} to {h}",
                        path.display(),
                        signals::signal_name(s)
                    );
                    signals::signal(h.pid, s);
                }
            }
            last_holders = found;
        } else if rounds == 1 {
            // Only to name them if the stop fails: nobody is signalled.
            last_holders = holders::scan(path, &guard);
            ocf::info!(
                "{} is busy; force_unmount=false, so only retrying",
                path.display()
            );
        }
        let wait = dl.cap(cfg.signal_delay.max(Duration::from_millis(100)));
        let done = wait.poll(Duration::from_millis(20), || {
            let force = network && Instant::now() >= term_until;
            match umount(path, force) {
                Ok(()) => Some(true),
                Err(Errno::INVAL | Errno::NOENT) if !still_mounted(m.id) => Some(true),
                Err(_) => None,
            }
        });
        if done.is_some() {
            ocf::info!("unmounted {}", path.display());
            return Ok(());
        }
    }
}
