//! The hypervisor behind a small trait ([`Hypervisor`]): libvirt (any URI
//! libvirt speaks; the unit tests script the trait instead). The native
//! Xen backend (`xmfile`) is the xen crate's, chosen in [`crate::config`].
//!
//! Every libvirt call can block (a hung libvirtd, a dead NFS pool: RA#385,
//! RA#546), so each one runs on its own thread and the caller waits only
//! until its deadline. A call that does not return in time is abandoned (the
//! thread keeps the objects it uses alive through `Arc`s) and reported as
//! [`HvError::Timeout`]; the action then decides what to do with the time
//! it has left, and the watchdog still ends the process before Pacemaker's
//! kill whatever a stuck thread does.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ocf::Deadline;
use ocf::exec;
use xen::xl::{Lookup, Xl};

use crate::libvirt as lv;
use crate::migrate_options;

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
    /// Typed parameters from `migrate_options` (`--listen-address`, ...).
    pub params: Vec<(&'static str, migrate_options::Value)>,
}

/// The migration's typed parameters: the data URI, the bandwidth, then
/// what `migrate_options` asks for (its `--bandwidth` wins over
/// `migration_speed`); a `--xml FILE` is read now, as virsh reads it.
pub fn migrate_params(m: &Migration) -> Result<lv::MigrateParams, String> {
    use migrate_options::Value;
    let mut p = lv::MigrateParams::default();
    if let Some(u) = &m.migrate_uri {
        p.string("migrate_uri", u);
    }
    if m.bandwidth > 0 && !m.params.iter().any(|(n, _)| *n == "bandwidth") {
        p.ullong("bandwidth", m.bandwidth);
    }
    for (name, value) in &m.params {
        match value {
            Value::Str(s) => p.string(name, s),
            Value::Int(i) => p.int(name, *i),
            Value::ULLong(u) => p.ullong(name, *u),
            Value::File(f) => {
                let bytes = ocf::files::read_regular(f, 4 << 20, None)
                    .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("{} is not UTF-8 text", f.display()))?;
                p.string(name, &text);
            }
        }
    }
    Ok(p)
}

/// What the vm agent needs from a hypervisor. Each call is bounded by `dl`.
pub trait Hypervisor {
    /// The domain's state, `Err(NoDomain)` when it is not known here.
    fn lookup(&self, name: &str, dl: &Deadline) -> HvResult<DomainView>;
    /// The domain with this UUID, whatever its name now: (name, state).
    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)>;
    /// Define the domain from XML (replacing an inactive definition).
    fn define(&self, xml: &str, dl: &Deadline) -> HvResult<()>;
    /// Boot a defined domain.
    fn boot(&self, name: &str, dl: &Deadline) -> HvResult<()>;
    /// Restore a domain from a state file written by [`Hypervisor::save`].
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

/// The libvirt backend: one connection to `uri`, shared with the threads
/// that make the calls (a call abandoned at its deadline keeps it alive).
pub struct Libvirt {
    conn: Option<Arc<lv::Connect>>,
    uri: String,
}

impl Drop for Libvirt {
    /// The connection is left open for the process's last moments, the
    /// kernel closes its socket at exit: `virConnectClose` (what dropping
    /// the handle does) is a round trip to the daemon, which measured 0.2
    /// to 90 ms at the end of a monitor on a loaded node, and never returns
    /// from a hung daemon. The action ends right after this.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            std::mem::forget(conn);
        }
    }
}

/// A libvirt error as the agent sees it: no such domain, the daemon out of
/// reach (the connection is dead), or a refusal.
fn hv_error(conn: &lv::Connect, what: &str, e: lv::Error) -> HvError {
    if e.code == lv::ERR_NO_DOMAIN {
        return HvError::NoDomain;
    }
    if !conn.is_alive() {
        return HvError::Unreachable(format!("{what}: {}", e.message));
    }
    HvError::Failed(format!("{what}: {}", e.message))
}

