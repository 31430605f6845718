//! Start: refuse a different filesystem on the directory, resolve the
//! device, fsck by policy, then the system's `mount` by argv, recorded
//! before it runs and verified in the mount table after.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{CLUSTER_SAFE, Config, Device, split_cifs_password};
use crate::device::{is_block, rdev_of, resolve_device};
use crate::mountinfo;
use crate::ours::{by_config, find, mount_dir, read_mounts};
use crate::params::system_directory;
use crate::record::{self, Recorded};

/// Filesystem types fsck -p is skipped for under run_fsck=auto (journaling,
/// network, cluster and virtual types), as in the anchor agent.
pub const NO_FSCK: &[&str] = &[
    "ext4",
    "ext4dev",
    "ext3",
    "reiserfs",
    "reiser4",
    "nss",
    "xfs",
    "jfs",
    "vfat",
    "fat",
    "nfs4",
    "nfs",
    "efs",
    "cifs",
    "smbfs",
    "smb3",
    "ocfs2",
    "gfs2",
    "none",
    "lustre",
    "glusterfs",
    "ceph",
    "tmpfs",
    "overlay",
    "overlayfs",
    "rozofs",
    "zfs",
    "cvfs",
    "btrfs",
];

/// Only `validate-all` at OCF_CHECK_LEVEL 10 and above looks at this
/// node (mount, fstype, device); every other action checks what it
/// needs itself, so the monitor stays free of extra system calls.
pub fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
    if ctx.action != "validate-all" {
        return Ok(());
    }
    exec::which("mount")
        .ok_or_else(|| OcfError::installed("the mount command is not installed"))?;
    let dl = Deadline::after(Duration::from_secs(10));
    fstype_supported(cfg, &dl)?;
    if cfg.bind {
        if let Device::Path(src) = &cfg.device
            && fs::symlink_metadata(src).is_err()
        {
            return Err(OcfError::installed(format!(
                "the bind source {} does not exist",
                src.display()
            )));
        }
        return Ok(());
    }
    resolve_device(cfg, ctx, &dl).map(|_| ())
}

