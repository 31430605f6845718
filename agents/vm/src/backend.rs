//! The hypervisor behind a small trait: libvirt today (any URI libvirt
//! speaks), and room for a native Xen `xl` backend beside it.
//!
//! Every libvirt call can block (a hung libvirtd, a dead NFS pool: RA#385,
//! RA#546), so each one runs on its own thread and the caller waits only
//! until its deadline. A call that does not return in time is abandoned (the
//! thread keeps the objects it uses alive through `Arc`s) and reported as
//! [`HvError::Timeout`]; the action then decides what to do with the time
//! it has left, and the watchdog still ends the process before Pacemaker's
//! kill whatever a stuck thread does.

use std::ffi::c_char;
use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ocf::Deadline;

use crate::libvirt::{self as lv, Api, ConnPtr, DomPtr};

/// Why a hypervisor call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HvError {
    /// The hypervisor cannot be reached (libvirtd down, connection lost).
    Unreachable(String),
    /// The call did not return before the deadline.
    Timeout(String),
    /// No domain by that name.
    NoDomain,
    /// The hypervisor refused (the message says why).
    Failed(String),
}

impl HvError {
    /// True when the hypervisor itself is out of reach (not the domain).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HvError::Unreachable(_) | HvError::Timeout(_))
    }
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HvError::Unreachable(m) => write!(f, "hypervisor unreachable: {m}"),
            HvError::Timeout(m) => write!(f, "{m}: no answer from the hypervisor in time"),
            HvError::NoDomain => f.write_str("no such domain"),
            HvError::Failed(m) => f.write_str(m),
        }
    }
}

pub type HvResult<T> = Result<T, HvError>;

/// Why a shut-off domain stopped, as far as it matters to a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutoff {
    /// The guest powered off cleanly (from inside, or an ACPI shutdown).
    GuestShutdown,
    /// Destroyed (`virsh destroy`, or our force stop).
    Destroyed,
    /// The emulator died or the guest crashed.
    Crashed,
    /// Migrated away, saved, or failed to start, or unknown.
    Other(i32),
}

/// A domain's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomState {
    Running,
    Blocked,
    Paused,
    /// A shutdown is in progress.
    ShuttingDown,
    PmSuspended,
    Crashed,
    ShutOff(Shutoff),
    NoState,
}

impl DomState {
    /// Does the domain occupy the node (an emulator process exists)?
    pub fn is_active(self) -> bool {
        !matches!(self, DomState::ShutOff(_))
    }

    fn from_libvirt(state: i32, reason: i32) -> DomState {
        match state {
            lv::STATE_RUNNING => DomState::Running,
            lv::STATE_BLOCKED => DomState::Blocked,
            lv::STATE_PAUSED => DomState::Paused,
            lv::STATE_SHUTDOWN => DomState::ShuttingDown,
            lv::STATE_PMSUSPENDED => DomState::PmSuspended,
            lv::STATE_CRASHED => DomState::Crashed,
            lv::STATE_SHUTOFF => DomState::ShutOff(match reason {
                lv::SHUTOFF_SHUTDOWN => Shutoff::GuestShutdown,
                lv::SHUTOFF_DESTROYED => Shutoff::Destroyed,
                lv::SHUTOFF_CRASHED => Shutoff::Crashed,
                r => Shutoff::Other(r),
            }),
            lv::STATE_NOSTATE => DomState::NoState,
            _ => DomState::NoState,
        }
    }
}

