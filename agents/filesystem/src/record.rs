//! What start mounted, kept in `ocf::Record`, and how stop, monitor and the
//! probe find it again when the configured paths no longer do: a device
//! link removed by udev, a directory renamed or reached through a symlink
//! that changed, a source the kernel spells its own way (CIFS's
//! `\\srv\share` listed as `//srv/share`), a filesystem whose table entry
//! carries an anonymous `0:NN` device (btrfs, FUSE, tmpfs).
//!
//! Identity is what cannot change under us while it is mounted: the mount
//! ID, the device number the table lists, the filesystem type and the source
//! as the kernel lists it. The mount point and the root inside the
//! filesystem are *not* part of it: the kernel recomputes both from dentries,
//! so a renamed parent directory or a renamed bind source changes them.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ocf::Context;

use crate::config::{Config, Device, NETWORK, parse_device};
use crate::device::is_block;
use crate::mountinfo::Mount;

/// A device number as `major:minor`.
pub type DevNo = (u32, u32);

pub fn fmt_dev((ma, mi): DevNo) -> String {
    format!("{ma}:{mi}")
}

pub fn parse_dev(s: &str) -> Option<DevNo> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The mount start made, as the kernel listed it right after mounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedMount {
    pub id: u32,
    /// major:minor of the table entry (anonymous `0:NN` for btrfs, FUSE...).
    pub dev: DevNo,
    /// `st_dev` of the mounted root (differs from `dev` for a btrfs subvolume).
    pub st_dev: Option<DevNo>,
    pub fstype: String,
    /// As the kernel lists it (bytes: a bind or FUSE source need not be UTF-8).
    pub source: OsString,
    /// Where it was mounted then (for the log; not part of the identity).
    pub mount_point: PathBuf,
}

/// What start recorded: the configuration it ran with, what the device and
/// directory resolved to before mounting, and the mount once it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The `device` parameter as configured.
    pub device: String,
    /// The `directory` parameter, normalized.
    pub directory: PathBuf,
    pub fstype: String,
    pub options: String,
    /// The mount point as resolved (symlinks followed) before mounting.
    pub dir: PathBuf,
    /// The device number the device resolved to (block devices).
    pub rdev: Option<DevNo>,
    /// The block device path it resolved to (UUID=/LABEL= without a fork).
    pub devpath: Option<PathBuf>,
    pub mount: Option<RecordedMount>,
}

impl Recorded {
    pub fn is_bind(&self) -> bool {
        is_bind(&self.options)
    }

    pub fn to_record(&self) -> ocf::Record {
        let mut r = ocf::Record::new()
            .with("device", &self.device)
            .with("directory", &self.directory)
            .with("fstype", &self.fstype)
            // Only `bind` in it matters to stop: a CIFS password stays out.
            .with("options", ocf::secret::redact(&self.options).as_ref())
            .with("dir", &self.dir);
        if let Some(d) = self.rdev {
            r.set("rdev", fmt_dev(d));
        }
        if let Some(p) = &self.devpath {
            r.set("devpath", p);
        }
        if let Some(m) = &self.mount {
            r.set("mount_id", m.id.to_string());
            r.set("mnt_dev", fmt_dev(m.dev));
            if let Some(d) = m.st_dev {
                r.set("st_dev", fmt_dev(d));
            }
            r.set("mnt_fstype", &m.fstype);
            r.set("source", &m.source);
            r.set("mount_point", &m.mount_point);
        }
        r
    }

