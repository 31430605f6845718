//! libvirt loaded at run time: `dlopen("libvirt.so.0")` and a small typed
//! table of the functions this agent calls.
//!
//! Linking libvirt would make every agent of the multi-call binary pay for
//! its 56 shared libraries on each exec (about 7 ms) and fail to start at all
//! on a node without libvirt0 (crates.md Q1). Loaded here, only the vm agent
//! needs it, and only when it talks to a hypervisor. libvirt's public ABI is
//! stable and symbol-versioned; the constants and the `virError` prefix below
//! are copied from its headers (libvirt-domain.h, virterror.h).
//!
//! Test hook: `OCF_RS_LIBVIRT_LIBRARY` names another file to load instead
//! (the tests point it at a missing file to prove the agent answers 5 and
//! every other agent is unaffected).

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_ulong, c_ulonglong, c_void};
use std::sync::OnceLock;

use libloading::Library;

/// The environment variable that overrides the library loaded (tests).
pub const LIBRARY_ENV: &str = "OCF_RS_LIBVIRT_LIBRARY";
/// The soname of libvirt's client library.
pub const DEFAULT_LIBRARY: &str = "libvirt.so.0";

pub type ConnPtr = *mut c_void;
pub type DomPtr = *mut c_void;
pub type NetPtr = *mut c_void;
pub type PoolPtr = *mut c_void;

/// The leading fields of libvirt's `virError` (the rest is never read).
#[repr(C)]
struct VirError {
    code: c_int,
    domain: c_int,
    message: *const c_char,
}

/// The fields of `virDomainInfo`.
#[repr(C)]
#[derive(Default)]
pub struct DomainInfo {
    pub state: u8,
    pub max_mem_kib: c_ulong,
    pub memory_kib: c_ulong,
    pub nr_virt_cpu: u16,
    pub cpu_time: c_ulonglong,
}

// Error codes (virterror.h).
pub const ERR_NO_DOMAIN: i32 = 42;
pub const ERR_OPERATION_INVALID: i32 = 55;
pub const ERR_NO_NETWORK: i32 = 43;
pub const ERR_NO_STORAGE_POOL: i32 = 49;

// Domain states and shut-off reasons (libvirt-domain.h).
pub const STATE_NOSTATE: i32 = 0;
pub const STATE_RUNNING: i32 = 1;
pub const STATE_BLOCKED: i32 = 2;
pub const STATE_PAUSED: i32 = 3;
pub const STATE_SHUTDOWN: i32 = 4;
pub const STATE_SHUTOFF: i32 = 5;
pub const STATE_CRASHED: i32 = 6;
pub const STATE_PMSUSPENDED: i32 = 7;
pub const SHUTOFF_SHUTDOWN: i32 = 1;
pub const SHUTOFF_DESTROYED: i32 = 2;
pub const SHUTOFF_CRASHED: i32 = 3;
pub const SHUTOFF_MIGRATED: i32 = 4;
pub const SHUTOFF_SAVED: i32 = 5;
pub const SHUTOFF_FAILED: i32 = 6;

// virDomainShutdownFlags modes.
pub const SHUTDOWN_ACPI: u32 = 1;
pub const SHUTDOWN_AGENT: u32 = 2;
pub const SHUTDOWN_INITCTL: u32 = 4;
pub const SHUTDOWN_SIGNAL: u32 = 8;
pub const SHUTDOWN_PARAVIRT: u32 = 16;

// virDomainGetXMLDesc flags.
pub const XML_SECURE: u32 = 1;
pub const XML_INACTIVE: u32 = 2;

// virDomainUndefineFlags: drop snapshot/checkpoint metadata and any managed
// save image, keep the NVRAM file (it is the guest's, not libvirt's).
pub const UNDEFINE_FLAGS: u32 = 1 | 2 | 8 | 16;

