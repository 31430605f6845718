//! Device and status-file I/O for monitor depths 10 and 20, and removing
//! the status file on stop, each in a forked child under a deadline
//! ([`crate::child`], the fork probe): a read from dead storage sleeps
//! uninterruptibly, and must not keep the agent from answering.
//!
//! The status file lives inside the mounted filesystem, where other users
//! may write: it is reached through `ocf::files` only, never by a path the
//! kernel resolves for us (see [`StatusFile`]).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ocf::Deadline;
use ocf::files::TrustedDir;
use rustix::fs::{Mode, OFlags, fcntl_getfl, fcntl_setfl};
use rustix::io::Errno;

use crate::child::{Failure, in_child};

/// The size and alignment of every O_DIRECT transfer: a multiple of any
/// logical block size (512 or 4096), as O_DIRECT needs on real filesystems.
pub const BLOCK: usize = 4096;

/// One block, aligned for O_DIRECT, allocated before fork.
#[repr(C, align(4096))]
struct Aligned([u8; BLOCK]);

impl Aligned {
    fn new() -> Box<Aligned> {
        Box::new(Aligned([0; BLOCK]))
    }
}

/// Depth 10: read the first block of `device` with O_DIRECT (past the page
/// cache, so a dead disk is noticed).
pub fn read_device(device: &Path, dl: &Deadline) -> Result<(), String> {
    if device.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(format!("{} contains NUL", device.display()));
    }
    let mut buf = Aligned::new();
    let steps = ["open", "read"];
    let r = in_child(dl, || {
        let fd = rustix::fs::open(
            device,
            OFlags::RDONLY | OFlags::DIRECT | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Failure::errno(1, e))?;
        rustix::io::read(&fd, &mut buf.0[..]).map_err(|e| Failure::errno(2, e))?;
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(f.describe(&steps)),
    }
}

/// Where the depth-20 status file lives inside a mount: the directories
/// of `statusfile_prefix` (`a/b/` is two), each created when missing, and
/// the file name. Reached from the mount point through `ocf::files` only:
/// every directory must be ours (root's, writable by nobody else, not a
/// link) and the file a regular file of ours, never a link, FIFO or device.
/// A file directly in the mount's root (a prefix without `/`) is written
/// only when the root is ours and writable by nobody else either: in a
/// directory others can write to, a planted hard link to a file of root's
/// would be a regular file of ours too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusFile {
    pub dirs: Vec<String>,
    pub name: String,
}

impl StatusFile {
    /// The path, for log lines.
    pub fn path(&self, mount_point: &Path) -> PathBuf {
        let mut p = mount_point.to_path_buf();
        for d in &self.dirs {
            p.push(d);
        }
        p.join(&self.name)
    }

    /// The directory the file goes in: created when `create`, `None`
    /// when a directory is missing and not to be created.
    fn open_dir(&self, mount_point: &Path, create: bool) -> Result<Option<TrustedDir>, Failure> {
        let mut dir = TrustedDir::open_any(mount_point).map_err(|e| Failure::io(1, e))?;
        if self.dirs.is_empty() {
            let md = std::fs::symlink_metadata(mount_point).map_err(|e| Failure::io(1, e))?;
            let me = rustix::process::geteuid().as_raw();
            if md.uid() != me || md.mode() & 0o022 != 0 {
                return Err(Failure {
                    step: 2,
                    errno: 0,
                    msg: format!(
                        "{} is owned by uid {} with mode {:o}: others may write there, so no status file is written directly in it (give statusfile_prefix a directory, like the default .Filesystem_status/)",
                        mount_point.display(),
                        md.uid(),
                        md.mode() & 0o7777
                    ),
                });
            }
            return Ok(Some(dir));
        }
        for d in &self.dirs {
            dir = match dir.subdir(d, create.then_some(0o755)) {
                Ok(sub) => sub,
                Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Failure::io(2, e)),
            };
        }
        Ok(Some(dir))
    }
}

/// O_DIRECT on an open descriptor, where the filesystem allows it (tmpfs,
/// for one, may not): the I/O then reaches the device, not the page cache.
fn set_direct(fd: &std::fs::File, on: bool) -> bool {
    let Ok(fl) = fcntl_getfl(fd) else {
        return false;
    };
    let fl = if on {
        fl | OFlags::DIRECT
    } else {
        fl & !OFlags::DIRECT
    };
    fcntl_setfl(fd, fl).is_ok()
}

