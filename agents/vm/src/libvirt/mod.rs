//! libvirt, behind one safe interface: RAII handles ([`Connect`],
//! [`Domain`], [`Network`], [`Pool`]) over the function table loaded at run
//! time ([`api`]). Every `unsafe` of the vm agent's libvirt use is in this
//! module; the domain logic calls methods.
//!
//! Linking libvirt would make every agent of the multi-call binary pay for
//! its 56 shared libraries on each exec (about 7 ms) and fail to start at all
//! on a node without libvirt0 (crates.md Q1). Loaded here, only the vm agent
//! needs it, and only when it talks to a hypervisor: the binary has no
//! DT_NEEDED on libvirt. libvirt's public ABI is stable and
//! symbol-versioned; the constants are copied from its headers.
//!
//! A handle releases its reference when dropped (`virDomainFree`, ...;
//! local, no RPC). [`Connect`]'s drop is `virConnectClose`, a round trip
//! to the daemon: the caller decides whether to pay it
//! ([`crate::hypervisor::Libvirt`] leaves its connection to the process's
//! exit). libvirt's objects are thread-safe; a connection is shared
//! between threads.
//!
//! Errors are libvirt's last error of the calling thread, read right after
//! the failing call: its code and its message, redacted
//! ([`crate::secrets::redact`]: libvirt quotes the line of a domain XML it
//! cannot parse, passwords and all).
//!
//! Test hook: `OCF_RS_LIBVIRT_LIBRARY` names another file to load instead
//! (the tests point it at a missing file to prove the agent answers 5 and
//! every other agent is unaffected).

pub mod api;

use std::ffi::{CStr, CString, c_int, c_uint, c_ulong, c_void};
use std::sync::OnceLock;

pub use api::*;

/// The environment variable that overrides the library loaded (tests).
pub const LIBRARY_ENV: &str = "OCF_RS_LIBVIRT_LIBRARY";
/// The soname of libvirt's client library.
pub const DEFAULT_LIBRARY: &str = "libvirt.so.0";

/// A connection to a hypervisor; closed (`virConnectClose`) when dropped.
pub type Connect = Handle<VirConnect>;
/// A domain (a reference to it: the domain itself lives on in libvirt).
pub type Domain = Handle<VirDomain>;
/// A virtual network.
pub type Network = Handle<VirNetwork>;
/// A storage pool.
pub type Pool = Handle<VirStoragePool>;

// SAFETY: libvirt connections may be used from any thread (libvirt locks
// them internally; documented thread-safe since 0.6).
unsafe impl Send for Connect {}
// SAFETY: as above: concurrent calls on one connection are allowed.
unsafe impl Sync for Connect {}

/// libvirt's error: its code (virterror.h) and its message, redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// libvirt's last error on this thread.
    fn last(api: &Api) -> Error {
        let e = (api.get_last_error)();
        if e.is_null() {
            return Error {
                code: 0,
                message: "unknown libvirt error".into(),
            };
        }
        // SAFETY: virGetLastError returned a non-NULL pointer to this
        // thread's virError, valid until the next libvirt call on this
        // thread; its message is NULL or a NUL-terminated string it owns.
        // Both are copied out before any other call.
        let (code, message) = unsafe {
            let e = &*e;
            let message = (!e.message.is_null())
                .then(|| CStr::from_ptr(e.message).to_string_lossy().into_owned());
            (e.code, message)
        };
        let message = match message {
            Some(m) => crate::secrets::redact(&m).into_owned(),
            None => format!("libvirt error {code}"),
        };
        Error { code, message }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// libvirt prints every error to stderr unless a handler is installed; we
/// read errors ourselves, so the handler does nothing.
extern "C" fn quiet(_user: *mut c_void, _err: *mut VirError) {}

static API: OnceLock<std::result::Result<Api, String>> = OnceLock::new();

/// The library path to load: the test hook, else libvirt's soname.
pub fn library_path() -> String {
    std::env::var(LIBRARY_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_LIBRARY.to_string())
}

/// Load libvirt (once), or say why it is not available on this node.
pub fn load() -> std::result::Result<&'static Api, String> {
    API.get_or_init(|| {
        let api = Api::load(&library_path())?;
        (api.set_error_func)(std::ptr::null_mut(), Some(quiet));
        Ok(api)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The table, once loaded (every handle implies it is).
fn loaded() -> Option<&'static Api> {
    API.get().and_then(|r| r.as_ref().ok())
}

fn api() -> &'static Api {
    loaded().expect("a libvirt handle exists only once libvirt is loaded")
}

/// libvirt's version as major.minor.micro.
pub fn version() -> Option<String> {
    let api = load().ok()?;
    let mut v: c_ulong = 0;
    let rc = (api.get_version)(&mut v, None, None);
    (rc == 0).then(|| format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000))
}

