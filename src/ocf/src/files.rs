//! Files written or read as root in directories we did not make ourselves.
//!
//! Every such file is opened relative to a directory descriptor we checked
//! (a directory, not a link, owned by us and writable by nobody else), with
//! `O_NOFOLLOW`, its mode set at creation, and refused unless it is a regular
//! file of ours. A path is resolved once, when the directory is opened; after
//! that nobody can swap a component under us.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

/// A directory we checked and hold open.
#[derive(Debug)]
pub struct TrustedDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn refuse(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
}

impl TrustedDir {
    /// Open `path`, creating it with `mode` when it is missing and `mode` is
    /// given (its parent must exist). Refused unless it is a directory (the
    /// last component not a symlink), owned by our effective user, and not
    /// writable by group or others (sticky directories excepted, as
    /// /run/resource-agents is mode 1755).
    pub fn open(path: &Path, create: Option<u32>) -> io::Result<TrustedDir> {
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
        let fd = match rustix::fs::openat(CWD, path, flags, Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create.is_some() => {
                let mode = Mode::from_raw_mode(create.unwrap_or(0o755));
                match rustix::fs::mkdirat(CWD, path, mode) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io_err(e)),
                }
                rustix::fs::openat(CWD, path, flags, Mode::empty()).map_err(io_err)?
            }
            r => r.map_err(io_err)?,
        };
        check_dir_is_ours(&fd, path)?;
        Ok(TrustedDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Open a directory anyone may write into (a mounted filesystem's root),
    /// only to reach a subdirectory of ours through [`TrustedDir::subdir`]:
    /// a directory, its last component not a link; no owner check.
    pub fn open_any(path: &Path) -> io::Result<TrustedDir> {
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
        let fd = rustix::fs::openat(CWD, path, flags, Mode::empty()).map_err(io_err)?;
        Ok(TrustedDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the subdirectory `name` (created with `mode` when missing and
    /// `mode` is given), never through a link, with the same checks as
    /// [`TrustedDir::open`]: ours, writable by nobody else.
    pub fn subdir(&self, name: &str, create: Option<u32>) -> io::Result<TrustedDir> {
        check_name(name)?;
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create.is_some() => {
                let mode = Mode::from_raw_mode(create.unwrap_or(0o700));
                match rustix::fs::mkdirat(&self.fd, name, mode) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io_err(e)),
                }
                rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(io_err)?
            }
            r => r.map_err(io_err)?,
        };
        let path = self.path.join(name);
        check_dir_is_ours(&fd, &path)?;
        Ok(TrustedDir { fd, path })
    }

    /// Open `name` for writing, created with `mode` if missing, never
    /// through a link, refused unless it is a regular file of ours; then
    /// emptied through the descriptor (`O_TRUNC` on open would truncate a
    /// file before we could check whose it is).
    pub fn open_write(&self, name: &str, mode: u32) -> io::Result<File> {
        check_name(name)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(io_err)?;
        check_regular_file(&fd, name, rustix::process::geteuid().as_raw())?;
        // A second name for it elsewhere would make our write land there.
        if rustix::fs::fstat(&fd).map_err(io_err)?.st_nlink > 1 {
            return Err(refuse(format!("{name} has another hard link")));
        }
        rustix::fs::ftruncate(&fd, 0).map_err(io_err)?;
        Ok(File::from(fd))
    }

    /// Replace `name` with `data` atomically: a new file (exclusive
    /// creation, `mode` from the start, never through a link) renamed over
    /// the old one. A reader sees the old content or the new, never half.
    pub fn replace(&self, name: &str, data: &[u8], mode: u32) -> io::Result<()> {
        check_name(name)?;
        let tmp = format!(".{name}.{}.new", std::process::id());
        let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        let fd = rustix::fs::openat(
            &self.fd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(io_err)?;
        let mut f = File::from(fd);
        let written = f.write_all(data).and_then(|()| f.sync_data());
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            return Err(e);
        }
        rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            io_err(e)
        })
    }

    /// Read `name`, at most `limit` bytes, if it is a regular file owned by
    /// us. A link, a FIFO, a device or a file someone else owns is refused
    /// without blocking (`O_NONBLOCK`, checked on the descriptor).
    pub fn read(&self, name: &str, limit: u64) -> io::Result<Vec<u8>> {
        check_name(name)?;
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        check_regular_file(&fd, name, rustix::process::geteuid().as_raw())?;
        let mut out = Vec::new();
        File::from(fd).take(limit).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Remove `name` (a missing file is not an error).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}

