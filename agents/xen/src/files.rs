//! The files this agent reads and keeps: a config file read bounded and
//! never from a FIFO (the xmfile; ocf:rust:vm's domain XML too), and small
//! files of this resource's in `HA_RSCTMP` (a utilization cache, a
//! "stopped here" marker).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, OFlags};

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A small file of this resource's in `HA_RSCTMP`, through
/// `ocf::files::TrustedDir` as the records are: the directory checked,
/// never through a link, mode 0600, replaced atomically. `name` is made of
/// the instance name with `ocf::files::instance_file_name`.
pub fn state_read(ctx: &ocf::Context, name: &str) -> Option<String> {
    let dir = ocf::files::TrustedDir::open(&ctx.rsc_tmp, None).ok()?;
    String::from_utf8(dir.read(name, 4096).ok()?).ok()
}

pub fn state_write(ctx: &ocf::Context, name: &str, data: &str) {
    let written = ocf::files::TrustedDir::open(&ctx.rsc_tmp, Some(0o755))
        .and_then(|d| d.replace(name, data.as_bytes(), 0o600));
    if let Err(e) = written {
        ocf::debug!("cannot write {name} in {}: {e}", ctx.rsc_tmp.display());
    }
}

pub fn state_remove(ctx: &ocf::Context, name: &str) {
    if let Ok(d) = ocf::files::TrustedDir::open(&ctx.rsc_tmp, None) {
        let _ = d.remove(name);
    }
}

/// The most we read of a config file (a domain XML or an xl file): far
/// more than any real one, far less than memory.
pub const CONFIG_LIMIT: u64 = 16 << 20;

/// Read a config file the way an admin expects (a link is followed: the
/// file is often a link into shared storage), but never block on a FIFO or
/// a device, refuse anything but a regular file, and read at most
/// [`CONFIG_LIMIT`] bytes (a longer file is an error, not cut short).
pub fn read_config(path: &Path) -> io::Result<Vec<u8>> {
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)?;
    let st = rustix::fs::fstat(&fd).map_err(io_err)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut v = Vec::new();
    File::from(fd).take(CONFIG_LIMIT + 1).read_to_end(&mut v)?;
    if v.len() as u64 > CONFIG_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {CONFIG_LIMIT} bytes", path.display()),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_are_regular_files_read_without_blocking() {
        let d = std::env::temp_dir().join(format!("xen-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("dom.cfg");
        std::fs::write(&f, "name = \"a\"\n").unwrap();
        assert_eq!(read_config(&f).unwrap(), b"name = \"a\"\n");
        let fifo = d.join("fifo.cfg");
        rustix::fs::mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        let e = read_config(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(read_config(Path::new("/dev/zero")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