impl Libvirt {
    /// Load libvirt and connect, bounded by `dl`. `Err(Failed)` when the
    /// library is missing (the caller maps that to "not installed").
    pub fn connect(uri: &str, dl: &Deadline) -> HvResult<Libvirt> {
        lv::load().map_err(HvError::Failed)?;
        let u = uri.to_string();
        let conn = bounded(
            &format!("connecting to {}", crate::config::shown(uri)),
            dl,
            move || lv::Connect::open(&u).map_err(|e| HvError::Unreachable(e.message)),
        )?;
        Ok(Libvirt {
            conn: Some(Arc::new(conn)),
            uri: uri.to_string(),
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn conn(&self) -> Arc<lv::Connect> {
        self.conn.clone().expect("open until dropped")
    }

    /// Run `f` on the connection, on one bounded thread.
    fn call<T: Send + 'static>(
        &self,
        label: &str,
        dl: &Deadline,
        f: impl FnOnce(&lv::Connect) -> HvResult<T> + Send + 'static,
    ) -> HvResult<T> {
        let conn = self.conn();
        bounded(label, dl, move || f(&conn))
    }

    /// Look the domain up and run `f` on it, all on one bounded thread.
    fn with_domain<T: Send + 'static>(
        &self,
        name: &str,
        what: &str,
        dl: &Deadline,
        f: impl FnOnce(&lv::Connect, &lv::Domain) -> HvResult<T> + Send + 'static,
    ) -> HvResult<T> {
        let n = name.to_string();
        let label = format!("{what} {name}");
        let l2 = label.clone();
        self.call(&label, dl, move |conn| {
            let dom = conn
                .domain_by_name(&n)
                .map_err(|e| hv_error(conn, &l2, e))?;
            f(conn, &dom)
        })
    }

    /// A domain call that either works or fails.
    fn domain_call(
        &self,
        name: &str,
        what: &'static str,
        dl: &Deadline,
        call: impl FnOnce(&lv::Domain) -> lv::Result<()> + Send + 'static,
    ) -> HvResult<()> {
        self.with_domain(name, what, dl, move |conn, dom| {
            call(dom).map_err(|e| hv_error(conn, what, e))
        })
    }
}

/// State, UUID and persistence of a domain.
fn view_of(conn: &lv::Connect, dom: &lv::Domain) -> HvResult<DomainView> {
    let (st, why) = dom
        .state()
        .map_err(|e| hv_error(conn, "virDomainGetState", e))?;
    Ok(DomainView {
        state: DomState::from_libvirt(st, why),
        uuid: dom.uuid().unwrap_or_default(),
        persistent: dom.is_persistent().unwrap_or(false),
    })
}

impl Hypervisor for Libvirt {
    fn lookup(&self, name: &str, dl: &Deadline) -> HvResult<DomainView> {
        self.with_domain(name, "reading the state of", dl, view_of)
    }

    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)> {
        let u = uuid.to_string();
        self.call(
            &format!("looking up the domain with UUID {uuid}"),
            dl,
            move |conn| {
                let dom = conn
                    .domain_by_uuid(&u)
                    .map_err(|e| hv_error(conn, "virDomainLookupByUUIDString", e))?;
                let name = dom
                    .name()
                    .map_err(|e| hv_error(conn, "virDomainGetName", e))?;
                Ok((name, view_of(conn, &dom)?))
            },
        )
    }

    fn define(&self, xml: &str, dl: &Deadline) -> HvResult<()> {
        let x = xml.to_string();
        self.call("defining the domain", dl, move |conn| {
            conn.define_domain(&x)
                .map(drop)
                .map_err(|e| hv_error(conn, "virDomainDefineXML", e))
        })
    }

    fn boot(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        self.domain_call(name, "starting", dl, |d| d.create())
    }

    fn restore(&self, path: &str, dl: &Deadline) -> HvResult<()> {
        let p = path.to_string();
        self.call(&format!("restoring {path}"), dl, move |conn| {
            conn.restore_domain(&p)
                .map_err(|e| hv_error(conn, "virDomainRestore", e))
        })
    }

    fn shutdown(&self, name: &str, mode: u32, dl: &Deadline) -> HvResult<()> {
        self.domain_call(name, "shutting down", dl, move |d| d.shutdown(mode))
    }

