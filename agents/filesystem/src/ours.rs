//! Which mounts are this resource's: what the configuration names on its
//! directory, and what the record names wherever it is now.

use std::fs;
use std::path::{Path, PathBuf};

use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, Device, normalize, recorded_config};
use crate::device::{blkid_lookup, loop_backing_file, rdev_of, tag_link};
use crate::mountinfo::{self, Mount};
use crate::record::{self, DevNo, Recorded};

/// Everything of ours mounted now.
pub struct Ours<'a> {
    /// What the configuration names, on its directory, bottom first.
    pub config: Vec<&'a Mount>,
    /// What the record names: the mount start made wherever it is now and
    /// copies stacked with it; or, when start was cut short before it saw
    /// its mount, the recorded configuration on the recorded directory.
    pub record: Vec<&'a Mount>,
}

impl<'a> Ours<'a> {
    /// Both, each mount once, in table order.
    pub fn all(&self) -> Vec<&'a Mount> {
        let mut out: Vec<&'a Mount> = self.config.clone();
        for m in &self.record {
            if !out.iter().any(|o| o.id == m.id) {
                out.push(m);
            }
        }
        out
    }
}

pub fn find<'a>(
    cfg: &Config,
    rec: Option<&Recorded>,
    ctx: &Context,
    mounts: &'a [Mount],
    dir: &Path,
    dl: &Deadline,
) -> Ours<'a> {
    let config = by_config(cfg, rec, mounts, dir, dl);
    let record = match rec {
        Some(r) if r.mount.is_some() => record::by_record(r, mounts),
        Some(r) => recorded_config(r, ctx)
            .map(|rc| by_config(&rc, Some(r), mounts, &r.dir, dl))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ours { config, record }
}

/// The mounts on `dir` that the configuration names, bottom first.
pub fn by_config<'a>(
    cfg: &Config,
    rec: Option<&Recorded>,
    mounts: &'a [Mount],
    dir: &Path,
    dl: &Deadline,
) -> Vec<&'a Mount> {
    let here = mountinfo::at(mounts, dir);
    if here.is_empty() {
        return Vec::new();
    }
    let keep = |f: &dyn Fn(&Mount) -> bool| -> Vec<&'a Mount> {
        here.iter().copied().filter(|m| f(m)).collect()
    };
    // What start resolved the same device text to (no fork on the hot path).
    let same = rec.filter(|r| r.device == cfg.device_text);
    // The filesystem start mounted from this same device text, on this
    // directory: ours, however the table spells it (and no stat for it).
    if !cfg.bind
        && let Some(rm) = same.and_then(|r| r.mount.as_ref())
    {
        let hit = keep(&|m| record::same_filesystem(rm, m));
        if !hit.is_empty() {
            return hit;
        }
    }
    match &cfg.device {
        _ if cfg.bind => {
            let Device::Path(src) = &cfg.device else {
                return Vec::new();
            };
            let Some((dev, root)) = bind_origin(mounts, src, dir) else {
                return Vec::new();
            };
            keep(&|m| (m.major, m.minor) == dev && record::live_root(&m.root) == root)
        }
        Device::Path(p) => {
            let want = rdev_of(p).or_else(|| same.and_then(|r| r.rdev));
            let cheap =
                keep(&|m| want.is_some_and(|d| on_device(m, d)) || m.source_path() == p.as_path());
            if !cheap.is_empty() {
                return cheap;
            }
            // A source behind a symlink (a FUSE or bind-like directory), a
            // loop image (the table lists /dev/loopN), even once removed.
            let canon = fs::canonicalize(p).ok();
            keep(&|m| {
                canon.as_deref().is_some_and(|c| m.source_path() == c)
                    || (want.is_none()
                        && loop_backing_file(&m.source)
                            .is_some_and(|f| f == *p || canon.as_deref() == Some(f.as_path())))
            })
        }
        Device::Uuid(_) | Device::Label(_) => {
            // /dev/disk/by-*, then what start recorded, and only then blkid.
            let on = |d: Option<DevNo>| -> Vec<&'a Mount> {
                d.map(|d| keep(&|m| on_device(m, d))).unwrap_or_default()
            };
            let by_link = on(tag_link(&cfg.device).and_then(|p| rdev_of(&p)));
            if !by_link.is_empty() {
                return by_link;
            }
            let remembered =
                on(same.and_then(|r| r.rdev.or_else(|| r.devpath.as_deref().and_then(rdev_of))));
            if !remembered.is_empty() {
                return remembered;
            }
            on(blkid_lookup(&cfg.device, dl).and_then(|p| rdev_of(&p)))
        }
        Device::Source(s) => keep(&|m| record::same_source(s, &m.source, &cfg.fstype)),
    }
}