// virDomainMigrate flags.
pub const MIGRATE_LIVE: u64 = 1 << 0;
pub const MIGRATE_PEER2PEER: u64 = 1 << 1;
pub const MIGRATE_TUNNELLED: u64 = 1 << 2;
pub const MIGRATE_PERSIST_DEST: u64 = 1 << 3;
pub const MIGRATE_UNDEFINE_SOURCE: u64 = 1 << 4;
pub const MIGRATE_NON_SHARED_DISK: u64 = 1 << 6;
pub const MIGRATE_NON_SHARED_INC: u64 = 1 << 7;
pub const MIGRATE_UNSAFE: u64 = 1 << 9;
pub const MIGRATE_COMPRESSED: u64 = 1 << 11;
pub const MIGRATE_ABORT_ON_ERROR: u64 = 1 << 12;
pub const MIGRATE_AUTO_CONVERGE: u64 = 1 << 13;
pub const MIGRATE_POSTCOPY: u64 = 1 << 15;
pub const MIGRATE_TLS: u64 = 1 << 16;

macro_rules! api_table {
    ($( $field:ident = $sym:literal : fn($($arg:ty),*) -> $ret:ty; )*) => {
        /// The functions this agent calls, resolved once from the library.
        pub struct Api {
            _lib: Library,
            $( pub $field: unsafe extern "C" fn($($arg),*) -> $ret, )*
        }

        impl Api {
            fn load(path: &str) -> Result<Api, String> {
                // SAFETY: loading libvirt runs its constructors, which only
                // initialise libvirt itself.
                let lib = unsafe { Library::new(path) }
                    .map_err(|e| format!("cannot load {path}: {e}"))?;
                $(
                    // SAFETY: the symbol has this C signature in libvirt's headers.
                    let $field = unsafe {
                        *lib.get::<unsafe extern "C" fn($($arg),*) -> $ret>($sym)
                            .map_err(|e| format!("{path}: {e}"))?
                    };
                )*
                Ok(Api { _lib: lib, $( $field, )* })
            }
        }
    };
}

api_table! {
    get_version = b"virGetVersion\0": fn(*mut c_ulong, *const c_char, *mut c_ulong) -> c_int;
    set_error_func = b"virSetErrorFunc\0": fn(*mut c_void, Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>) -> ();
    get_last_error = b"virGetLastError\0": fn() -> *const c_void;
    reset_last_error = b"virResetLastError\0": fn() -> ();
    connect_open = b"virConnectOpen\0": fn(*const c_char) -> ConnPtr;
    connect_close = b"virConnectClose\0": fn(ConnPtr) -> c_int;
    connect_is_alive = b"virConnectIsAlive\0": fn(ConnPtr) -> c_int;
    domain_lookup_by_name = b"virDomainLookupByName\0": fn(ConnPtr, *const c_char) -> DomPtr;
    domain_lookup_by_uuid_string = b"virDomainLookupByUUIDString\0": fn(ConnPtr, *const c_char) -> DomPtr;
    domain_get_name = b"virDomainGetName\0": fn(DomPtr) -> *const c_char;
    domain_get_state = b"virDomainGetState\0": fn(DomPtr, *mut c_int, *mut c_int, c_uint) -> c_int;
    domain_get_uuid_string = b"virDomainGetUUIDString\0": fn(DomPtr, *mut c_char) -> c_int;
    domain_get_info = b"virDomainGetInfo\0": fn(DomPtr, *mut DomainInfo) -> c_int;
    domain_is_persistent = b"virDomainIsPersistent\0": fn(DomPtr) -> c_int;
    domain_define_xml = b"virDomainDefineXML\0": fn(ConnPtr, *const c_char) -> DomPtr;
    domain_create = b"virDomainCreate\0": fn(DomPtr) -> c_int;
    domain_shutdown_flags = b"virDomainShutdownFlags\0": fn(DomPtr, c_uint) -> c_int;
    domain_destroy = b"virDomainDestroy\0": fn(DomPtr) -> c_int;
    domain_undefine_flags = b"virDomainUndefineFlags\0": fn(DomPtr, c_uint) -> c_int;
    domain_get_xml_desc = b"virDomainGetXMLDesc\0": fn(DomPtr, c_uint) -> *mut c_char;
    domain_save = b"virDomainSave\0": fn(DomPtr, *const c_char) -> c_int;
    domain_restore = b"virDomainRestore\0": fn(ConnPtr, *const c_char) -> c_int;
    domain_migrate2 = b"virDomainMigrate2\0": fn(DomPtr, ConnPtr, *const c_char, c_ulong, *const c_char, *const c_char, c_ulong) -> DomPtr;
    domain_migrate_set_max_downtime = b"virDomainMigrateSetMaxDowntime\0": fn(DomPtr, c_ulonglong, c_uint) -> c_int;
    domain_free = b"virDomainFree\0": fn(DomPtr) -> c_int;
    network_lookup_by_name = b"virNetworkLookupByName\0": fn(ConnPtr, *const c_char) -> NetPtr;
    network_is_active = b"virNetworkIsActive\0": fn(NetPtr) -> c_int;
    network_create = b"virNetworkCreate\0": fn(NetPtr) -> c_int;
    network_free = b"virNetworkFree\0": fn(NetPtr) -> c_int;
    pool_lookup_by_name = b"virStoragePoolLookupByName\0": fn(ConnPtr, *const c_char) -> PoolPtr;
    pool_is_active = b"virStoragePoolIsActive\0": fn(PoolPtr) -> c_int;
    pool_create = b"virStoragePoolCreate\0": fn(PoolPtr, c_uint) -> c_int;
    pool_free = b"virStoragePoolFree\0": fn(PoolPtr) -> c_int;
}