    /// `None` when the record lacks what identifies anything (not ours, or
    /// from another version).
    pub fn from_record(r: &ocf::Record) -> Option<Recorded> {
        let path = |k: &str| r.get_os(k).map(PathBuf::from);
        let text = |k: &str| {
            r.get_os(k)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let directory = path("directory")?;
        let mount = match (r.get_u64("mount_id"), r.get("mnt_dev").and_then(parse_dev)) {
            (Some(id), Some(dev)) => Some(RecordedMount {
                id: u32::try_from(id).ok()?,
                dev,
                st_dev: r.get("st_dev").and_then(parse_dev),
                fstype: text("mnt_fstype").unwrap_or_default(),
                source: r.get_os("source").unwrap_or_default(),
                mount_point: path("mount_point").unwrap_or_default(),
            }),
            _ => None,
        };
        Some(Recorded {
            device: text("device").unwrap_or_default(),
            dir: path("dir").unwrap_or_else(|| directory.clone()),
            directory,
            fstype: text("fstype").unwrap_or_default(),
            options: text("options").unwrap_or_default(),
            rdev: r.get("rdev").and_then(parse_dev),
            devpath: path("devpath"),
            mount,
        })
    }
}

pub fn is_bind(options: &str) -> bool {
    options.split(',').any(|o| o == "bind" || o == "rbind")
}

/// Does `m` carry the identity of the recorded mount? The ID, the device
/// number (the table's, or the root's `st_dev`), the type and the source.
pub fn is_recorded(r: &RecordedMount, m: &Mount) -> bool {
    m.id == r.id && same_filesystem(r, m)
}

/// The same filesystem as the recorded mount, whatever its mount ID: the
/// device number, type and source the kernel lists.
pub fn same_filesystem(r: &RecordedMount, m: &Mount) -> bool {
    let dev = (m.major, m.minor);
    (dev == r.dev || Some(dev) == r.st_dev) && m.fstype == r.fstype && m.source == r.source
}

/// The mounts the record names, bottom first: the recorded mount itself,
/// found by its identity wherever it is mounted now, and copies of the same
/// filesystem stacked on the place it is mounted (or was recorded at).
/// Without a recorded mount (start was cut short after recording its
/// intent) nothing is matched here: the caller matches the recorded
/// configuration on the recorded directory instead.
pub fn by_record<'a>(rec: &Recorded, mounts: &'a [Mount]) -> Vec<&'a Mount> {
    let Some(rm) = &rec.mount else {
        return Vec::new();
    };
    let primary = mounts.iter().find(|m| is_recorded(rm, m));
    let mut places: Vec<&Path> = vec![rm.mount_point.as_path(), rec.dir.as_path()];
    if let Some(p) = primary {
        places.push(&p.mount_point);
    }
    mounts
        .iter()
        .filter(|m| {
            m.mount_point != Path::new("/")
                && (primary.is_some_and(|p| p.id == m.id)
                    || (places.contains(&m.mount_point.as_path()) && same_filesystem(rm, m)))
        })
        .collect()
}

/// A bind mount's root as the kernel lists it, without the `//deleted`
/// it appends once the source directory was removed.
pub fn live_root(root: &Path) -> &Path {
    let b = root.as_os_str().as_bytes();
    match b.strip_suffix(b"//deleted") {
        Some(s) if !s.is_empty() => Path::new(OsStr::from_bytes(s)),
        Some(_) => Path::new("/"),
        None => root,
    }
}

/// A loop device's backing file (sysfs bytes), without the newline and
/// the ` (deleted)` the kernel appends once the image was removed.
pub fn live_backing_file(text: &[u8]) -> &Path {
    let t = text.strip_suffix(b"\n").unwrap_or(text);
    Path::new(OsStr::from_bytes(
        t.strip_suffix(b" (deleted)").unwrap_or(t),
    ))
}