/// Is `m` a filesystem on the block device `d`? By the table's device
/// number, or, for an anonymous `0:NN` entry (btrfs), by the device node
/// the table lists as its source.
fn on_device(m: &Mount, d: DevNo) -> bool {
    (m.major, m.minor) == d
        || (m.major == 0
            && m.source_path().starts_with("/dev/")
            && rdev_of(m.source_path()) == Some(d))
}

pub fn read_mounts() -> OcfResult<Vec<Mount>> {
    mountinfo::read()
        .map_err(|e| OcfError::generic(format!("cannot read /proc/self/mountinfo: {e}")))
}

/// The mount point as the kernel lists it. The configured path, unless it
/// is not in the table and goes through a symlink: then its resolved form
/// (resolving only when needed keeps the hot path free of stat calls).
pub fn mount_dir(cfg: &Config, mounts: &[Mount]) -> PathBuf {
    if mounts.iter().any(|m| m.mount_point == cfg.directory) {
        return cfg.directory.clone();
    }
    fs::canonicalize(&cfg.directory)
        .ok()
        .or_else(|| {
            let parent = cfg.directory.parent()?;
            Some(
                fs::canonicalize(parent)
                    .ok()?
                    .join(cfg.directory.file_name()?),
            )
        })
        .unwrap_or_else(|| cfg.directory.clone())
}

/// Where a bind of `src` comes from: the device of the filesystem holding
/// `src` and the path inside it, from the mount table alone (no stat).
fn bind_origin(mounts: &[Mount], src: &Path, dir: &Path) -> Option<((u32, u32), PathBuf)> {
    let src = fs::canonicalize(src).unwrap_or_else(|_| normalize(src));
    let host = mounts
        .iter()
        .filter(|m| m.mount_point != dir && mountinfo::is_within(&src, &m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())?;
    let rel = src.strip_prefix(&host.mount_point).ok()?;
    let root = if rel.as_os_str().is_empty() {
        host.root.clone()
    } else {
        host.root.join(rel)
    };
    Some(((host.major, host.minor), root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::configure;
    use std::time::Duration;

    /// A CIFS share configured as `\\SRV\Share` is the one the kernel lists
    /// as `//srv/share`; an NFS export with a trailing slash is the one
    /// listed without; another share on the directory is not ours.
    #[test]
    fn network_sources_match_as_the_kernel_lists_them() {
        let t = mountinfo::parse(
            b"1 0 8:1 / / rw - ext4 /dev/vda rw\n\
             40 1 0:60 / /mnt/c rw - cifs //srv/share rw\n\
             41 1 0:61 / /mnt/n rw - nfs4 srv:/export/a rw\n\
             42 1 0:62 / /mnt/o rw - cifs //srv/other rw\n",
        );
        let dl = Deadline::after(Duration::from_secs(5));
        let at = |dev: &str, dir: &str, fstype: &str| -> Vec<u32> {
            let mut p = vec![("device", dev), ("directory", dir), ("fstype", fstype)];
            p.retain(|(_, v)| !v.is_empty());
            let c = configure(&p, &[]).unwrap();
            by_config(&c, None, &t, Path::new(dir), &dl)
                .iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(at("\\\\SRV\\Share", "/mnt/c", "cifs"), [40]);
        assert_eq!(at("srv:/export//a/", "/mnt/n", "nfs4"), [41]);
        assert!(at("\\\\srv\\share", "/mnt/o", "cifs").is_empty());
    }

    /// btrfs lists an anonymous `0:NN` device: the mount is on our block
    /// device when the node the table names as its source is.
    #[test]
    fn an_anonymous_entry_matches_through_its_source_node() {
        let node = fs::read_dir("/dev")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| rdev_of(p).is_some())
            .expect("a block device node in /dev");
        let d = rdev_of(&node).unwrap();
        let line = format!("50 1 0:77 / /mnt/b rw - btrfs {} rw\n", node.display());
        let m = &mountinfo::parse(line.as_bytes())[0];
        assert!(on_device(m, d));
        assert!(!on_device(m, (d.0, d.1 + 1)));
        let not_anon = format!("50 1 9:9 / /mnt/b rw - btrfs {} rw\n", node.display());
        assert!(!on_device(&mountinfo::parse(not_anon.as_bytes())[0], d));
    }

    #[test]
    fn bind_origin_from_the_table() {
        let t = mountinfo::parse(
            b"1 0 8:1 / / rw - ext4 /dev/vda rw\n\
             2 1 7:1 / /srv rw - xfs /dev/loop1 rw\n\
             3 1 7:1 /data /mnt/b rw - xfs /dev/loop1 rw\n",
        );
        let (dev, root) = bind_origin(
            &t,
            Path::new("/srv/nonexistent-fsa/data"),
            Path::new("/mnt/b"),
        )
        .unwrap();
        assert_eq!(dev, (7, 1));
        assert_eq!(root, PathBuf::from("/nonexistent-fsa/data"));
    }
}