/// A directory we may write files into: owned by our effective user, not
/// writable by group or others unless sticky.
fn check_dir_is_ours(fd: impl AsFd, path: &Path) -> io::Result<()> {
    let st = rustix::fs::fstat(fd).map_err(io_err)?;
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != me {
        return Err(refuse(format!(
            "{} is owned by uid {}, not by us",
            path.display(),
            st.st_uid
        )));
    }
    let mode = st.st_mode;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(refuse(format!(
            "{} is writable by others (mode {:o})",
            path.display(),
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Read a small file others may control (a pid file in the service user's
/// directory): never through a link in its last component, never blocking
/// on a FIFO or a device (`O_NONBLOCK`, then checked on the descriptor), a
/// regular file (of `owner` when given), at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64, owner: Option<u32>) -> io::Result<Vec<u8>> {
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)?;
    let st = rustix::fs::fstat(&fd).map_err(io_err)?;
    let name = path.display().to_string();
    check_regular_file(&fd, &name, owner.unwrap_or(st.st_uid))?;
    let mut out = Vec::new();
    File::from(fd).take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// Open a file we create as root for another user (a server's log file)
/// for appending: created new with `mode` and handed to `uid:gid` with
/// `fchown` on the descriptor; or, when it exists, opened without following
/// a link and used only if it is a regular file `uid` already owns. So the
/// service user can never point it at a file of root's and receive it.
pub fn open_append_for(path: &Path, uid: u32, gid: u32, mode: u32) -> io::Result<File> {
    let base = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(
        CWD,
        path,
        base | OFlags::CREATE | OFlags::EXCL,
        Mode::from_raw_mode(mode),
    ) {
        Ok(fd) => {
            rustix::fs::fchown(
                &fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(io_err)?;
            Ok(File::from(fd))
        }
        Err(rustix::io::Errno::EXIST) => {
            let fd = rustix::fs::openat(CWD, path, base | OFlags::NONBLOCK, Mode::empty())
                .map_err(io_err)?;
            check_regular_file(&fd, &path.display().to_string(), uid)?;
            Ok(File::from(fd))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// A plain file name: no `/`, not `.` or `..`, not empty.
fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    Ok(())
}

/// Refuse anything but a regular file owned by `uid`.
pub fn check_regular_file(fd: impl AsFd, name: &str, uid: u32) -> io::Result<()> {
    let st = rustix::fs::fstat(fd).map_err(io_err)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(refuse(format!("{name} is not a regular file")));
    }
    if st.st_uid != uid {
        return Err(refuse(format!("{name} is owned by uid {}", st.st_uid)));
    }
    Ok(())
}

/// A file name made of `parts` for one resource instance: `/` and a leading
/// `.` cannot come from an instance name (`rsc:0`, `grp/rsc` from crmsh).
pub fn instance_file_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut out: String = joined
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocf-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn replace_read_remove() {
        let d = scratch("rw");
        let dir = TrustedDir::open(&d, Some(0o755)).unwrap();
        dir.replace("a", b"one", 0o600).unwrap();
        dir.replace("a", b"two", 0o600).unwrap();
        assert_eq!(dir.read("a", 100).unwrap(), b"two");
        let mode = std::fs::metadata(d.join("a")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(dir.read("a", 2).unwrap(), b"tw");
        dir.remove("a").unwrap();
        dir.remove("a").unwrap();
        assert!(dir.read("a", 10).is_err());
        assert!(dir.replace("../x", b"", 0o600).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn links_fifos_and_open_directories_are_refused() {
        let d = scratch("links");
        let dir = TrustedDir::open(&d, Some(0o755)).unwrap();
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        symlink(&victim, d.join("planted")).unwrap();
        assert!(dir.read("planted", 10).is_err());
        // replace never writes through the link: it replaces the link itself
        dir.replace("planted", b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let fifo = d.join("fifo");
        rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        let err = dir.read("fifo", 10).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // a world-writable directory without the sticky bit is not trusted
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(TrustedDir::open(&d, None).is_err());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(TrustedDir::open(&d, None).is_ok());
        // a symlink to a directory is not opened
        let link = scratch("links-link");
        symlink(&d, &link).unwrap();
        assert!(TrustedDir::open(&link, None).is_err());
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn subdirs_and_files_inside_a_directory_others_write_to() {
        let d = scratch("sub");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let root = TrustedDir::open_any(&d).unwrap();
        let sub = root.subdir(".status", Some(0o700)).unwrap();
        let mut f = sub.open_write("x", 0o600).unwrap();
        f.write_all(b"one").unwrap();
        drop(f);
        let f = sub.open_write("x", 0o600).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 0, "emptied through the fd");
        std::fs::hard_link(d.join(".status/x"), d.join("second")).unwrap();
        assert!(
            sub.open_write("x", 0o600).is_err(),
            "a hard link is refused"
        );
        // a planted link in place of the file, or of the subdirectory
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        symlink(&victim, d.join(".status/y")).unwrap();
        assert!(sub.open_write("y", 0o600).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        symlink(d.join(".status"), d.join(".other")).unwrap();
        assert!(root.subdir(".other", Some(0o700)).is_err());
        // a subdirectory someone else made is not ours
        std::fs::create_dir(d.join(".theirs")).unwrap();
        std::os::unix::fs::chown(d.join(".theirs"), Some(65534), None).unwrap();
        assert!(root.subdir(".theirs", None).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn small_files_of_others_and_files_for_others() {
        let d = scratch("others");
        std::fs::create_dir_all(&d).unwrap();
        let pid = d.join("pid");
        std::fs::write(&pid, "123\n").unwrap();
        assert_eq!(read_regular(&pid, 16, None).unwrap(), b"123\n");
        assert!(read_regular(&pid, 16, Some(65534)).is_err(), "not nobody's");
        assert_eq!(read_regular(&pid, 2, None).unwrap(), b"12");
        symlink("/dev/zero", d.join("zero")).unwrap();
        assert!(read_regular(&d.join("zero"), 16, None).is_err());
        let fifo = d.join("fifo");
        rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(
            read_regular(&fifo, 16, None).is_err(),
            "a FIFO never blocks us"
        );
        // a log for nobody: created and handed over; a file of root's is refused
        let log = d.join("log");
        let f = open_append_for(&log, 65534, 65534, 0o640).unwrap();
        let st = f.metadata().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((st.uid(), st.mode() & 0o777), (65534, 0o640));
        drop(f);
        assert!(
            open_append_for(&log, 65534, 65534, 0o640).is_ok(),
            "already nobody's"
        );
        let roots = d.join("roots");
        std::fs::write(&roots, "secret").unwrap();
        assert!(open_append_for(&roots, 65534, 65534, 0o640).is_err());
        symlink(&roots, d.join("link")).unwrap();
        assert!(open_append_for(&d.join("link"), 65534, 65534, 0o640).is_err());
        assert_eq!(
            std::fs::metadata(&roots).unwrap().uid(),
            0,
            "never given away"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn instance_names_become_plain_file_names() {
        assert_eq!(instance_file_name(&["vm", "web:0"]), "vm-web:0");
        assert_eq!(instance_file_name(&["a/b", "c"]), "a_b-c");
        assert_eq!(instance_file_name(&[".hidden"]), "_hidden");
    }
}