/// A network or pseudo source (`host:/export`, `//server/share`, a tmpfs
/// name) in the form the kernel lists it, so a configuration and the table
/// compare equal however the user spelled it:
///
/// * CIFS: `\\srv\share\dir` is listed as `//srv/share/dir` (mount.cifs
///   turns backslashes into slashes); server and share names are
///   case-insensitive, so they compare in lower case.
/// * NFS: doubled and trailing slashes in the export path do not count.
/// * Anything else: trailing slashes do not count.
pub fn normalize_source(s: &str, fstype: &str) -> String {
    let cifs = matches!(fstype, "cifs" | "smb3" | "smbfs") || s.starts_with("\\\\");
    if cifs && (s.starts_with("\\\\") || s.starts_with("//")) {
        let unc = s.replace('\\', "/");
        let parts: Vec<&str> = unc.split('/').filter(|p| !p.is_empty()).collect();
        let mut out = String::from("/");
        for (i, p) in parts.iter().enumerate() {
            out.push('/');
            if i < 2 {
                out.push_str(&p.to_lowercase());
            } else {
                out.push_str(p);
            }
        }
        return out;
    }
    if let Some((host, path)) = s.split_once(":/")
        && !host.contains('/')
    {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        return format!("{host}:/{}", parts.join("/"));
    }
    let t = s.trim_end_matches('/');
    if t.is_empty() && !s.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

/// Is `listed` (a table's source) the source `configured` names? A listed
/// source that is not UTF-8 is never a configured one (parameters are text).
pub fn same_source(configured: &str, listed: &OsStr, fstype: &str) -> bool {
    listed
        .to_str()
        .is_some_and(|l| normalize_source(configured, fstype) == normalize_source(l, fstype))
}

/// Start found its filesystem already mounted: make sure the record names
/// that mount (a start of an older version, or a mount made by hand).
pub fn record_existing(cfg: &Config, ctx: &Context, rec: Option<&Recorded>, dir: &Path, m: &Mount) {
    if rec.is_some_and(|r| r.mount.as_ref().is_some_and(|x| is_recorded(x, m))) {
        return;
    }
    let same = rec.filter(|r| r.device == cfg.device_text);
    let block = cfg.is_block_kind() && m.major != 0;
    Recorded {
        device: cfg.device_text.clone(),
        directory: cfg.directory.clone(),
        fstype: cfg.fstype.clone(),
        options: cfg.options.clone(),
        dir: dir.to_path_buf(),
        rdev: block.then_some((m.major, m.minor)),
        devpath: same.and_then(|r| r.devpath.clone()),
        mount: Some(recorded_mount(cfg, m)),
    }
    .to_record()
    .save(ctx);
}

/// The identity of a mount start just made or found. `st_dev` comes from a
/// stat of the mounted root, only for a filesystem on a block device (where
/// a btrfs subvolume's differs from the table's): never a stat that can
/// hang on a server or a FUSE daemon.
pub fn recorded_mount(cfg: &Config, m: &Mount) -> RecordedMount {
    let on_block =
        m.major != 0 || (m.source_path().starts_with("/dev/") && is_block(m.source_path()));
    let st_dev = (on_block && !cfg.bind && !NETWORK.contains(&m.fstype.as_str()))
        .then(|| fs::metadata(&m.mount_point).ok())
        .flatten()
        .map(|md| (rustix::fs::major(md.dev()), rustix::fs::minor(md.dev())));
    RecordedMount {
        id: m.id,
        dev: (m.major, m.minor),
        st_dev,
        fstype: m.fstype.clone(),
        source: m.source.clone(),
        mount_point: m.mount_point.clone(),
    }
}

/// What start recorded for this instance, if it is ours.
pub fn load(ctx: &Context) -> Option<Recorded> {
    ocf::Record::load(ctx)
        .as_ref()
        .and_then(Recorded::from_record)
}

/// Did start record a block device (not a bind or a network source)?
pub fn recorded_block_kind(r: &Recorded) -> bool {
    !r.is_bind()
        && matches!(
            parse_device(&r.device),
            Device::Path(_) | Device::Uuid(_) | Device::Label(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountinfo::parse;

    fn rec(mount: Option<RecordedMount>) -> Recorded {
        Recorded {
            device: "/dev/disk/by-id/x".into(),
            directory: "/mnt/x".into(),
            fstype: "ext4".into(),
            options: String::new(),
            dir: "/mnt/x".into(),
            rdev: Some((7, 3)),
            devpath: Some("/dev/loop3".into()),
            mount,
        }
    }

    fn rm(id: u32, dev: DevNo, source: &str, at: &str) -> RecordedMount {
        RecordedMount {
            id,
            dev,
            st_dev: None,
            fstype: "ext4".into(),
            source: source.into(),
            mount_point: at.into(),
        }
    }

    #[test]
    fn record_round_trip() {
        let mut r = rec(Some(RecordedMount {
            st_dev: Some((0, 61)),
            ..rm(40, (0, 60), "/dev/loop3", "/mnt/x")
        }));
        r.options = "noatime,bind".into();
        let back = Recorded::from_record(&ocf::Record::from_text(&r.to_record().to_text()));
        assert_eq!(back.as_ref(), Some(&r));
        assert!(back.unwrap().is_bind());
        let intent = rec(None);
        let back = Recorded::from_record(&ocf::Record::from_text(&intent.to_record().to_text()));
        assert_eq!(back, Some(intent));
        assert_eq!(
            Recorded::from_record(&ocf::Record::new().with("x", "1")),
            None
        );
    }

    /// The recorded mount is found by its identity after its directory was
    /// renamed; a copy of it stacked on the same place goes with it; a mount
    /// that reused the ID for another filesystem is not ours.
    #[test]
    fn by_record_follows_the_identity_not_the_path() {
        let t = parse(
            b"1 0 8:1 / / rw - ext4 /dev/vda rw\n\
             40 1 7:3 / /mnt/renamed rw - ext4 /dev/loop3 rw\n\
             41 40 7:3 / /mnt/renamed rw - ext4 /dev/loop3 rw\n\
             42 1 7:3 / /elsewhere rw - ext4 /dev/loop3 rw\n\
             43 1 0:70 / /mnt/x rw - tmpfs other rw\n",
        );
        let r = rec(Some(rm(40, (7, 3), "/dev/loop3", "/mnt/x")));
        let ids: Vec<u32> = by_record(&r, &t).iter().map(|m| m.id).collect();
        assert_eq!(ids, [40, 41]);
        let reused = rec(Some(rm(43, (7, 3), "/dev/loop3", "/mnt/x")));
        assert!(
            by_record(&reused, &t).is_empty(),
            "ID 43 is another filesystem now"
        );
        assert!(by_record(&rec(None), &t).is_empty());
    }

    #[test]
    fn an_anonymous_device_matches_through_st_dev() {
        let t = parse(b"50 1 0:61 / /mnt/b rw - btrfs /dev/loop4 rw\n");
        let mut m = rm(50, (0, 60), "/dev/loop4", "/mnt/b");
        m.fstype = "btrfs".into();
        assert!(!is_recorded(&m, &t[0]));
        m.st_dev = Some((0, 61));
        assert!(is_recorded(&m, &t[0]));
    }

    #[test]
    fn cifs_and_nfs_spellings() {
        let same_source = |c: &str, l: &str, t: &str| same_source(c, OsStr::new(l), t);
        assert!(same_source("\\\\srv\\share", "//srv/share", "cifs"));
        assert!(same_source(
            "\\\\SRV\\Share\\dir",
            "//srv/share/dir",
            "cifs"
        ));
        assert!(same_source("//srv/share/", "//srv/share", "smb3"));
        assert!(same_source("\\\\srv\\share", "//srv/share", ""));
        assert!(!same_source(
            "\\\\srv\\share\\Dir",
            "//srv/share/dir",
            "cifs"
        ));
        assert!(!same_source("//srv/other", "//srv/share", "cifs"));
        assert_eq!(
            normalize_source("\\\\srv\\\\share\\", "cifs"),
            "//srv/share"
        );
        assert!(same_source("srv:/export//a/", "srv:/export/a", "nfs4"));
        assert!(same_source("srv:/", "srv:/", "nfs"));
        assert!(same_source("[fe80::1]:/e/", "[fe80::1]:/e", "nfs4"));
        assert!(!same_source("srv:/export/a", "srv:/export/b", "nfs"));
        assert!(same_source("fsa-tmp/", "fsa-tmp", "tmpfs"));
        assert!(!same_source("fsa-tmp", "fsa-tmp2", "tmpfs"));
    }

    #[test]
    fn deleted_suffixes() {
        assert_eq!(live_root(Path::new("/data//deleted")), Path::new("/data"));
        assert_eq!(live_root(Path::new("/data")), Path::new("/data"));
        assert_eq!(
            live_backing_file(b"/var/tmp/a.img (deleted)\n"),
            Path::new("/var/tmp/a.img")
        );
        assert_eq!(
            live_backing_file(b"/var/tmp/a\xff.img\n"),
            Path::new(OsStr::from_bytes(b"/var/tmp/a\xff.img"))
        );
    }
}