/// Depth 20: write one block to the status file with O_DIRECT and fsync,
/// and read it back with O_DIRECT (without, where the filesystem refuses
/// it, as on tmpfs or CIFS). The directories are created when missing.
pub fn write_read_status(
    mount_point: &Path,
    status: &StatusFile,
    content: &[u8],
    dl: &Deadline,
) -> Result<(), String> {
    let mut wbuf = Aligned::new();
    let mut rbuf = Aligned::new();
    {
        let w = &mut wbuf.0;
        w.fill(b'\n');
        let n = content.len().min(BLOCK);
        w[..n].copy_from_slice(&content[..n]);
    }
    let steps = [
        "open the mount point",
        "the status directory",
        "open for writing",
        "write",
        "sync",
        "read",
        "compare",
    ];
    let r = in_child(dl, || {
        let w = &wbuf.0;
        let rb = &mut rbuf.0;
        let dir = status
            .open_dir(mount_point, true)?
            .ok_or_else(|| Failure::errno(2, Errno::NOENT))?;
        let file = dir
            .open_write(&status.name, 0o644)
            .map_err(|e| Failure::io(3, e))?;
        let direct = set_direct(&file, true);
        match rustix::io::pwrite(&file, w, 0) {
            Ok(BLOCK) => {}
            Ok(_) => return Err(Failure::errno(4, Errno::IO)),
            Err(e) => return Err(Failure::errno(4, e)),
        }
        rustix::fs::fsync(&file).map_err(|e| Failure::errno(5, e))?;
        let mut n = rustix::io::pread(&file, &mut rb[..], 0);
        if n == Err(Errno::INVAL) && direct {
            set_direct(&file, false);
            n = rustix::io::pread(&file, &mut rb[..], 0);
        }
        match n {
            Ok(BLOCK) => {}
            Ok(_) => return Err(Failure::errno(6, Errno::IO)),
            Err(e) => return Err(Failure::errno(6, e)),
        }
        if rb[..] != w[..] {
            return Err(Failure::errno(7, Errno::IO));
        }
        Ok(())
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(f.describe(&steps)),
    }
}

/// Remove the status file (before unmounting), through the same checked
/// directories: a missing file or directory is fine, and nothing is
/// removed through a directory that is not ours.
pub fn remove(mount_point: &Path, status: &StatusFile, dl: &Deadline) -> Result<(), String> {
    let steps = ["open the mount point", "the status directory", "unlink"];
    let r = in_child(dl, || {
        let Some(dir) = status.open_dir(mount_point, false)? else {
            return Ok(());
        };
        dir.remove(&status.name).map_err(|e| Failure::io(3, e))
    })?;
    match r {
        None => Ok(()),
        Some(f) => Err(f.describe(&steps)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn status_file_round_trip_and_removal() {
        let dir = std::env::temp_dir().join(format!("fsa-bio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let st = StatusFile {
            dirs: vec![".status".into(), "deeper".into()],
            name: "r1_node".into(),
        };
        let file = st.path(&dir);
        assert_eq!(file, dir.join(".status/deeper/r1_node"));
        let dl = Deadline::after(Duration::from_secs(10));
        write_read_status(&dir, &st, b"r1\n", &dl).unwrap();
        let text = std::fs::read(&file).unwrap();
        assert_eq!(text.len(), BLOCK);
        assert!(text.starts_with(b"r1\n"));
        write_read_status(&dir, &st, b"r1\n", &dl).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap().len(),
            BLOCK,
            "emptied, then one block"
        );
        remove(&dir, &st, &dl).unwrap();
        assert!(!file.exists());
        remove(&dir, &st, &dl).unwrap();
        // A planted link in place of the file: refused, the target untouched.
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, &file).unwrap();
        let err = write_read_status(&dir, &st, b"r1\n", &dl).unwrap_err();
        assert!(err.starts_with("open for writing"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        remove(&dir, &st, &dl).unwrap();
        assert!(victim.exists() && std::fs::symlink_metadata(&file).is_err());
        let missing = StatusFile {
            dirs: vec!["nowhere".into()],
            name: "x".into(),
        };
        remove(&dir, &missing, &dl).unwrap();
        let err = read_device(&dir.join("missing"), &dl).unwrap_err();
        assert!(err.starts_with("open: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