    fn destroy(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        self.domain_call(name, "destroying", dl, |d| d.destroy())
    }

    fn undefine(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        self.domain_call(name, "undefining", dl, |d| d.undefine(lv::UNDEFINE_FLAGS))
    }

    fn save(&self, name: &str, path: &str, dl: &Deadline) -> HvResult<()> {
        let p = path.to_string();
        self.domain_call(name, "saving", dl, move |d| d.save(&p))
    }

    fn config_xml(&self, name: &str, dl: &Deadline) -> HvResult<String> {
        self.with_domain(name, "reading the XML of", dl, |conn, dom| {
            dom.xml_desc(lv::XML_INACTIVE | lv::XML_SECURE)
                .map_err(|e| hv_error(conn, "virDomainGetXMLDesc", e))
        })
    }

    fn size(&self, name: &str, dl: &Deadline) -> HvResult<Size> {
        self.with_domain(name, "reading the size of", dl, |conn, dom| {
            let info = dom
                .info()
                .map_err(|e| hv_error(conn, "virDomainGetInfo", e))?;
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
                crate::config::shown(&m.remote_uri)
            )),
            other => other,
        })?;
        let dest = remote.conn();
        let mig = m.clone();
        self.with_domain(name, "migrating", dl, move |conn, dom| {
            if mig.downtime_ms > 0 {
                // QEMU's driver accepts this before the migration starts (it
                // becomes the migration's downtime-limit).
                if let Err(e) = dom.set_max_downtime(mig.downtime_ms) {
                    ocf::warn!(
                        "could not set the maximum downtime to {} ms: {e}",
                        mig.downtime_ms
                    );
                }
            }
            let params = migrate_params(&mig).map_err(HvError::Failed)?;
            dom.migrate(&dest, &params, mig.flags)
                .map(drop)
                .map_err(|e| hv_error(conn, "virDomainMigrate3", e))
        })
    }

    fn start_network(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        let n = name.to_string();
        self.call(&format!("starting network {name}"), dl, move |conn| {
            let net = conn
                .network_by_name(&n)
                .map_err(|e| hv_error(conn, &format!("network {n}"), e))?;
            net.ensure_active()
                .map_err(|e| hv_error(conn, &format!("starting network {n}"), e))
        })
    }

    fn start_pool(&self, name: &str, dl: &Deadline) -> HvResult<()> {
        let n = name.to_string();
        self.call(&format!("starting pool {name}"), dl, move |conn| {
            let pool = conn
                .pool_by_name(&n)
                .map_err(|e| hv_error(conn, &format!("storage pool {n}"), e))?;
            pool.ensure_active()
                .map_err(|e| hv_error(conn, &format!("starting pool {n}"), e))
        })
    }
}

// ---- where the hypervisor is ----

/// Does `uri` name a hypervisor on this host (no host part)?
pub fn local_hypervisor(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(_, rest)| {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        host.is_empty() || host == "localhost"
    })
}

/// Is `uri` a QEMU driver on this host (so its emulators are in our /proc)?
pub fn local_qemu(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let driver = scheme.split('+').next().unwrap_or("");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    matches!(driver, "qemu" | "kvm") && (host.is_empty() || host == "localhost")
}

/// Is `uri` libvirt's Xen (libxl) driver on this host, where `xl` can be
/// asked about a domain when libvirt cannot?
pub fn local_xen(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    scheme.split('+').next() == Some("xen") && (host.is_empty() || host == "localhost")
}

/// The xl toolstack, for Xen URIs when libvirt does not answer.
pub fn xl_tool() -> Xl {
    Xl {
        program: "xl".into(),
    }
}

/// Xen cannot run here at all: no xl, or xl finds no hypervisor.
pub fn no_xen_here(dl: &Deadline) -> bool {
    exec::which("xl").is_none()
        || matches!(
            xl_tool().lookup("Domain-0", &dl.cap(Duration::from_secs(5))),
            Lookup::NoHypervisor(_)
        )
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