/// Mount the configured filesystem, recording what it is about to mount
/// before mount(8) runs and the mount it made after.
pub fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let mounts = read_mounts()?;
    let rec = record::load(ctx);
    let dir = mount_dir(cfg, &mounts);
    // The directory through a symlink on this node: the same rule.
    if let Some(why) = system_directory(&dir) {
        return Err(OcfError::installed(format!(
            "the directory {} is {} here, a system directory: {why}",
            cfg.directory.display(),
            dir.display()
        )));
    }
    let ours = find(cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
    if let Some(m) = ours.config.last() {
        ocf::info!(
            "{} is already mounted on {} ({})",
            cfg.device_text,
            dir.display(),
            m.source_text()
        );
        record::record_existing(cfg, ctx, rec.as_ref(), &dir, m);
        return Ok(());
    }
    if let (Some(r), Some(m)) = (rec.as_ref(), ours.record.last()) {
        if m.mount_point == dir && r.device == cfg.device_text {
            ocf::info!(
                "{} is already mounted on {} (the mount start made, listed as {})",
                cfg.device_text,
                dir.display(),
                m.source_text()
            );
            return Ok(());
        }
        return Err(OcfError::generic(format!(
            "what this resource mounted before ({} on {}) is still mounted, and the configuration now names {} on {}; stop the resource first",
            m.source_text(),
            m.mount_point.display(),
            cfg.device_text,
            dir.display()
        )));
    }
    if let Some(other) = mountinfo::at(&mounts, &dir).last() {
        return Err(OcfError::generic(format!(
            "{} already has {} ({}) mounted on it; refusing to mount {} on top",
            dir.display(),
            other.source_text(),
            other.fstype,
            cfg.device_text
        )));
    }
    if let Some(below) = mounts
        .iter()
        .find(|m| m.mount_point != dir && mountinfo::is_within(&m.mount_point, &dir))
    {
        return Err(OcfError::generic(format!(
            "{} is mounted below {}; mounting on top would hide it",
            below.mount_point.display(),
            dir.display()
        )));
    }
    if ctx.clone_info().is_some() && !CLUSTER_SAFE.contains(&cfg.fstype.as_str()) {
        ocf::warn!(
            "{} on {} is not cluster-aware, cloned anyway because force_clones is true",
            cfg.fstype,
            cfg.device_text
        );
    }
    let mount_bin = exec::which("mount")
        .ok_or_else(|| OcfError::installed("the mount command is not installed"))?;
    fstype_supported(cfg, dl)?;
    let resolved = resolve_device(cfg, ctx, dl)?;
    if let Some(dev) = &resolved {
        ocf::debug!("device {} is {}", cfg.device_text, dev.display());
    }
    if cfg.bind
        && let Device::Path(src) = &cfg.device
        && fs::symlink_metadata(src).is_err()
    {
        return Err(OcfError::installed(format!(
            "the bind source {} does not exist",
            src.display()
        )));
    }
    if let Some(dev) = &resolved
        && fsck_wanted(cfg)
        && is_block(dev)
    {
        run_fsck(cfg, dev, dl)?;
    }
    trusted_mount_point(&cfg.directory).map_err(OcfError::perm)?;
    if !dir.is_dir() {
        fs::create_dir_all(&dir).map_err(|e| {
            OcfError::installed(format!(
                "cannot create the mount point {}: {e}",
                dir.display()
            ))
        })?;
        // What we just made, in a directory others may write to, must
        // be ours before anything is mounted on it.
        trusted_mount_point(&cfg.directory).map_err(OcfError::perm)?;
    }
    // Before mounting, what we are about to mount and where, so a start
    // cut short (mount hung, the watchdog fired) leaves what stop needs.
    let block = resolved.as_deref().filter(|d| is_block(d));
    let mut intent = Recorded {
        device: cfg.device_text.clone(),
        directory: cfg.directory.clone(),
        fstype: cfg.fstype.clone(),
        options: cfg.options.clone(),
        dir: dir.clone(),
        rdev: block.and_then(rdev_of),
        devpath: block.map(|d| fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf())),
        mount: None,
    };
    intent.to_record().save(ctx);
    let before: Vec<u32> = mountinfo::at(&mounts, &dir).iter().map(|m| m.id).collect();
    let mut cmd = Cmd::new(&mount_bin);
    if !cfg.fstype.is_empty() {
        cmd = cmd.args(["-t", cfg.fstype.as_str()]);
    }
    let (options, password) = split_cifs_password(&cfg.fstype, &cfg.options);
    if !options.is_empty() {
        cmd = cmd.args(["-o", options.as_str()]);
    }
    if let Some(pw) = password {
        cmd = cmd.env("PASSWD", pw);
    }
    // A tag is mounted as the device it resolved to, so fsck, mount
    // and the monitor all mean the same device. After `--`, neither
    // can be read as an option (validation refuses a leading '-' too).
    cmd = cmd.arg("--");
    cmd = match (&cfg.device, &resolved) {
        (Device::Uuid(_) | Device::Label(_), Some(dev)) => cmd.arg(dev),
        (Device::Uuid(u), None) => cmd.arg(format!("UUID={u}")),
        (Device::Label(l), None) => cmd.arg(format!("LABEL={l}")),
        (Device::Path(p), _) => cmd.arg(p),
        (Device::Source(s), _) => cmd.arg(s),
    };
    cmd = cmd.arg(&dir);
    ocf::deadline::set_phase("mount");
    ocf::info!("mounting: {cmd}");
    let out = exec::run(&cmd, dl);
    let after = read_mounts()?;
    // Ours is the mount that appeared on the directory: the table may
    // list it in a form the configuration never matches (btrfs's
    // anonymous device, CIFS's `//srv/share` for `\\srv\share`), but it
    // is what we mounted, and what stop must unmount.
    let new = mountinfo::at(&after, &dir)
        .into_iter()
        .rfind(|m| !before.contains(&m.id));
    let matches = new.is_some_and(|n| {
        by_config(cfg, Some(&intent), &after, &dir, dl)
            .iter()
            .any(|m| m.id == n.id)
    });
    if let Some(m) = new {
        intent.mount = Some(record::recorded_mount(cfg, m));
        intent.to_record().save(ctx);
        if !matches {
            ocf::info!(
                "the kernel lists {} on {} as {} ({}, {}); recorded as mount ID {}",
                cfg.device_text,
                dir.display(),
                m.source_text(),
                m.fstype,
                record::fmt_dev((m.major, m.minor)),
                m.id
            );
        }
    }
    match out {
        Ok(o) if o.success() && new.is_some() => {
            ocf::info!("{} mounted on {}", cfg.device_text, dir.display());
            Ok(())
        }
        Ok(o) if o.success() => Err(OcfError::generic(format!(
            "mount said it mounted {} on {}, but the mount table does not show it there",
            cfg.device_text,
            dir.display()
        ))),
        Ok(o) if matches => {
            ocf::warn!(
                "mount failed ({}); but {} is mounted",
                o.describe(),
                dir.display()
            );
            Ok(())
        }
        Ok(o) => Err(OcfError::generic(format!(
            "cannot mount {} on {}: {}",
            cfg.device_text,
            dir.display(),
            o.describe()
        ))),
        Err(e) if matches => {
            ocf::warn!("{e}; but {} is mounted", dir.display());
            Ok(())
        }
        Err(e) => Err(OcfError::generic(format!(
            "cannot mount {} on {}: {e}",
            cfg.device_text,
            dir.display()
        ))),
    }
}