/// A C string for libvirt; names and paths with NUL are refused earlier.
fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// A new reference libvirt returned, or its error.
fn handle<T: Object>(api: &Api, h: Option<Handle<T>>) -> Result<Handle<T>> {
    h.ok_or_else(|| Error::last(api))
}

/// A call returning 0 (or more) on success, -1 on error.
fn status(api: &Api, rc: c_int) -> Result<()> {
    if rc < 0 {
        Err(Error::last(api))
    } else {
        Ok(())
    }
}

/// A yes/no question: 1 yes, 0 no, -1 an error.
fn answer(api: &Api, rc: c_int) -> Result<bool> {
    status(api, rc).map(|()| rc == 1)
}

impl Connect {
    /// `virConnectOpen(uri)`.
    pub fn open(uri: &str) -> Result<Connect> {
        let api = load().map_err(|message| Error { code: 0, message })?;
        let uri = cstr(uri);
        handle(api, (api.connect_open)(Some(Str::new(&uri))))
    }

    /// Is the connection still up (the daemon still there)?
    pub fn is_alive(&self) -> bool {
        (api().connect_is_alive)(self.arg()) == 1
    }

    pub fn domain_by_name(&self, name: &str) -> Result<Domain> {
        let (api, name) = (api(), cstr(name));
        handle(
            api,
            (api.domain_lookup_by_name)(self.arg(), Str::new(&name)),
        )
    }

    /// The domain with this UUID (any case), whatever its name now.
    pub fn domain_by_uuid(&self, uuid: &str) -> Result<Domain> {
        let (api, uuid) = (api(), cstr(uuid));
        let found = (api.domain_lookup_by_uuid_string)(self.arg(), Str::new(&uuid));
        handle(api, found)
    }

    /// Define (or redefine an inactive) domain from its XML.
    pub fn define_domain(&self, xml: &str) -> Result<Domain> {
        let (api, xml) = (api(), cstr(xml));
        handle(api, (api.domain_define_xml)(self.arg(), Str::new(&xml)))
    }

    /// Restore a domain from a memory image [`Domain::save`] wrote.
    pub fn restore_domain(&self, path: &str) -> Result<()> {
        let (api, path) = (api(), cstr(path));
        status(api, (api.domain_restore)(self.arg(), Str::new(&path)))
    }

    pub fn network_by_name(&self, name: &str) -> Result<Network> {
        let (api, name) = (api(), cstr(name));
        handle(
            api,
            (api.network_lookup_by_name)(self.arg(), Str::new(&name)),
        )
    }

    pub fn pool_by_name(&self, name: &str) -> Result<Pool> {
        let (api, name) = (api(), cstr(name));
        handle(api, (api.pool_lookup_by_name)(self.arg(), Str::new(&name)))
    }
}

impl Domain {
    pub fn name(&self) -> Result<String> {
        let api = api();
        let name = (api.domain_get_name)(self.arg());
        if name.is_null() {
            return Err(Error::last(api));
        }
        // SAFETY: a non-NULL result is a NUL-terminated string owned by the
        // domain object, which `self` keeps alive during the copy.
        Ok(unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned())
    }

    /// (state, reason): `VIR_DOMAIN_*` and the state's reason.
    pub fn state(&self) -> Result<(i32, i32)> {
        let (api, mut state, mut reason) = (api(), 0, 0);
        status(
            api,
            (api.domain_get_state)(self.arg(), &mut state, &mut reason, 0),
        )?;
        Ok((state, reason))
    }

    pub fn uuid(&self) -> Result<String> {
        let (api, mut buf): (_, UuidBuf) = (api(), [0; 64]);
        status(api, (api.domain_get_uuid_string)(self.arg(), &mut buf))?;
        let bytes: Vec<u8> = buf
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn info(&self) -> Result<DomainInfo> {
        let (api, mut info) = (api(), DomainInfo::default());
        status(api, (api.domain_get_info)(self.arg(), &mut info))?;
        Ok(info)
    }

    pub fn is_persistent(&self) -> Result<bool> {
        let api = api();
        answer(api, (api.domain_is_persistent)(self.arg()))
    }

    /// Boot the defined domain.
    pub fn create(&self) -> Result<()> {
        let api = api();
        status(api, (api.domain_create)(self.arg()))
    }

    pub fn shutdown(&self, flags: u32) -> Result<()> {
        let api = api();
        status(api, (api.domain_shutdown_flags)(self.arg(), flags))
    }

    pub fn destroy(&self) -> Result<()> {
        let api = api();
        status(api, (api.domain_destroy)(self.arg()))
    }

    pub fn undefine(&self, flags: u32) -> Result<()> {
        let api = api();
        status(api, (api.domain_undefine_flags)(self.arg(), flags))
    }

    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        let api = api();
        match (api.domain_get_xml_desc)(self.arg(), flags) {
            Some(s) => Ok(s.to_string_lossy()),
            None => Err(Error::last(api)),
        }
    }

