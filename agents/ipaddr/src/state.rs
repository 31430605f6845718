//! What start added, and where it lives: the record start writes before it
//! adds the address, and the network namespace that address is in.
//!
//! The identity of our address is (namespace, interface index, address):
//! a namespace is known by its nsfs inode, which outlives its name in
//! `/run/netns` as long as anything holds it; an interface index survives a
//! rename and is not reused while its namespace lives. The interface name
//! and the prefix are kept for log lines and for the label.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use ocf::{Context, Record};

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

/// What one start put on this node (the record, parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub ip: IpAddr,
    pub prefix: u8,
    pub index: u32,
    /// The interface's name when start chose it.
    pub ifname: String,
    pub label: Option<String>,
    /// `network_namespace` at start, if any.
    pub netns: Option<String>,
    /// The namespace start ran in (None: a record without it, read as "here").
    pub ns: Option<NsId>,
    /// The IPv6 address label start added (lvs_ipv6_addrlabel).
    pub addrlabel: Option<u32>,
}

impl Started {
    pub fn to_record(&self) -> Record {
        let mut r = Record::new()
            .with("ip", self.ip.to_string())
            .with("prefix", self.prefix.to_string())
            .with("ifindex", self.index.to_string())
            .with("ifname", &self.ifname);
        if let Some(l) = &self.label {
            r.set("label", l);
        }
        if let Some(n) = &self.netns {
            r.set("netns", n);
        }
        if let Some(ns) = self.ns {
            r.set("netns_dev", ns.dev.to_string());
            r.set("netns_ino", ns.ino.to_string());
        }
        if let Some(l) = self.addrlabel {
            r.set("addrlabel", l.to_string());
        }
        r
    }

    /// None when the record does not name an address and an interface.
    pub fn from_record(r: &Record) -> Option<Started> {
        let ns = match (r.get_u64("netns_dev"), r.get_u64("netns_ino")) {
            (Some(dev), Some(ino)) => Some(NsId { dev, ino }),
            _ => None,
        };
        Some(Started {
            ip: r.get("ip")?.parse().ok()?,
            prefix: r.get_u64("prefix").and_then(|p| u8::try_from(p).ok())?,
            index: r
                .get_u64("ifindex")
                .and_then(|i| u32::try_from(i).ok())
                .filter(|i| *i > 0)?,
            ifname: r.get("ifname").unwrap_or_default().to_string(),
            label: r.get("label").map(str::to_string),
            netns: r.get("netns").map(str::to_string),
            ns,
            addrlabel: r.get_u64("addrlabel").and_then(|l| u32::try_from(l).ok()),
        })
    }

    pub fn load(ctx: &Context) -> Option<Started> {
        Record::load(ctx).and_then(|r| Started::from_record(&r))
    }

    /// Is this in the namespace the thread is in now?
    pub fn is_here(&self, here: Option<NsId>) -> bool {
        self.ns.is_none() || self.ns == here
    }

    /// "198.51.100.10/24 on eth0 (namespace web)", for log lines.
    pub fn describe(&self) -> String {
        format!(
            "{}/{} on {}{}",
            self.ip,
            self.prefix,
            if self.ifname.is_empty() {
                format!("if#{}", self.index)
            } else {
                self.ifname.clone()
            },
            self.netns
                .as_ref()
                .map(|n| format!(" (network namespace {n})"))
                .unwrap_or_default()
        )
    }
}

/// This thread, moved into another network namespace; moves back on drop.
pub struct Visit {
    home: Option<OwnedFd>,
}

impl Visit {
    /// Staying where we are.
    pub fn here() -> Visit {
        Visit { home: None }
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            // SAFETY: setns on a namespace fd we opened; only this thread moves.
            if unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                ocf::warn!(
                    "cannot return to the agent's network namespace: {}",
                    io::Error::last_os_error()
                );
            }
        }
    }
}

fn open_ro(path: &str) -> io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid C string; the fd is owned right after.
    // O_NONBLOCK: a FIFO in a namespace file's place must not block us.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_ns(fd: &OwnedFd) -> Option<NsId> {
    let st = rustix::fs::fstat(fd).ok()?;
    Some(NsId {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

fn enter(fd: &OwnedFd) -> io::Result<Visit> {
    let home = open_ro("/proc/thread-self/ns/net")?;
    // SAFETY: setns on a namespace fd we opened; only this thread moves.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
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
        && let Ok(fd) = open_ro(&format!("/run/netns/{n}"))
        && fd_ns(&fd) == Some(ns)
    {
        return enter(&fd).map(Some);
    }
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let path = format!("/proc/{pid}/ns/net");
        if std::fs::metadata(&path).is_ok_and(|m| NsId::of(&m) == ns)
            && let Ok(fd) = open_ro(&path)
            && fd_ns(&fd) == Some(ns)
        {
            ocf::info!(
                "network namespace {} is held by process {pid}{}",
                name.unwrap_or("of the record"),
                if name.is_some() {
                    " (its name no longer leads to it)"
                } else {
                    ""
                }
            );
            return enter(&fd).map(Some);
        }
    }
    Ok(None)
}

/// Move into the namespace named `name` (/run/netns), if it exists.
pub fn visit_named(name: &str) -> io::Result<Option<Visit>> {
    match open_ro(&format!("/run/netns/{name}")) {
        Ok(fd) => {
            if fd_ns(&fd).is_some() && fd_ns(&fd) == current_ns() {
                return Ok(Some(Visit::here()));
            }
            match enter(&fd) {
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