/// libvirt prints every error to stderr unless a handler is installed; we
/// read errors ourselves, so the handler does nothing.
unsafe extern "C" fn quiet(_user: *mut c_void, _err: *mut c_void) {}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// The library path to load: the test hook, else libvirt's soname.
pub fn library_path() -> String {
    std::env::var(LIBRARY_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_LIBRARY.to_string())
}

/// The loaded table, or why libvirt is not available on this node.
pub fn api() -> Result<&'static Api, String> {
    API.get_or_init(|| {
        let api = Api::load(&library_path())?;
        // SAFETY: a valid function pointer with the signature libvirt wants.
        unsafe { (api.set_error_func)(std::ptr::null_mut(), Some(quiet)) };
        Ok(api)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// libvirt's last error on this thread: (code, message). The message
/// passes through [`crate::secrets::redact`]: libvirt quotes the line of a
/// domain XML it cannot parse, passwords and all.
pub fn last_error(api: &Api) -> (i32, String) {
    // SAFETY: virGetLastError returns NULL or a thread-local virError.
    unsafe {
        let e = (api.get_last_error)() as *const VirError;
        if e.is_null() {
            return (0, "unknown libvirt error".into());
        }
        let msg = if (*e).message.is_null() {
            format!("libvirt error {}", (*e).code)
        } else {
            let m = CStr::from_ptr((*e).message).to_string_lossy();
            crate::secrets::redact(&m).into_owned()
        };
        ((*e).code, msg)
    }
}

/// libvirt's version as major.minor.micro.
pub fn version(api: &Api) -> Option<String> {
    let mut v: c_ulong = 0;
    // SAFETY: out-pointer to a local; type NULL asks for the library version.
    let rc = unsafe { (api.get_version)(&mut v, std::ptr::null(), std::ptr::null_mut()) };
    (rc == 0).then(|| format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000))
}

/// A C string for libvirt; names and paths with NUL are refused earlier.
pub fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Take ownership of a string libvirt allocated.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string allocated with malloc by libvirt.
pub unsafe fn take_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract above.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: libvirt documents that the caller frees it with free().
    unsafe { libc::free(p.cast()) };
    Some(s)
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
        let api = api().expect("libvirt.so.0 loads");
        assert!(version(api).unwrap().starts_with(char::is_numeric));
        let uri = cstr("test:///default");
        // SAFETY: plain calls on the in-process test driver.
        unsafe {
            let c = (api.connect_open)(uri.as_ptr());
            assert!(!c.is_null());
            let d = (api.domain_lookup_by_name)(c, cstr("test").as_ptr());
            assert!(!d.is_null());
            let (mut st, mut why) = (0, 0);
            assert_eq!((api.domain_get_state)(d, &mut st, &mut why, 0), 0);
            assert_eq!(st, STATE_RUNNING);
            let none = (api.domain_lookup_by_name)(c, cstr("vma-none").as_ptr());
            assert!(none.is_null());
            assert_eq!(last_error(api).0, ERR_NO_DOMAIN);
            (api.domain_free)(d);
            (api.connect_close)(c);
        }
    }
}