/// Is the mount point reached only through what root controls? Walking
/// `dir` as the kernel will (symlinks followed, at most 40): a symlink on
/// the way must be root's, and a directory on the way that others may write
/// to must have the sticky bit, with what follows in it root's (or not there
/// yet). Otherwise a user could point our mount anywhere, over /etc/cron.d
/// for one, with a link of theirs, or swap what we checked before mount(8)
/// looks it up again. Whatever is missing at the end is what start creates.
/// `Ok` with the resolved path, or why not.
pub fn trusted_mount_point(dir: &Path) -> Result<PathBuf, String> {
    use std::ffi::OsString;
    let mut todo: Vec<OsString> = dir
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    let mut missing = false;
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        let next = cur.join(&c);
        if missing {
            cur = next;
            continue;
        }
        let parent = fs::symlink_metadata(&cur).map_err(|e| format!("{}: {e}", cur.display()))?;
        let shared = parent.mode() & 0o002 != 0;
        if shared && parent.mode() & 0o1000 == 0 {
            return Err(format!(
                "{} (on the way to the mount point {}) is writable by everyone without the sticky bit: anyone could replace what follows",
                cur.display(),
                dir.display()
            ));
        }
        let md = match fs::symlink_metadata(&next) {
            Ok(md) => md,
            Err(_) => {
                missing = true;
                cur = next;
                continue;
            }
        };
        if (shared || md.file_type().is_symlink()) && md.uid() != 0 {
            return Err(format!(
                "{} (on the way to the mount point {}) is {} of uid {}, not root's: it could point the mount anywhere",
                next.display(),
                dir.display(),
                if md.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "an entry"
                },
                md.uid()
            ));
        }
        if md.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return Err(format!("{}: too many symlinks", dir.display()));
            }
            let target = fs::read_link(&next).map_err(|e| format!("{}: {e}", next.display()))?;
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            for t in target.components().rev() {
                match t {
                    Component::Normal(n) => todo.push(n.to_os_string()),
                    Component::ParentDir => todo.push("..".into()),
                    _ => {}
                }
            }
            continue;
        }
        cur = next;
    }
    Ok(cur)
}

fn fsck_wanted(cfg: &Config) -> bool {
    match cfg.run_fsck.as_str() {
        "force" => true,
        "no" => false,
        _ => !NO_FSCK.contains(&cfg.fstype.as_str()),
    }
}

