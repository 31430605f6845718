//! Monitor: `/proc/self/mountinfo` only at depth 0 (no fork); depth 10
//! reads the device with O_DIRECT, depth 20 writes and reads the status
//! file, each in a child under the deadline. And the probe of a resource
//! whose parameters do not validate.

use ocf::{Context, Deadline, OcfError, OcfResult, Status};

use crate::bounded_io;
use crate::config::{Config, lenient_config, recorded_config};
use crate::device::device_to_read;
use crate::mountinfo;
use crate::ours::{find, mount_dir, read_mounts};
use crate::record::{self, Recorded};

/// Is ours mounted (the configuration's mount, or the one start recorded)?
/// Then, by depth, the device read and the status file.
pub fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
    let mounts = read_mounts()?;
    let rec = record::load(ctx);
    let dir = mount_dir(cfg, &mounts);
    let ours = find(cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
    let m = match (ours.config.last(), ours.record.last(), rec.as_ref()) {
        (Some(m), _, _) => {
            if let Some(old) = ours.record.iter().find(|r| !ours.config.contains(r)) {
                ocf::warn!(
                    "what start mounted before ({} on {}) is mounted too; a stop unmounts it",
                    old.source_text(),
                    old.mount_point.display()
                );
            }
            *m
        }
        // The mount start made, on the configured directory, from the
        // configured device, that the device path no longer names (a
        // link removed, a node gone): still ours and still running.
        (None, Some(m), Some(r)) if m.mount_point == dir && r.device == cfg.device_text => {
            ocf::warn!(
                "{} no longer names what is mounted on {}; checking the mount start made ({}, mount ID {})",
                cfg.device_text,
                dir.display(),
                m.source_text(),
                m.id
            );
            *m
        }
        (None, Some(m), _) => {
            let what = format!(
                "the configuration names {} on {}, but what start mounted ({} on {}) is still mounted",
                cfg.device_text,
                dir.display(),
                m.source_text(),
                m.mount_point.display()
            );
            if ctx.is_probe() {
                ocf::warn!("{what}: running");
                return Ok(Status::Success);
            }
            return Err(OcfError::generic(format!("{what}; a stop unmounts it")));
        }
        (None, None, _) => {
            if let Some(other) = mountinfo::at(&mounts, &dir).last() {
                ocf::warn!(
                    "{} is not mounted on {}; {} ({}) is",
                    cfg.device_text,
                    dir.display(),
                    other.source_text(),
                    other.fstype
                );
            }
            return Err(OcfError::not_running(format!(
                "{} is not mounted on {}",
                cfg.device_text,
                dir.display()
            )));
        }
    };
    let level = ctx.effective_check_level(&[0, 10, 20]);
    if level >= 10 && cfg.is_block_kind() {
        ocf::deadline::set_phase("reading the device (depth 10)");
        if let Some(dev) = device_to_read(cfg, rec.as_ref(), m).map_err(OcfError::generic)? {
            bounded_io::read_device(&dev, dl).map_err(|e| {
                OcfError::generic(format!("cannot read {} with O_DIRECT: {e}", dev.display()))
            })?;
        }
    }
    if level >= 20 {
        ocf::deadline::set_phase("status file (depth 20)");
        let status = status_file(cfg, ctx);
        bounded_io::write_read_status(
            &m.mount_point,
            &status,
            format!("{}\n", ctx.instance).as_bytes(),
            dl,
        )
        .map_err(|e| {
            OcfError::generic(format!(
                "status file {}: {e}",
                status.path(&m.mount_point).display()
            ))
        })?;
    }
    Ok(Status::Success)
}

/// A probe with parameters that do not validate: 0 when what the
/// record names, or what the raw device and directory identify, is
/// mounted; 7 only when nothing of ours is.
pub fn probe_unconfigured(
    cfg: Option<&Config>,
    rec: Option<&ocf::Record>,
    ctx: &Context,
    _why: &OcfError,
    dl: &Deadline,
) -> OcfResult<Status> {
    let rec = rec.and_then(Recorded::from_record);
    let cfg = cfg
        .cloned()
        .or_else(|| lenient_config(ctx))
        .or_else(|| rec.as_ref().and_then(|r| recorded_config(r, ctx)));
    let Some(cfg) = cfg else {
        return Ok(Status::NotRunning);
    };
    let mounts = read_mounts()?;
    let dir = mount_dir(&cfg, &mounts);
    let ours = find(&cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
    match ours.all().last() {
        Some(m) => {
            ocf::warn!(
                "{} is mounted on {} (mount ID {})",
                m.source_text(),
                m.mount_point.display(),
                m.id
            );
            Ok(Status::Success)
        }
        None => Ok(Status::NotRunning),
    }
}

/// The depth-20 status file of this resource on this node.
pub fn status_file(cfg: &Config, ctx: &Context) -> bounded_io::StatusFile {
    status_file_of(
        &cfg.statusfile_prefix,
        &ctx.instance,
        ctx.meta.get("clone").map(String::as_str),
        &node_name(ctx),
    )
}

/// The depth-20 status file: `<dir>/<prefix><instance>[_<clone>]_<node>`.
/// Every `/` in the prefix ends a directory (`a/b/` is two, `a/b/st-` two
/// and a file name prefix; empty parts do not count); a `/` in the
/// instance, clone or node name would be one more, so it becomes `_`.
pub fn status_file_of(
    prefix: &str,
    instance: &str,
    clone: Option<&str>,
    node: &str,
) -> bounded_io::StatusFile {
    let plain = |s: &str| s.replace(['/', '\0'], "_");
    let mut parts: Vec<&str> = prefix.split('/').collect();
    let stem = parts.pop().unwrap_or_default();
    let dirs = parts
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let mut name = format!("{}{}", plain(stem), plain(instance));
    if let Some(c) = clone.filter(|c| !c.is_empty()) {
        name.push('_');
        name.push_str(&plain(c));
    }
    name.push('_');
    name.push_str(&plain(node));
    bounded_io::StatusFile { dirs, name }
}

fn node_name(ctx: &Context) -> String {
    if let Some(n) = ctx.on_node() {
        return n.to_string();
    }
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{BASE, configure};
    use std::path::{Path, PathBuf};

    #[test]
    fn status_file_name_follows_the_anchor() {
        let c = configure(&BASE, &[]).unwrap();
        let cx = Context::from_vars(
            "filesystem",
            "monitor",
            [
                ("OCF_RESOURCE_INSTANCE", "fs1"),
                ("OCF_RESKEY_CRM_meta_on_node", "n1"),
                ("OCF_RESKEY_CRM_meta_clone", "2"),
            ],
        );
        let st = status_file(&c, &cx);
        assert_eq!(st.dirs, [".Filesystem_status"]);
        assert_eq!(
            st.path(Path::new("/mnt/x")),
            PathBuf::from("/mnt/x/.Filesystem_status/fs1_2_n1")
        );
        let mut nested = c.clone();
        nested.statusfile_prefix = "a//b/st-".into();
        let cx = Context::from_vars(
            "filesystem",
            "monitor",
            [
                ("OCF_RESOURCE_INSTANCE", "grp/fs1"),
                ("OCF_RESKEY_CRM_meta_on_node", "n1"),
            ],
        );
        let st = status_file(&nested, &cx);
        assert_eq!(st.dirs, ["a", "b"]);
        assert_eq!(st.name, "st-grp_fs1_n1");
        nested.statusfile_prefix = "st-".into();
        assert!(status_file(&nested, &cx).dirs.is_empty());
    }
}