impl fmt::Display for DomState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DomState::Running => "running",
            DomState::Blocked => "blocked",
            DomState::Paused => "paused",
            DomState::ShuttingDown => "in shutdown",
            DomState::PmSuspended => "pmsuspended",
            DomState::Crashed => "crashed",
            DomState::ShutOff(Shutoff::GuestShutdown) => "shut off (shutdown)",
            DomState::ShutOff(Shutoff::Destroyed) => "shut off (destroyed)",
            DomState::ShutOff(Shutoff::Crashed) => "shut off (crashed)",
            DomState::ShutOff(Shutoff::Other(lv::SHUTOFF_MIGRATED)) => "shut off (migrated)",
            DomState::ShutOff(Shutoff::Other(lv::SHUTOFF_SAVED)) => "shut off (saved)",
            DomState::ShutOff(Shutoff::Other(lv::SHUTOFF_FAILED)) => "shut off (failed)",
            DomState::ShutOff(Shutoff::Other(_)) => "shut off",
            DomState::NoState => "no state",
        };
        f.write_str(s)
    }
}

/// What one look at a domain tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainView {
    pub state: DomState,
    pub uuid: String,
    pub persistent: bool,
}

/// Size of a running domain, for utilization attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub vcpus: u32,
    pub memory_mib: u64,
}

/// A live migration to another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The hypervisor URI of the target (`qemu+tcp://node2/system`).
    pub remote_uri: String,
    /// The data URI (`tcp://node2-mig`), if not libvirt's default.
    pub migrate_uri: Option<String>,
    /// Flags (libvirt `VIR_MIGRATE_*`); live, persist, undefine source.
    pub flags: u64,
    /// MiB/s, 0 = unlimited.
    pub bandwidth: u64,
    /// Max downtime in ms, 0 = the hypervisor's default.
    pub downtime_ms: u64,
}

/// What the vm agent needs from a hypervisor. Each call is bounded by `dl`.
pub trait Backend {
    /// The domain's state, `Err(NoDomain)` when it is not known here.
    fn lookup(&self, name: &str, dl: &Deadline) -> HvResult<DomainView>;
    /// The domain with this UUID, whatever its name now: (name, state).
    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)>;
    /// Define the domain from XML (replacing an inactive definition).
    fn define(&self, xml: &str, dl: &Deadline) -> HvResult<()>;
    /// Boot a defined domain.
    fn boot(&self, name: &str, dl: &Deadline) -> HvResult<()>;
    /// Restore a domain from a state file written by [`Backend::save`].
    fn restore(&self, path: &str, dl: &Deadline) -> HvResult<()>;
    /// Ask the guest to shut down (`mode`: libvirt shutdown flags, 0 = default).
    fn shutdown(&self, name: &str, mode: u32, dl: &Deadline) -> HvResult<()>;
    /// Pull the plug.
    fn destroy(&self, name: &str, dl: &Deadline) -> HvResult<()>;
    /// Forget an inactive definition.
    fn undefine(&self, name: &str, dl: &Deadline) -> HvResult<()>;
    /// Save the running domain's memory to `path` and stop it.
    fn save(&self, name: &str, path: &str, dl: &Deadline) -> HvResult<()>;
    /// The persistent XML, with secrets (for save_config_on_stop).
    fn config_xml(&self, name: &str, dl: &Deadline) -> HvResult<String>;
    /// vCPUs and memory of the domain.
    fn size(&self, name: &str, dl: &Deadline) -> HvResult<Size>;
    /// Live-migrate the domain.
    fn migrate(&self, name: &str, m: &Migration, dl: &Deadline) -> HvResult<()>;
    /// Start a virtual network if it is not active.
    fn start_network(&self, name: &str, dl: &Deadline) -> HvResult<()>;
    /// Start a storage pool if it is not active.
    fn start_pool(&self, name: &str, dl: &Deadline) -> HvResult<()>;
}

