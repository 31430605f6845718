//! Writing the domain XML back to its config file as root
//! (`save_config_on_stop`). The XML comes from libvirt with
//! `VIR_DOMAIN_XML_SECURE`, so it carries VNC/SPICE passwords; the config
//! file may sit in a directory others can write to, or be a link.
//!
//! What [`save`] guarantees:
//! * the file is written relative to a directory descriptor we checked
//!   (a directory, owned by us, writable by nobody else unless sticky),
//!   never through a link: a config path that is a link is resolved once
//!   (in a checked directory too), its target is replaced in its own
//!   directory and the link is kept, as `virsh dumpxml > config` through
//!   the link would;
//! * the new content goes to a temporary file created exclusively
//!   (`O_CREAT|O_EXCL|O_NOFOLLOW`) under a fresh name, so a name planted
//!   beforehand is never followed, truncated or removed;
//! * that file is created with no permission for group or others and at
//!   most the old file's owner bits, gets the old file's owner and group
//!   with `fchown` and its mode with `fchmod` on the descriptor, and only
//!   then is renamed over the old one: it is never readable by anyone the
//!   old file was not readable by, not even while it is being written.
//!
//! `ocf::files::TrustedDir::replace` creates its temporary file with the
//! final mode and has no owner to keep; this module is what it would need
//! (a creation mode, an owner) and could move there.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

/// The config file reader and the `HA_RSCTMP` files are the xen crate's
/// (the xmfile is read the same way).
pub use xen::files::{CONFIG_LIMIT, read_config, state_read, state_remove, state_write};

/// What [`save`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// The file already held exactly this text.
    Unchanged,
    /// Replaced (or created); the path written, which is the link's target
    /// when the config path is a link.
    Written(PathBuf),
}

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
}

/// Config files larger than this are not compared, only replaced.
const COMPARE_LIMIT: u64 = 16 << 20;

/// Open `dir` (no link in its last component) and check that only we can
/// change what it holds: owned by our effective user, not writable by
/// group or others unless sticky (then others cannot remove or rename our
/// files, and a name they plant is never used: see [`save`]).
pub fn checked_dir(dir: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::fs::openat(
        CWD,
        dir,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
            refused(format!("{} is not a directory (a link?)", dir.display()))
        }
        e => io::Error::new(
            io_err(e).kind(),
            format!("cannot open {}: {}", dir.display(), io_err(e)),
        ),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(io_err)?;
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != me {
        return Err(refused(format!(
            "{} is owned by uid {}, not by root",
            dir.display(),
            st.st_uid
        )));
    }
    if st.st_mode & 0o022 != 0 && st.st_mode & 0o1000 == 0 {
        return Err(refused(format!(
            "{} is writable by others (mode {:o})",
            dir.display(),
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}

/// Where the content of `config` really lives: (directory, file name).
/// A link is resolved once, and only when the directory holding it is one
/// only we can change (else someone could point it anywhere between our
/// look and our write).
pub fn resolve(config: &Path) -> io::Result<(PathBuf, String)> {
    let (dir, name) = split(config)?;
    let is_link = std::fs::symlink_metadata(config).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok((dir, name));
    }
    checked_dir(&dir).map_err(|e| {
        refused(format!(
            "{} is a link in a directory others may change ({e})",
            config.display()
        ))
    })?;
    let target = std::fs::canonicalize(config).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{} is a link that leads nowhere: {e}", config.display()),
        )
    })?;
    split(&target)
}

/// What replacing a file keeps of it: owner, group, permission bits, and
/// its content when small enough to compare.
struct OldFile {
    uid: u32,
    gid: u32,
    mode: u32,
    content: Option<Vec<u8>>,
}

/// The old file when it exists: opened without following a link or
/// blocking, a regular file only.
fn old_file(dir: &OwnedFd, name: &str) -> io::Result<Option<OldFile>> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => {
            return Err(refused(format!("{name} became a link")));
        }
        Err(e) => return Err(io_err(e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(io_err)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(refused(format!("{name} is not a regular file")));
    }
    let content = if (st.st_size as u64) <= COMPARE_LIMIT {
        let mut v = Vec::new();
        File::from(fd).take(COMPARE_LIMIT).read_to_end(&mut v)?;
        Some(v)
    } else {
        None
    };
    Ok(Some(OldFile {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode & 0o777,
        content,
    }))
}

