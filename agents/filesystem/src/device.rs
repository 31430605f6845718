//! The block device behind a configuration or a mount: device numbers,
//! `/dev/disk/by-uuid` and `by-label` links, blkid, loop devices and sysfs.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline, OcfError, OcfResult};

use crate::config::{Config, Device};
use crate::mountinfo::Mount;
use crate::record::{self, DevNo, Recorded};

pub fn is_block(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// The image file behind a loop device (`mount -o loop image dir`), from
/// sysfs: the table lists /dev/loopN, the configuration names the file
/// (which may have been removed since: the kernel then says "(deleted)").
pub fn loop_backing_file(source: &std::ffi::OsStr) -> Option<PathBuf> {
    let name = source.as_bytes().strip_prefix(b"/dev/")?;
    if !name.starts_with(b"loop") || !name[4..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    let text = fs::read(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    Some(record::live_backing_file(&text).to_path_buf())
}

pub fn rdev_of(p: &Path) -> Option<DevNo> {
    let m = fs::metadata(p).ok()?;
    if !m.file_type().is_block_device() {
        return None;
    }
    let r = m.rdev();
    Some((rustix::fs::major(r), rustix::fs::minor(r)))
}

pub fn tag_link(d: &Device) -> Option<PathBuf> {
    tag_link_in(Path::new("/dev/disk"), d)
}

/// The device a `/dev/disk/by-uuid` or `by-label` link (under `disk`) names.
fn tag_link_in(disk: &Path, d: &Device) -> Option<PathBuf> {
    let (kind, v) = match d {
        Device::Uuid(u) => ("by-uuid", u),
        Device::Label(l) => ("by-label", l),
        _ => return None,
    };
    // A label is data, not a path: udev spells a '/' in it as \x2f, so a
    // value with '/' (or '.', '..') names no link there, only a way out.
    if v.is_empty() || v == "." || v == ".." || v.contains('/') {
        return None;
    }
    let p = disk.join(kind).join(v);
    fs::canonicalize(p).ok()
}

pub fn blkid_lookup(d: &Device, dl: &Deadline) -> Option<PathBuf> {
    let token = match d {
        Device::Uuid(u) => format!("UUID={u}"),
        Device::Label(l) => format!("LABEL={l}"),
        _ => return None,
    };
    let blkid = exec::which("blkid")?;
    let out = exec::run(
        &Cmd::new(blkid).args(["-o", "device", "-l", "-t", token.as_str()]),
        &dl.cap(Duration::from_secs(10)),
    )
    .ok()?;
    let line = out.stdout_str().lines().next()?.trim().to_string();
    (out.success() && line.starts_with('/')).then(|| PathBuf::from(line))
}

/// The block device to fsck and record: the path itself, or what the
/// tag resolves to. `None` for network sources and binds.
pub fn resolve_device(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Option<PathBuf>> {
    let _ = ctx;
    if cfg.bind {
        return Ok(None);
    }
    match &cfg.device {
        Device::Path(p) => {
            if fs::metadata(p).is_err() {
                return Err(OcfError::installed(format!(
                    "the device {} does not exist on this node",
                    p.display()
                )));
            }
            Ok(Some(p.clone()))
        }
        d @ (Device::Uuid(_) | Device::Label(_)) => tag_link(d)
            .or_else(|| blkid_lookup(d, dl))
            .map(Some)
            .ok_or_else(|| {
                OcfError::installed(format!("no device with {} on this node", cfg.device_text))
            }),
        Device::Source(_) => Ok(None),
    }
}

/// The block device node depth 10 reads for `m`: one whose device number
/// is the mount's (the table's, or for an anonymous entry what start
/// resolved), found through the configured path, what start resolved, the
/// table's source or the kernel's own name in sysfs. `Ok(None)` when the
/// mount is not on a block device; an error when it is and no node for it
/// is left: a disk that went away must fail the check, not pass it.
pub fn device_to_read(
    cfg: &Config,
    rec: Option<&Recorded>,
    m: &Mount,
) -> Result<Option<PathBuf>, String> {
    let same = rec.filter(|r| {
        r.device == cfg.device_text || r.mount.as_ref().is_some_and(|x| record::is_recorded(x, m))
    });
    let want = if m.major != 0 {
        Some((m.major, m.minor))
    } else {
        same.and_then(|r| r.rdev)
            .or_else(|| match &cfg.device {
                Device::Path(p) => rdev_of(p),
                _ => None,
            })
            .or_else(|| {
                m.source_text()
                    .starts_with("/dev/")
                    .then(|| rdev_of(Path::new(&m.source)))
                    .flatten()
            })
    };
    let Some(want) = want else {
        return Ok(None);
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Device::Path(p) = &cfg.device {
        candidates.push(p.clone());
    }
    if let Some(p) = same.and_then(|r| r.devpath.clone()) {
        candidates.push(p);
    }
    if m.source_path().has_root() {
        candidates.push(m.source_path().to_path_buf());
    }
    if let Some(p) = sysfs_node(want) {
        candidates.push(p);
    }
    candidates
        .into_iter()
        .find(|c| rdev_of(c) == Some(want))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "the device {} of {} on {} is gone: no device node for it is left",
                record::fmt_dev(want),
                m.source_text(),
                m.mount_point.display()
            )
        })
}

/// `/dev/<name>` for a device number, from the kernel's own name in sysfs.
fn sysfs_node((ma, mi): DevNo) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/sys/dev/block/{ma}:{mi}/uevent")).ok()?;
    let name = text.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    (!name.is_empty() && !name.contains("..")).then(|| Path::new("/dev").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_never_a_path() {
        let disk = std::env::temp_dir().join(format!("fsa-disk-{}", std::process::id()));
        fs::create_dir_all(disk.join("by-label")).unwrap();
        fs::create_dir_all(disk.join("by-uuid")).unwrap();
        let mut got = Vec::new();
        for l in ["../../../etc/passwd", "a/../../../etc/passwd", "..", "."] {
            got.push(tag_link_in(&disk, &Device::Label(l.into())));
            got.push(tag_link_in(&disk, &Device::Uuid(l.into())));
        }
        std::os::unix::fs::symlink("/dev/null", disk.join("by-label/data")).unwrap();
        let real = tag_link_in(&disk, &Device::Label("data".into()));
        let _ = fs::remove_dir_all(&disk);
        assert!(got.iter().all(Option::is_none), "{got:?}");
        assert_eq!(real, Some(PathBuf::from("/dev/null")));
    }
}
