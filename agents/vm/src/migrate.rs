//! Live migration through libvirt: migrate_to sends the domain to the
//! target's hypervisor (its URI and the migration URI built from the
//! parameters), migrate_from waits for it to arrive and records it.

use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{LibvirtConfig, shown};
use crate::hypervisor::{HvError, Hypervisor, Migration};
use crate::libvirt as lv;
use crate::record::{Started, Target, forget_legacy, refuse_over_recorded};
use crate::start::{connect, wait_for_scripts};
use crate::stop::save_config;

pub fn migrate_to(cfg: &LibvirtConfig, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let name = cfg.name()?.to_string();
    let target = ctx.migrate_target().ok_or_else(|| {
        OcfError::generic(format!(
            "migrate_to of {name}: no target node (CRM_meta_migrate_target is not set)"
        ))
    })?;
    // The node name becomes the host of the remote URI (which libvirt
    // may hand to ssh) and of the migration URI: an address or a host
    // name only.
    let host = with_suffix(target, cfg.suffix.as_deref());
    if let Err(why) = xen::xl::migration_host(&host) {
        return Err(OcfError::args(format!(
            "migrate_to of {name}: the target's host {why}"
        )));
    }
    let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
    let view = hv.lookup(&name, dl).map_err(|e| match e {
        HvError::NoDomain => OcfError::generic(format!(
            "migrate_to: {name} is not running here, nothing to migrate"
        )),
        e => OcfError::generic(format!("migrate_to: {e}")),
    })?;
    if !view.state.is_active() {
        return Err(OcfError::generic(format!(
            "migrate_to: {name} is {} here, nothing to migrate",
            view.state
        )));
    }
    if cfg.save_config {
        save_config(&hv, cfg, &name, &dl.cap(Duration::from_secs(10)));
    }
    let m = migration(cfg, target);
    for o in &cfg.migrate.ignored {
        ocf::info!("migrate_options: {o} is virsh's own option, without effect here: ignored");
    }
    ocf::info!(
        "{name}: live migration to {target} ({}{})",
        shown(&m.remote_uri),
        m.migrate_uri
            .as_deref()
            .map(|u| format!(", data over {}", shown(u)))
            .unwrap_or_default()
    );
    let t = std::time::Instant::now();
    hv.migrate(&name, &m, dl).map_err(|e| {
        OcfError::generic(format!("live migration of {name} to {target} failed: {e}"))
    })?;
    // The record stays until the stop that follows finds nothing here.
    ocf::info!(
        "{name}: live migration to {target} succeeded in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn migrate_from(cfg: &LibvirtConfig, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let (dom, _) = cfg.dom()?;
    let name = dom.name.clone();
    let hv = connect(cfg, &dl.cap(Duration::from_secs(30)))?;
    refuse_over_recorded(ctx, Some(&Target::named(&cfg.uri, &name)), dl)?;
    // Recorded before it arrives: a domain that lands after a timeout is
    // still found by stop.
    let started = Started::Libvirt {
        uri: cfg.uri.clone(),
        name: name.clone(),
        uuid: dom.uuid.clone(),
    };
    started.save(ctx);
    forget_legacy(ctx);
    let running = |d: &Deadline| {
        hv.lookup(&name, d)
            .ok()
            .filter(|v| v.state.is_active())
            .map(|v| v.uuid)
    };
    let Some(source) = ctx.migrate_source() else {
        if let Some(uuid) = running(dl) {
            started.with_uuid(&uuid).save(ctx);
            ocf::info!("migrate_from: {name} already runs here");
            return wait_for_scripts(cfg, dl);
        }
        return Err(OcfError::generic(format!(
            "migrate_from of {name}: no source node (CRM_meta_migrate_source is not \
             set) and the domain does not run here"
        )));
    };
    let arrived = dl.poll(Duration::from_millis(250), || {
        running(&dl.cap(Duration::from_secs(5)))
    });
    let Some(uuid) = arrived else {
        return Err(OcfError::generic(format!(
            "migrate_from: {name} did not arrive from {source} in time"
        )));
    };
    started.with_uuid(&uuid).save(ctx);
    ocf::info!("{name}: live migration from {source} succeeded");
    wait_for_scripts(cfg, dl)
}

/// A port of 49152-49215, as VirtualDomain's `migrateport` default.
fn random_migration_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    49152 + (RandomState::new().hash_one(std::process::id()) % 64) as u16
}

/// `node2.example.com` + `-mig` -> `node2-mig.example.com`.
pub fn with_suffix(node: &str, suffix: Option<&str>) -> String {
    match suffix {
        None | Some("") => node.to_string(),
        Some(s) => match node.split_once('.') {
            Some((first, rest)) => format!("{first}{s}.{rest}"),
            None => format!("{node}{s}"),
        },
    }
}