/// Replace `name` in `dir` with `data`, keeping the old file's owner,
/// group and permission bits (a new file: ours, 0600).
pub fn replace_in(dir: &OwnedFd, name: &str, data: &[u8]) -> io::Result<bool> {
    let me = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let (uid, gid, mode) = match old_file(dir, name)? {
        Some(old) if old.content.as_deref() == Some(data) => return Ok(false),
        Some(old) => (old.uid, old.gid, old.mode),
        None => (me.0, me.1, 0o600),
    };
    // No bit for group or others, and no owner bit the old file lacked,
    // until the content is complete and the owner is right.
    let creation = Mode::from_raw_mode(mode & 0o600);
    let mut made = None;
    for attempt in 0..32u32 {
        let tmp = temp_name(name, attempt);
        match rustix::fs::openat(
            dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            creation,
        ) {
            Ok(fd) => {
                made = Some((tmp, fd));
                break;
            }
            // Someone's name (a planted link, a leftover): not ours to touch.
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(io_err(e)),
        }
    }
    let Some((tmp, fd)) = made else {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary name next to the config file",
        ));
    };
    // Written while only the owner may read it; then the old file's owner
    // and mode (fchmod after fchown, which clears set-id bits); then renamed.
    let result = write_all(fd, data)
        .and_then(|fd| {
            if (uid, gid) != me {
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )
                .map_err(io_err)?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(io_err)
        })
        .and_then(|()| rustix::fs::renameat(dir, tmp.as_str(), dir, name).map_err(io_err));
    if let Err(e) = result {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        return Err(e);
    }
    let _ = rustix::fs::fsync(dir);
    Ok(true)
}

/// Write the whole content and flush it to disk.
fn write_all(fd: OwnedFd, data: &[u8]) -> io::Result<OwnedFd> {
    let mut f = File::from(fd);
    f.write_all(data)?;
    f.sync_all()?;
    Ok(OwnedFd::from(f))
}

/// A hidden name next to `name`, different for every process and attempt.
fn temp_name(name: &str, attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(".{name}.{}.{nanos:x}{attempt}.vm-new", std::process::id())
}

/// What `name` in `dir` is, without following a link: None when absent.
pub fn entry(dir: &OwnedFd, name: &str) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(io_err(e)),
    }
}

/// Remove `name` from `dir` (a link itself, never what it points at); a
/// missing name is no error.
pub fn remove_in(dir: &OwnedFd, name: &str) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(io_err(e)),
    }
}

/// Rename `from` to `to` inside `dir`.
pub fn rename_in(dir: &OwnedFd, from: &str, to: &str) -> io::Result<()> {
    rustix::fs::renameat(dir, from, dir, to).map_err(io_err)
}

/// Create `name` in `dir` empty, exclusively, never through a link, with
/// `mode` from the start.
pub fn create_empty(dir: &OwnedFd, name: &str, mode: u32) -> io::Result<()> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map(drop)
    .map_err(io_err)
}

/// (directory, file name) of a path naming a file.
pub fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path.file_name().and_then(|n| n.to_str());
    match (dir, name) {
        (Some(d), Some(n)) => Ok((d.to_path_buf(), n.to_string())),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file in a directory", path.display()),
        )),
    }
}

/// Write `data` as the content of `config` (see the module's rules).
pub fn save(config: &Path, data: &[u8]) -> io::Result<Saved> {
    let (dir, name) = resolve(config)?;
    let fd = checked_dir(&dir)?;
    if replace_in(&fd, &name, data)? {
        Ok(Saved::Written(dir.join(name)))
    } else {
        Ok(Saved::Unchanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vma-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn keeps_mode_and_owner_and_says_when_nothing_changed() {
        let d = scratch("mode");
        let f = d.join("web.xml");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
        assert_eq!(save(&f, b"new").unwrap(), Saved::Written(f.clone()));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(mode(&f), 0o640);
        let st = std::fs::metadata(&f).unwrap();
        assert_eq!((st.uid(), st.gid()), (65534, 65534), "owner kept");
        assert_eq!(save(&f, b"new").unwrap(), Saved::Unchanged);
        // A new file is root's and 0600.
        let g = d.join("fresh.xml");
        save(&g, b"x").unwrap();
        assert_eq!(mode(&g), 0o600);
        let names: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_link_keeps_its_target_replaced_and_planted_names_are_left_alone() {
        let d = scratch("link");
        let real = d.join("real");
        std::fs::create_dir(&real).unwrap();
        let target = real.join("web.xml");
        std::fs::write(&target, "old").unwrap();
        let link = d.join("web.xml");
        symlink(&target, &link).unwrap();
        assert_eq!(save(&link, b"new").unwrap(), Saved::Written(target.clone()));
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "new");
        // A name of ours planted as a link is never followed nor removed.
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let planted = real.join(temp_name("web.xml", 0));
        symlink(&victim, &planted).unwrap();
        save(&link, b"newer").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&planted).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn directories_others_may_change_are_refused() {
        let d = scratch("open");
        let f = d.join("web.xml");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = save(&f, b"new").unwrap_err();
        assert!(e.to_string().contains("writable by others"), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old");
        // A link whose own directory others may change is not followed.
        let safe = scratch("open-target");
        let t = safe.join("t.xml");
        std::fs::write(&t, "old").unwrap();
        let l = d.join("l.xml");
        symlink(&t, &l).unwrap();
        assert!(save(&l, b"new").is_err());
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "old");
        // The config itself replaced by a FIFO: refused without blocking.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fifo = d.join("fifo.xml");
        rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(save(&fifo, b"x").is_err());
        let e = read_config(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(read_config(Path::new("/dev/zero")).is_err());
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&safe);
    }
}