pub fn run_fsck(cfg: &Config, dev: &Path, dl: &Deadline) -> OcfResult<()> {
    let Some(fsck) = exec::which("fsck") else {
        return Err(OcfError::installed(
            "fsck is needed (run_fsck) but not installed",
        ));
    };
    ocf::deadline::set_phase("fsck");
    let mut cmd = Cmd::new(fsck);
    if !cfg.fstype.is_empty() {
        cmd = cmd.args(["-t", cfg.fstype.as_str()]);
    }
    cmd = cmd.arg("-p").arg(dev);
    ocf::info!("checking the filesystem: {cmd}");
    // Keep a quarter of the time for the mount itself.
    match exec::run(&cmd, &dl.share(0.75)) {
        Ok(o) if o.code.is_some_and(|c| c < 4) => Ok(()),
        Ok(o) => Err(OcfError::generic(format!(
            "fsck found errors it could not repair on {}: {}",
            dev.display(),
            o.describe()
        ))),
        Err(e) => Err(OcfError::generic(format!("fsck of {}: {e}", dev.display()))),
    }
}

fn fstype_supported(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    let t = cfg.fstype.as_str();
    if t.is_empty() || t == "none" || cfg.bind {
        return Ok(());
    }
    let kernel = if t.starts_with("fuse.") { "fuse" } else { t };
    let known = || {
        fs::read_to_string("/proc/filesystems").is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some(kernel))
        })
    };
    let helper = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
        .iter()
        .any(|d| Path::new(d).join(format!("mount.{t}")).exists());
    if known() || helper {
        return Ok(());
    }
    if let Some(modprobe) = exec::which("modprobe") {
        let _ = exec::run(
            &Cmd::new(modprobe).args(["-q", "--", kernel]),
            &dl.cap(Duration::from_secs(5)),
        );
        if known() {
            return Ok(());
        }
    }
    Err(OcfError::installed(format!(
        "this node's kernel does not support the filesystem type {t} and has no mount.{t} helper"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{BASE, configure};

    /// The mount point is reached only through what root controls.
    #[test]
    fn mount_points_behind_links_of_others() {
        use std::os::unix::fs::{PermissionsExt, lchown, symlink};
        let base = PathBuf::from(format!("/var/tmp/fsa-trust-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("real/sub")).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        symlink(base.join("real"), base.join("roots")).unwrap();
        symlink(base.join("real"), base.join("theirs")).unwrap();
        lchown(base.join("theirs"), Some(65534), None).unwrap();
        fs::create_dir(base.join("open")).unwrap();
        fs::set_permissions(base.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::create_dir(base.join("sticky")).unwrap();
        fs::set_permissions(base.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::create_dir(base.join("sticky/users")).unwrap();
        std::os::unix::fs::chown(base.join("sticky/users"), Some(65534), None).unwrap();
        fs::create_dir(base.join("sticky/roots")).unwrap();
        let t = |p: &str| trusted_mount_point(&base.join(p));
        let r = t("roots/sub/new/deeper");
        let got = (
            r.clone(),
            t("theirs/sub"),
            t("open/x"),
            t("sticky/users"),
            t("sticky/roots/x"),
            t("sticky/missing"),
            t("roots/../real/sub"),
        );
        let _ = fs::remove_dir_all(&base);
        assert_eq!(got.0.unwrap(), base.join("real/sub/new/deeper"));
        assert!(got.1.unwrap_err().contains("symlink of uid 65534"));
        assert!(got.2.unwrap_err().contains("without the sticky bit"));
        assert!(got.3.unwrap_err().contains("uid 65534"));
        assert_eq!(got.4.unwrap(), base.join("sticky/roots/x"));
        assert_eq!(got.5.unwrap(), base.join("sticky/missing"));
        assert_eq!(got.6.unwrap(), base.join("real/sub"));
    }

    #[test]
    fn fsck_policy() {
        let mut c = configure(&BASE, &[]).unwrap();
        assert!(!fsck_wanted(&c), "ext4 has a journal");
        c.fstype = "ext2".into();
        assert!(fsck_wanted(&c));
        c.run_fsck = "no".into();
        assert!(!fsck_wanted(&c));
        c.fstype = "xfs".into();
        c.run_fsck = "force".into();
        assert!(fsck_wanted(&c));
    }
}