/// Run `f` on its own thread and wait for it until `dl`.
pub fn bounded<T, F>(what: &str, dl: &Deadline, f: F) -> HvResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> HvResult<T> + Send + 'static,
{
    if dl.expired() {
        return Err(HvError::Timeout(what.to_string()));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("libvirt-call".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        return Err(HvError::Failed(format!(
            "{what}: cannot start a thread: {e}"
        )));
    }
    match rx.recv_timeout(dl.remaining().max(Duration::from_millis(1))) {
        Ok(r) => r,
        Err(_) => Err(HvError::Timeout(what.to_string())),
    }
}

/// A libvirt connection pointer that may cross threads (libvirt's objects
/// are thread-safe). Never closed: closing talks to the daemon and could
/// block; the process ends right after the action anyway.
struct Conn(ConnPtr);
// SAFETY: libvirt connections may be used from any thread.
unsafe impl Send for Conn {}
// SAFETY: as above; libvirt locks internally.
unsafe impl Sync for Conn {}

/// A domain reference, freed when the last user drops it.
struct Dom(DomPtr);
// SAFETY: libvirt domain objects may be used from any thread.
unsafe impl Send for Dom {}
impl Drop for Dom {
    fn drop(&mut self) {
        if let Ok(api) = lv::api() {
            // SAFETY: a reference we own; virDomainFree is local, no RPC.
            unsafe { (api.domain_free)(self.0) };
        }
    }
}

/// The libvirt backend: one connection to `uri`.
pub struct Libvirt {
    api: &'static Api,
    conn: Arc<Conn>,
    uri: String,
}

impl Libvirt {
    /// Load libvirt and connect, bounded by `dl`. `Err(Failed)` when the
    /// library is missing (the caller maps that to "not installed").
    pub fn connect(uri: &str, dl: &Deadline) -> HvResult<Libvirt> {
        let api = lv::api().map_err(HvError::Failed)?;
        let u = uri.to_string();
        let conn = bounded(
            &format!("connecting to {}", crate::shown(uri)),
            dl,
            move || {
                let c = lv::cstr(&u);
                // SAFETY: a valid C string; NULL result means failure.
                let p = unsafe { (api.connect_open)(c.as_ptr()) };
                if p.is_null() {
                    Err(HvError::Unreachable(lv::last_error(api).1))
                } else {
                    Ok(Conn(p))
                }
            },
        )?;
        Ok(Libvirt {
            api,
            conn: Arc::new(conn),
            uri: uri.to_string(),
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Turn the last libvirt error on this thread into an [`HvError`].
    fn error(api: &Api, conn: &Conn, what: &str) -> HvError {
        let (code, msg) = lv::last_error(api);
        if code == lv::ERR_NO_DOMAIN {
            return HvError::NoDomain;
        }
        // SAFETY: a live connection pointer.
        if unsafe { (api.connect_is_alive)(conn.0) } == 0 {
            return HvError::Unreachable(format!("{what}: {msg}"));
        }
        HvError::Failed(format!("{what}: {msg}"))
    }

    /// Look the domain up and run `f` on it, all on one bounded thread.
    fn with_domain<T, F>(&self, name: &str, what: &str, dl: &Deadline, f: F) -> HvResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&'static Api, &Conn, &Dom) -> HvResult<T> + Send + 'static,
    {
        let (api, conn, n) = (self.api, self.conn.clone(), name.to_string());
        let label = format!("{what} {name}");
        let l2 = label.clone();
        bounded(&label, dl, move || {
            let c = lv::cstr(&n);
            // SAFETY: valid connection and C string.
            let p = unsafe { (api.domain_lookup_by_name)(conn.0, c.as_ptr()) };
            if p.is_null() {
                return Err(Self::error(api, &conn, &l2));
            }
            let dom = Dom(p);
            f(api, &conn, &dom)
        })
    }

    /// A domain call returning 0 on success.
    fn domain_call(
        &self,
        name: &str,
        what: &'static str,
        dl: &Deadline,
        call: impl FnOnce(&'static Api, DomPtr) -> i32 + Send + 'static,
    ) -> HvResult<()> {
        self.with_domain(name, what, dl, move |api, conn, dom| {
            if call(api, dom.0) < 0 {
                Err(Self::error(api, conn, what))
            } else {
                Ok(())
            }
        })
    }

    fn conn_call<T: Send + 'static>(
        &self,
        what: String,
        dl: &Deadline,
        f: impl FnOnce(&'static Api, &Conn) -> HvResult<T> + Send + 'static,
    ) -> HvResult<T> {
        let (api, conn) = (self.api, self.conn.clone());
        bounded(&what, dl, move || f(api, &conn))
    }
}

/// State, UUID and persistence of a live domain reference.
fn view_of(api: &'static Api, conn: &Conn, dom: &Dom) -> HvResult<DomainView> {
    let (mut st, mut why) = (0, 0);
    // SAFETY: out-pointers to locals.
    if unsafe { (api.domain_get_state)(dom.0, &mut st, &mut why, 0) } < 0 {
        return Err(Libvirt::error(api, conn, "virDomainGetState"));
    }
    let mut buf = [0 as c_char; 64];
    // SAFETY: libvirt writes at most VIR_UUID_STRING_BUFLEN (37) bytes.
    let uuid = if unsafe { (api.domain_get_uuid_string)(dom.0, buf.as_mut_ptr()) } == 0 {
        // SAFETY: NUL-terminated by libvirt.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    } else {
        String::new()
    };
    // SAFETY: plain call on a live domain.
    let persistent = unsafe { (api.domain_is_persistent)(dom.0) } == 1;
    Ok(DomainView {
        state: DomState::from_libvirt(st, why),
        uuid,
        persistent,
    })
}

impl Backend for Libvirt {
    fn lookup(&self, name: &str, dl: &Deadline) -> HvResult<DomainView> {
        self.with_domain(name, "reading the state of", dl, view_of)
    }

    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)> {
        let u = uuid.to_string();
        self.conn_call(
            format!("looking up the domain with UUID {uuid}"),
            dl,
            move |api, conn| {
                let c = lv::cstr(&u);
                // SAFETY: valid connection and C string; NULL means not found.
                let p = unsafe { (api.domain_lookup_by_uuid_string)(conn.0, c.as_ptr()) };
                if p.is_null() {
                    return Err(Self::error(api, conn, "virDomainLookupByUUIDString"));
                }
                let dom = Dom(p);
                // SAFETY: the name belongs to the live domain object.
                let name = unsafe { (api.domain_get_name)(dom.0) };
                if name.is_null() {
                    return Err(Self::error(api, conn, "virDomainGetName"));
                }
                // SAFETY: NUL-terminated, valid while `dom` lives.
                let name = unsafe { std::ffi::CStr::from_ptr(name) }
                    .to_string_lossy()
                    .into_owned();
                Ok((name, view_of(api, conn, &dom)?))
            },
        )
    }

    fn define(&self, xml: &str, dl: &Deadline) -> HvResult<()> {
        let x = xml.to_string();
        self.conn_call("defining the domain".into(), dl, move |api, conn| {
            let c = lv::cstr(&x);
            // SAFETY: valid connection and C string.
            let d = unsafe { (api.domain_define_xml)(conn.0, c.as_ptr()) };
            if d.is_null() {
                return Err(Self::error(api, conn, "virDomainDefineXML"));
            }
            drop(Dom(d));
            Ok(())
        })
    }

    fn boot(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        // SAFETY: (in the closure) a live domain pointer.
        self.domain_call(name, "starting", dl, |api, d| unsafe {
            (api.domain_create)(d)
        })
    }

    fn restore(&self, path: &str, dl: &Deadline) -> HvResult<()> {
        let p = path.to_string();
        self.conn_call(format!("restoring {path}"), dl, move |api, conn| {
            let c = lv::cstr(&p);
            // SAFETY: valid connection and C string.
            if unsafe { (api.domain_restore)(conn.0, c.as_ptr()) } < 0 {
                return Err(Self::error(api, conn, "virDomainRestore"));
            }
            Ok(())
        })
    }

    fn shutdown(&self, name: &str, mode: u32, dl: &Deadline) -> HvResult<()> {
        // SAFETY: (in the closure) a live domain pointer.
        self.domain_call(name, "shutting down", dl, move |api, d| unsafe {
            (api.domain_shutdown_flags)(d, mode)
        })
    }

    fn destroy(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        // SAFETY: (in the closure) a live domain pointer.
        self.domain_call(name, "destroying", dl, |api, d| unsafe {
            (api.domain_destroy)(d)
        })
    }

    fn undefine(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        // SAFETY: (in the closure) a live domain pointer.
        self.domain_call(name, "undefining", dl, |api, d| unsafe {
            (api.domain_undefine_flags)(d, lv::UNDEFINE_FLAGS)
        })
    }

    fn save(&self, name: &str, path: &str, dl: &Deadline) -> HvResult<()> {
        let p = lv::cstr(path);
        // SAFETY: (in the closure) a live domain pointer and a C string it owns.
        self.domain_call(name, "saving", dl, move |api, d| unsafe {
            (api.domain_save)(d, p.as_ptr())
        })
    }

    fn config_xml(&self, name: &str, dl: &Deadline) -> HvResult<String> {
        self.with_domain(name, "reading the XML of", dl, |api, conn, dom| {
            // SAFETY: a live domain; the result is ours to free.
            let s = unsafe {
                lv::take_string((api.domain_get_xml_desc)(
                    dom.0,
                    lv::XML_INACTIVE | lv::XML_SECURE,
                ))
            };
            s.ok_or_else(|| Self::error(api, conn, "virDomainGetXMLDesc"))
        })
    }

    fn size(&self, name: &str, dl: &Deadline) -> HvResult<Size> {
        self.with_domain(name, "reading the size of", dl, |api, conn, dom| {
            let mut info = lv::DomainInfo::default();
            // SAFETY: out-pointer to a local of the right layout.
            if unsafe { (api.domain_get_info)(dom.0, &mut info) } < 0 {
                return Err(Self::error(api, conn, "virDomainGetInfo"));
            }
            // c_ulong is u64 here, u32 on 32-bit targets.
            #[allow(clippy::useless_conversion)]
            let max_kib = u64::from(info.max_mem_kib);
            Ok(Size {
                vcpus: u32::from(info.nr_virt_cpu),
                memory_mib: max_kib / 1024,
            })
        })
    }

    fn migrate(&self, name: &str, m: &Migration, dl: &Deadline) -> HvResult<()> {
        let remote = Libvirt::connect(&m.remote_uri, dl).map_err(|e| match e {
            HvError::Unreachable(msg) | HvError::Failed(msg) => HvError::Failed(format!(
                "cannot connect to {}: {msg}",
                crate::shown(&m.remote_uri)
            )),
            other => other,
        })?;
        let dconn = remote.conn.clone();
        let mig = m.clone();
        self.with_domain(name, "migrating", dl, move |api, conn, dom| {
            let uri = mig.migrate_uri.as_deref().map(lv::cstr);
            if mig.downtime_ms > 0 {
                // QEMU's driver accepts this before the migration starts (it
                // becomes the migration's downtime-limit).
                // SAFETY: a live domain pointer.
                let rc =
                    unsafe { (api.domain_migrate_set_max_downtime)(dom.0, mig.downtime_ms, 0) };
                if rc < 0 {
                    ocf::warn!(
                        "could not set the maximum downtime to {} ms: {}",
                        mig.downtime_ms,
                        lv::last_error(api).1
                    );
                }
            }
            // SAFETY: live source domain and destination connection; the
            // optional C string outlives the call.
            let d = unsafe {
                (api.domain_migrate2)(
                    dom.0,
                    dconn.0,
                    std::ptr::null(),
                    mig.flags as std::ffi::c_ulong,
                    std::ptr::null(),
                    uri.as_ref().map_or(std::ptr::null(), |u| u.as_ptr()),
                    mig.bandwidth as std::ffi::c_ulong,
                )
            };
            if d.is_null() {
                return Err(Self::error(api, conn, "virDomainMigrate2"));
            }
            drop(Dom(d));
            Ok(())
        })
    }

    fn start_network(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        let n = name.to_string();
        self.conn_call(format!("starting network {name}"), dl, move |api, conn| {
            let c = lv::cstr(&n);
            // SAFETY: valid connection and C string; the handle is freed below.
            unsafe {
                let net = (api.network_lookup_by_name)(conn.0, c.as_ptr());
                if net.is_null() {
                    return Err(Self::error(api, conn, &format!("network {n}")));
                }
                let r = if (api.network_is_active)(net) == 1 || (api.network_create)(net) == 0 {
                    Ok(())
                } else {
                    Err(Self::error(api, conn, &format!("starting network {n}")))
                };
                (api.network_free)(net);
                r
            }
        })
    }

    fn start_pool(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        let n = name.to_string();
        self.conn_call(format!("starting pool {name}"), dl, move |api, conn| {
            let c = lv::cstr(&n);
            // SAFETY: valid connection and C string; the handle is freed below.
            unsafe {
                let pool = (api.pool_lookup_by_name)(conn.0, c.as_ptr());
                if pool.is_null() {
                    return Err(Self::error(api, conn, &format!("storage pool {n}")));
                }
                let r = if (api.pool_is_active)(pool) == 1 || (api.pool_create)(pool, 0) == 0 {
                    Ok(())
                } else {
                    Err(Self::error(api, conn, &format!("starting pool {n}")))
                };
                (api.pool_free)(pool);
                r
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_call_that_hangs_is_cut_at_the_deadline() {
        let t = Instant::now();
        let r: HvResult<()> = bounded(
            "sleeping",
            &Deadline::after(Duration::from_millis(100)),
            || {
                std::thread::sleep(Duration::from_secs(5));
                Ok(())
            },
        );
        assert_eq!(r, Err(HvError::Timeout("sleeping".into())));
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(r.unwrap_err().is_unreachable());
    }

    #[test]
    fn libvirt_test_driver_through_the_backend() {
        let dl = Deadline::after(Duration::from_secs(10));
        let lv = Libvirt::connect("test:///default", &dl).unwrap();
        let v = lv.lookup("test", &dl).unwrap();
        assert_eq!(v.state, DomState::Running);
        assert_eq!(v.uuid.len(), 36);
        assert_eq!(lv.lookup("vma-nothing", &dl), Err(HvError::NoDomain));
        // By UUID, whatever the name: how a recorded domain is found.
        let (name, by_uuid) = lv.lookup_uuid(&v.uuid.to_uppercase(), &dl).unwrap();
        assert_eq!(
            (name.as_str(), by_uuid.uuid.as_str()),
            ("test", v.uuid.as_str())
        );
        assert_eq!(
            lv.lookup_uuid("00000000-0000-4000-8000-00000000dead", &dl),
            Err(HvError::NoDomain)
        );
        let size = lv.size("test", &dl).unwrap();
        assert!(size.vcpus >= 1 && size.memory_mib > 0, "{size:?}");
        lv.destroy("test", &dl).unwrap();
        assert_eq!(
            lv.lookup("test", &dl).unwrap().state,
            DomState::ShutOff(Shutoff::Destroyed)
        );
        lv.boot("test", &dl).unwrap();
        assert!(lv.lookup("test", &dl).unwrap().state.is_active());
        assert!(
            lv.config_xml("test", &dl)
                .unwrap()
                .contains("<name>test</name>")
        );
    }

    #[test]
    fn an_unreachable_daemon_is_unreachable() {
        let dl = Deadline::after(Duration::from_secs(10));
        let e = Libvirt::connect("qemu+unix:///system?socket=/nonexistent/vma-sock", &dl)
            .err()
            .unwrap();
        assert!(matches!(e, HvError::Unreachable(_)), "{e:?}");
    }
}