    /// Save the memory to `path` and stop the domain.
    pub fn save(&self, path: &str) -> Result<()> {
        let (api, path) = (api(), cstr(path));
        status(api, (api.domain_save)(self.arg(), Str::new(&path)))
    }

    pub fn set_max_downtime(&self, ms: u64) -> Result<()> {
        let api = api();
        status(
            api,
            (api.domain_migrate_set_max_downtime)(self.arg(), ms, 0),
        )
    }

    /// `virDomainMigrate3` to `dest` with typed parameters: the domain
    /// there.
    pub fn migrate(&self, dest: &Connect, params: &MigrateParams, flags: u64) -> Result<Domain> {
        let api = api();
        let flags = c_uint::try_from(flags).map_err(|_| Error {
            code: 0,
            message: format!("migration flags {flags:#x} do not fit libvirt's unsigned int"),
        })?;
        let count = c_uint::try_from(params.list.len()).unwrap_or(c_uint::MAX);
        // SAFETY: the pointer and the count are one Vec's, so libvirt reads
        // exactly the parameters we built; every name is NUL-terminated
        // within its 80 bytes (`MigrateParams::push`), and every string
        // value points into `params.strings`, alive (and never mutated) for
        // the whole call. libvirt only reads the array and copies what it
        // keeps.
        let moved = unsafe {
            (api.domain_migrate3)(self.arg(), dest.arg(), params.list.as_ptr(), count, flags)
        };
        handle(api, moved)
    }
}

/// The typed parameters of a migration (`VIR_MIGRATE_PARAM_*`) and the
/// strings they point to, owned together so no pointer can outlive its
/// string.
#[derive(Default)]
pub struct MigrateParams {
    list: Vec<TypedParam>,
    strings: Vec<CString>,
}

impl MigrateParams {
    /// A string parameter; some (`migrate_disks`, `compression`) may be
    /// given several times.
    pub fn string(&mut self, name: &str, value: &str) {
        let owned = cstr(value);
        let s = owned.as_ptr();
        // The CString's heap buffer does not move when the Vec grows.
        self.strings.push(owned);
        self.push(name, TYPED_PARAM_STRING, TypedValue { s });
    }

    pub fn int(&mut self, name: &str, i: i32) {
        self.push(name, TYPED_PARAM_INT, TypedValue { i });
    }

    pub fn ullong(&mut self, name: &str, ul: u64) {
        self.push(name, TYPED_PARAM_ULLONG, TypedValue { ul });
    }

    /// The names are libvirt's constants, all far shorter than the field;
    /// a longer one is cut so the NUL always fits.
    fn push(&mut self, name: &str, kind: c_int, value: TypedValue) {
        let mut field = [0 as std::ffi::c_char; TYPED_PARAM_FIELD_LENGTH];
        for (d, b) in field
            .iter_mut()
            .zip(name.bytes().take(TYPED_PARAM_FIELD_LENGTH - 1))
        {
            *d = b as std::ffi::c_char;
        }
        self.list.push(TypedParam { field, kind, value });
    }

    /// The names given, in order (tests, logs).
    pub fn names(&self) -> Vec<String> {
        self.list
            .iter()
            .map(|p| {
                let bytes: Vec<u8> = p
                    .field
                    .iter()
                    .take_while(|c| **c != 0)
                    .map(|c| *c as u8)
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    }
}

impl Network {
    /// Start the network unless it is active.
    pub fn ensure_active(&self) -> Result<()> {
        let api = api();
        if answer(api, (api.network_is_active)(self.arg())).unwrap_or(false) {
            return Ok(());
        }
        status(api, (api.network_create)(self.arg()))
    }
}

impl Pool {
    /// Start the pool unless it is active.
    pub fn ensure_active(&self) -> Result<()> {
        let api = api();
        if answer(api, (api.pool_is_active)(self.arg())).unwrap_or(false) {
            return Ok(());
        }
        status(api, (api.pool_create)(self.arg(), 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_not_a_crash() {
        let e = Api::load("/nonexistent/libvirt.so.0").err().unwrap();
        assert!(e.contains("cannot load"), "{e}");
    }

    #[test]
    fn the_real_library_loads_and_knows_the_test_driver() {
        // libvirt0 is a test dependency (scripts/install-deps.sh).
        load().expect("libvirt.so.0 loads");
        assert!(version().unwrap().starts_with(char::is_numeric));
        let c = Connect::open("test:///default").unwrap();
        let d = c.domain_by_name("test").unwrap();
        assert_eq!(d.state().unwrap().0, STATE_RUNNING);
        assert_eq!(d.name().unwrap(), "test");
        let none = c.domain_by_name("vma-none").err().unwrap();
        assert_eq!(none.code, ERR_NO_DOMAIN);
    }
}
