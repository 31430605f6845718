//! Live migration with `xl migrate` (migrate_to), and the arrival of the
//! domain on the target (migrate_from).

use std::time::Duration;

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::Config;
use crate::files::state_remove;
use crate::monitor::update_utilization;
use crate::record::{Started, mark_stopped, stopped_marker};
use crate::start::{record_uuid, refuse_over_recorded, share_memory, wait_running};
use crate::xl::{self, Lookup};

pub fn migrate_to(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let name = cfg.domain_name(ctx)?.to_string();
    let target = ctx.migrate_target().ok_or_else(|| {
        OcfError::generic("migrate_to needs a target node (CRM_meta_migrate_target)")
    })?;
    match cfg.xl.lookup(&name, dl) {
        Lookup::Found { state, .. } if state.is_alive() => {}
        Lookup::Unknown(why) => return Err(OcfError::generic(why)),
        _ => {
            return Err(OcfError::generic(format!(
                "domain {name} is not running here: nothing to migrate"
            )));
        }
    }
    // As ocf:heartbeat:Xen: an attribute that is missing, empty or
    // unreadable leaves the migration on the node's name, with a warning.
    let address = match &cfg.node_ip_attribute {
        Some(attr) => match ocf::cluster::node_attribute(target, attr, dl) {
            Ok(Some(a)) if !a.is_empty() && a != "(null)" => {
                ocf::info!("{target} is using address {a} ({attr})");
                a
            }
            Ok(_) => {
                ocf::warn!("node {target} has no attribute {attr}: migrating to its node name");
                target.to_string()
            }
            Err(e) => {
                ocf::warn!("reading {attr} of {target}: {e}: migrating to its node name");
                target.to_string()
            }
        },
        None => target.to_string(),
    };
    // xl runs `exec ssh ADDRESS xl migrate-receive` through a shell.
    if let Err(why) = xl::migration_host(&address) {
        let whose = match &cfg.node_ip_attribute {
            Some(attr) => format!("node attribute {attr} of {target}"),
            None => format!("the node name of {target}"),
        };
        return Err(OcfError::args(format!(
            "cannot migrate domain {name}: the migration address ({whose}) {why}"
        )));
    }
    ocf::info!("migrating domain {name} to {target} ({address})");
    ocf::deadline::set_phase("xl migrate");
    cfg.xl
        .migrate(&name, &address, dl)
        .map_err(OcfError::generic)?;
    ocf::info!("domain {name} migrated to {target}");
    // It left this node: the stop that follows has nothing to wait for.
    mark_stopped(ctx);
    ocf::Record::forget(ctx);
    share_memory(cfg, 0, dl);
    Ok(())
}

pub fn migrate_from(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let name = cfg.domain_name(ctx)?.to_string();
    let source = ctx.migrate_source().ok_or_else(|| {
        OcfError::generic("migrate_from needs a source node (CRM_meta_migrate_source)")
    })?;
    state_remove(ctx, &stopped_marker(ctx));
    refuse_over_recorded(cfg, ctx, &name, dl)?;
    let started = Started {
        program: cfg.xl.program.clone(),
        name: name.clone(),
        uuid: None,
    };
    started.save(ctx);
    ocf::deadline::set_phase("waiting for the migrated domain");
    wait_running(cfg, &name, dl)?;
    record_uuid(cfg, ctx, started, &dl.cap(Duration::from_secs(5)));
    update_utilization(cfg, ctx, &name, dl, true);
    share_memory(cfg, 0, dl);
    ocf::info!("domain {name} arrived from {source}");
    Ok(())
}