/// The target's hypervisor URI, from `remoteuri` or from the local URI.
pub fn remote_uri(cfg: &LibvirtConfig, target: &str) -> String {
    if let Some(r) = &cfg.remoteuri {
        return r.replace("%n", target);
    }
    let host = with_suffix(target, cfg.suffix.as_deref());
    let (scheme, rest) = cfg.uri.split_once("://").unwrap_or((&cfg.uri, ""));
    let (driver, transport) = match scheme.split_once('+') {
        Some((d, t)) => (d, Some(t)),
        None => (scheme, None),
    };
    let transport = cfg.transport.as_deref().or(transport);
    // Keep the path, drop the local authority and any query (?socket=...).
    let after_host = rest.find('/').map_or("/system", |i| &rest[i..]);
    let path = after_host.split('?').next().unwrap_or("/system");
    let user = cfg
        .user
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let port = rest
        .split('/')
        .next()
        .and_then(|auth| auth.rsplit_once('@').map_or(Some(auth), |(_, h)| Some(h)))
        .and_then(|h| h.rsplit_once(':').map(|(_, p)| format!(":{p}")))
        .unwrap_or_default();
    match transport {
        Some(t) => format!("{driver}+{t}://{user}{host}{port}{path}"),
        None => format!("{driver}://{user}{host}{port}{path}"),
    }
}

/// Everything `migrate_to` hands to the backend. `%n` in a migration URI
/// is the target as VirtualDomain names it there: with
/// migration_network_suffix applied unless remoteuri is set. Without
/// migrateport the port is VirtualDomain's default, a random one of
/// 49152-49215 (libvirt's own migration port range).
pub fn migration(cfg: &LibvirtConfig, target: &str) -> Migration {
    let named = if cfg.remoteuri.is_some() {
        target.to_string()
    } else {
        with_suffix(target, cfg.suffix.as_deref())
    };
    let migrate_uri = match (&cfg.migrateuri, &cfg.suffix) {
        (Some(u), _) => Some(u.replace("%n", &named)),
        (None, Some(_)) => Some(format!(
            "tcp://{}:{}",
            with_suffix(target, cfg.suffix.as_deref()),
            cfg.migrateport.unwrap_or_else(random_migration_port)
        )),
        (None, None) => None,
    };
    Migration {
        remote_uri: remote_uri(cfg, target),
        migrate_uri,
        flags: lv::MIGRATE_LIVE
            | lv::MIGRATE_PERSIST_DEST
            | lv::MIGRATE_UNDEFINE_SOURCE
            | cfg.migrate.flags,
        bandwidth: cfg.speed,
        downtime_ms: cfg.downtime_ms,
        params: cfg.migrate.params.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypervisor::local_qemu;
    use crate::tests::{cfg_with, configure, ctx};
    use crate::{Config, Vm};
    use ocf::{Agent, Status};

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
        let uri = m.migrate_uri.clone().unwrap();
        let port: u16 = uri
            .strip_prefix("tcp://node2-mig.example.com:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{uri}"));
        assert!((49152..=49215).contains(&port), "{uri}");
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
        // %n is the target with the suffix, unless remoteuri is set.
        let (_t, c) = cfg_with(
            "uri5",
            &[
                ("OCF_RESKEY_migration_network_suffix", "-mig"),
                ("OCF_RESKEY_migrateuri", "tcp://%n:49155"),
                ("OCF_RESKEY_migrate_options", "--migrateuri=tcp://other"),
            ],
        );
        assert_eq!(
            migration(&c, "n2.example.com").migrate_uri.as_deref(),
            Some("tcp://n2-mig.example.com:49155")
        );
        let (_t, c) = cfg_with(
            "uri6",
            &[
                ("OCF_RESKEY_migration_network_suffix", "-mig"),
                ("OCF_RESKEY_remoteuri", "qemu+tcp://%n/system"),
                ("OCF_RESKEY_migrate_options", "--migrateuri=tcp://%n:49156"),
            ],
        );
        assert_eq!(
            migration(&c, "n2").migrate_uri.as_deref(),
            Some("tcp://n2:49156")
        );
        assert!(local_qemu("qemu:///system"));
        assert!(local_qemu("qemu+unix:///system?socket=/x/sock"));
        assert!(!local_qemu("qemu+tcp://10.0.0.1/system"));
        assert!(!local_qemu("xen:///system"));
    }

    /// Issue 14: the target node's name goes into URIs that libvirt may hand
    /// to ssh: migrate_to refuses one that is no host name, before any call.
    #[test]
    fn a_migration_target_that_is_no_host_name_is_refused() {
        let (_t, cfg) = cfg_with(
            "badtarget",
            &[("OCF_RESKEY_remoteuri", "qemu+ssh://%n/system")],
        );
        let cfg = Config::Libvirt(cfg);
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
}
