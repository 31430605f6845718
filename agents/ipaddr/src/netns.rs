//! Network namespaces: entering `network_namespace` for the whole action,
//! and visiting the namespace of what start added (by its nsfs identity,
//! through its name or through any process that still holds it), all with
//! `setns(2)` through rustix. Only the calling thread moves, and it is the
//! thread that opens every socket afterwards.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use ocf::{OcfError, OcfResult};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// A network namespace, by the device and inode of its nsfs file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

impl NsId {
    fn of(meta: &std::fs::Metadata) -> NsId {
        NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The namespace this thread is in now.
pub fn current_ns() -> Option<NsId> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .ok()
        .map(|m| NsId::of(&m))
}

/// Open a namespace file. O_NONBLOCK: something else in its place (a FIFO)
/// must not hold the action until its timeout; setns then refuses it.
fn open_ro(path: &str) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

fn setns(f: &File) -> io::Result<()> {
    Ok(move_into_link_name_space(
        f.as_fd(),
        Some(LinkNameSpaceType::Network),
    )?)
}

/// Enter network namespace `name` (/run/netns) for the rest of the action.
pub fn enter_named(name: &str) -> OcfResult<()> {
    let path = format!("/run/netns/{name}");
    let f = open_ro(&path).map_err(|e| {
        OcfError::installed(format!(
            "network namespace {name} is not available on this node ({path}: {e})"
        ))
    })?;
    if let Err(e) = setns(&f) {
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) => {
                OcfError::perm(format!("cannot enter network namespace {name}: {e}"))
            }
            // Not a namespace file: as good as missing on this node.
            Some(libc::EINVAL) => OcfError::installed(format!(
                "network namespace {name} is not available on this node ({path} is not a network namespace)"
            )),
            _ => OcfError::generic(format!("cannot enter network namespace {name}: {e}")),
        });
    }
    ocf::debug!("entered network namespace {name}");
    Ok(())
}

/// This thread, moved into another network namespace; moves back on drop.
pub struct Visit {
    home: Option<File>,
}

impl Visit {
    /// Staying where we are.
    pub fn here() -> Visit {
        Visit { home: None }
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        if let Some(home) = &self.home
            && let Err(e) = setns(home)
        {
            ocf::warn!("cannot return to the agent's network namespace: {e}");
        }
    }
}

fn fd_ns(f: &File) -> Option<NsId> {
    f.metadata().ok().map(|m| NsId::of(&m))
}

fn enter(f: &File) -> io::Result<Visit> {
    let home = open_ro("/proc/thread-self/ns/net")?;
    setns(f)?;
    Ok(Visit { home: Some(home) })
}

/// Move into namespace `ns`: by `name` under /run/netns when that is still
/// the same namespace, else through any process that holds it (a namespace
/// whose name was removed lives on, with its addresses, while a process is
/// in it). Ok(None): no such namespace exists any more, and nothing that
/// was in it does either.
pub fn visit(ns: NsId, name: Option<&str>) -> io::Result<Option<Visit>> {
    if current_ns() == Some(ns) {
        return Ok(Some(Visit::here()));
    }
    if let Some(n) = name
        && let Ok(f) = open_ro(&format!("/run/netns/{n}"))
        && fd_ns(&f) == Some(ns)
    {
        return enter(&f).map(Some);
    }
    for p in ocf::procfs::all() {
        if p.namespace("net") != Some(ns.ino) {
            continue;
        }
        let path = p.dir().join("ns/net");
        let Some(path) = path.to_str() else { continue };
        // The inode alone could be another filesystem's: the device is
        // checked on what was opened.
        if let Ok(f) = open_ro(path)
            && fd_ns(&f) == Some(ns)
        {
            ocf::info!(
                "network namespace {} is held by process {}{}",
                name.unwrap_or("of the record"),
                p.pid(),
                if name.is_some() {
                    " (its name no longer leads to it)"
                } else {
                    ""
                }
            );
            return enter(&f).map(Some);
        }
    }
    Ok(None)
}

/// Move into the namespace named `name` (/run/netns), if it exists.
pub fn visit_named(name: &str) -> io::Result<Option<Visit>> {
    match open_ro(&format!("/run/netns/{name}")) {
        Ok(f) => {
            if fd_ns(&f).is_some() && fd_ns(&f) == current_ns() {
                return Ok(Some(Visit::here()));
            }
            match enter(&f) {
                Ok(v) => Ok(Some(v)),
                // Not a network namespace (a file or FIFO in its place):
                // no address can be in it.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
