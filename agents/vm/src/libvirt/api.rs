//! libvirt loaded at run time: `dlopen("libvirt.so.0")` and the typed
//! table of the functions this agent calls.
//!
//! Each function's Rust type says what libvirt requires of its arguments,
//! so that a call cannot break those requirements:
//!
//! * an object argument is a [`Ref`]: a borrow of a handle we own
//!   ([`Handle`]), so the object is alive for the whole call;
//! * a string argument is a [`Str`]: a borrow of a NUL-terminated
//!   [`CStr`](std::ffi::CStr);
//! * an out-argument is a `&mut` of the C layout libvirt writes
//!   ([`DomainInfo`], a [`UuidBuf`] of the documented size, a `c_int`);
//! * a function that returns a new reference to an object returns
//!   `Option<Handle<_>>`: NULL is `None`, and the reference is dropped
//!   (freed) exactly once, by the handle; a string the caller must free is
//!   a [`MallocStr`].
//!
//! With those types every call is sound for every argument value, so the
//! table holds safe `extern "C" fn`s, and the one `unsafe` step is giving a
//! symbol its type, in [`Api::load`], checked against libvirt's headers
//! (libvirt-host.h, libvirt-domain.h, libvirt-network.h,
//! libvirt-storage.h, virterror.h). The functions that end an object's life
//! (`virDomainFree`, `virConnectClose`, ...) take a raw pointer and stay
//! `unsafe`: only [`Handle`]'s `Drop` calls them.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_ulonglong, c_void};
use std::marker::{PhantomData, PhantomPinned};
use std::ptr::NonNull;

use libloading::Library;

/// An object of libvirt's that Rust never looks into (`virConnect`,
/// `virDomain`, ...): only pointers to it exist.
macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}
opaque!(VirConnect, VirDomain, VirNetwork, VirStoragePool);

/// The function that gives up one reference to an object of type `T`.
pub type Release<T> = unsafe extern "C" fn(*mut T) -> c_int;

/// One reference to a libvirt object, owned: created only by libvirt
/// (a lookup, a define, an open returning non-NULL) and released exactly
/// once, when dropped.
#[repr(transparent)]
pub struct Handle<T: Object>(NonNull<T>);

/// A libvirt object type and the function that releases a reference to it.
pub trait Object {
    fn release(api: &Api) -> Release<Self>;
}

/// A borrow of a handle: the object stays alive while this exists.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Ref<'a, T>(NonNull<T>, PhantomData<&'a T>);

impl<T: Object> Handle<T> {
    /// The object as a call's argument.
    pub fn arg(&self) -> Ref<'_, T> {
        Ref(self.0, PhantomData)
    }
}

impl<T: Object> Drop for Handle<T> {
    fn drop(&mut self) {
        // A handle exists only once libvirt is loaded.
        if let Some(api) = super::loaded() {
            // SAFETY: the handle owns this reference (only libvirt makes
            // handles, each from a new reference it returned), releases it
            // here once, and nothing uses the pointer afterwards.
            unsafe { (T::release(api))(self.0.as_ptr()) };
        }
    }
}

/// A borrowed NUL-terminated string.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Str<'a>(NonNull<c_char>, PhantomData<&'a std::ffi::CStr>);

impl<'a> Str<'a> {
    pub fn new(s: &'a std::ffi::CStr) -> Str<'a> {
        Str(NonNull::from(s.to_bytes_with_nul()).cast(), PhantomData)
    }
}

/// A string libvirt allocated for the caller, freed with `free()` on drop.
#[repr(transparent)]
pub struct MallocStr(NonNull<c_char>);

impl MallocStr {
    pub fn to_string_lossy(&self) -> String {
        // SAFETY: libvirt returned a NUL-terminated string, ours until drop.
        unsafe { std::ffi::CStr::from_ptr(self.0.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for MallocStr {
    fn drop(&mut self) {
        // SAFETY: libvirt allocated it with malloc() for the caller to
        // free() (virDomainGetXMLDesc's contract); freed once, here.
        unsafe { libc::free(self.0.as_ptr().cast()) };
    }
}

/// `VIR_TYPED_PARAM_FIELD_LENGTH`: a parameter's name, NUL included.
pub const TYPED_PARAM_FIELD_LENGTH: usize = 80;
// virTypedParameterType values this agent sends.
pub const TYPED_PARAM_INT: c_int = 1;
pub const TYPED_PARAM_ULLONG: c_int = 4;
pub const TYPED_PARAM_STRING: c_int = 7;

/// One `virTypedParameter`: a name, its type and the value (libvirt's
/// union also has uint, llong, double and boolean members, all of 8 bytes
/// or less: this union has the same size and alignment).
#[repr(C)]
pub struct TypedParam {
    pub field: [c_char; TYPED_PARAM_FIELD_LENGTH],
    pub kind: c_int,
    pub value: TypedValue,
}

/// `virTypedParameterValue`, the members this agent uses.
#[repr(C)]
#[derive(Clone, Copy)]
pub union TypedValue {
    pub i: c_int,
    pub ul: c_ulonglong,
    pub s: *const c_char,
}

/// `VIR_UUID_STRING_BUFLEN` is 37; room to spare.
pub type UuidBuf = [c_char; 64];

/// The leading fields of libvirt's `virError` (the rest is never read).
#[repr(C)]
pub struct VirError {
    pub code: c_int,
    pub domain: c_int,
    pub message: *const c_char,
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

type Conn<'a> = Ref<'a, VirConnect>;
type Dom<'a> = Ref<'a, VirDomain>;
type Net<'a> = Ref<'a, VirNetwork>;
type Pool<'a> = Ref<'a, VirStoragePool>;
type ErrorFunc = extern "C" fn(*mut c_void, *mut VirError);

macro_rules! api_table {
    ($( $field:ident = $sym:literal : $ty:ty; )*) => {
        /// The functions this agent calls, resolved once from the library
        /// (which stays loaded as long as the table lives: for the process).
        pub struct Api {
            _lib: Library,
            $( pub $field: $ty, )*
        }

        impl Api {
            pub fn load(path: &str) -> Result<Api, String> {
                // SAFETY: loading libvirt runs its constructors, which only
                // initialise libvirt itself.
                let lib = unsafe { Library::new(path) }
                    .map_err(|e| format!("cannot load {path}: {e}"))?;
                $(
                    // SAFETY: the symbol has this C prototype in libvirt's
                    // headers, and its Rust type carries libvirt's
                    // requirements on every argument (the module's doc);
                    // `_lib` keeps the code mapped while the table lives.
                    let $field: $ty = unsafe {
                        *lib.get::<$ty>($sym).map_err(|e| format!("{path}: {e}"))?
                    };
                )*
                Ok(Api { _lib: lib, $( $field, )* })
            }
        }
    };
}

api_table! {
    get_version = b"virGetVersion\0": extern "C" fn(&mut c_ulong, Option<Str<'_>>, Option<&mut c_ulong>) -> c_int;
    set_error_func = b"virSetErrorFunc\0": extern "C" fn(*mut c_void, Option<ErrorFunc>);
    get_last_error = b"virGetLastError\0": extern "C" fn() -> *const VirError;
    connect_open = b"virConnectOpen\0": extern "C" fn(Option<Str<'_>>) -> Option<Handle<VirConnect>>;
    connect_close = b"virConnectClose\0": Release<VirConnect>;
    connect_is_alive = b"virConnectIsAlive\0": extern "C" fn(Conn<'_>) -> c_int;
    domain_lookup_by_name = b"virDomainLookupByName\0": extern "C" fn(Conn<'_>, Str<'_>) -> Option<Handle<VirDomain>>;
    domain_lookup_by_uuid_string = b"virDomainLookupByUUIDString\0": extern "C" fn(Conn<'_>, Str<'_>) -> Option<Handle<VirDomain>>;
    domain_get_name = b"virDomainGetName\0": extern "C" fn(Dom<'_>) -> *const c_char;
    domain_get_state = b"virDomainGetState\0": extern "C" fn(Dom<'_>, &mut c_int, &mut c_int, c_uint) -> c_int;
    domain_get_uuid_string = b"virDomainGetUUIDString\0": extern "C" fn(Dom<'_>, &mut UuidBuf) -> c_int;
    domain_get_info = b"virDomainGetInfo\0": extern "C" fn(Dom<'_>, &mut DomainInfo) -> c_int;
    domain_is_persistent = b"virDomainIsPersistent\0": extern "C" fn(Dom<'_>) -> c_int;
    domain_define_xml = b"virDomainDefineXML\0": extern "C" fn(Conn<'_>, Str<'_>) -> Option<Handle<VirDomain>>;
    domain_create = b"virDomainCreate\0": extern "C" fn(Dom<'_>) -> c_int;
    domain_shutdown_flags = b"virDomainShutdownFlags\0": extern "C" fn(Dom<'_>, c_uint) -> c_int;
    domain_destroy = b"virDomainDestroy\0": extern "C" fn(Dom<'_>) -> c_int;
    domain_undefine_flags = b"virDomainUndefineFlags\0": extern "C" fn(Dom<'_>, c_uint) -> c_int;
    domain_get_xml_desc = b"virDomainGetXMLDesc\0": extern "C" fn(Dom<'_>, c_uint) -> Option<MallocStr>;
    domain_save = b"virDomainSave\0": extern "C" fn(Dom<'_>, Str<'_>) -> c_int;
    domain_restore = b"virDomainRestore\0": extern "C" fn(Conn<'_>, Str<'_>) -> c_int;
    // A pointer and a count that must agree: unsafe, called only by
    // `Domain::migrate3`, which passes one Vec's pointer and length.
    domain_migrate3 = b"virDomainMigrate3\0": unsafe extern "C" fn(Dom<'_>, Conn<'_>, *const TypedParam, c_uint, c_uint) -> Option<Handle<VirDomain>>;
    domain_migrate_set_max_downtime = b"virDomainMigrateSetMaxDowntime\0": extern "C" fn(Dom<'_>, c_ulonglong, c_uint) -> c_int;
    domain_free = b"virDomainFree\0": Release<VirDomain>;
    network_lookup_by_name = b"virNetworkLookupByName\0": extern "C" fn(Conn<'_>, Str<'_>) -> Option<Handle<VirNetwork>>;
    network_is_active = b"virNetworkIsActive\0": extern "C" fn(Net<'_>) -> c_int;
    network_create = b"virNetworkCreate\0": extern "C" fn(Net<'_>) -> c_int;
    network_free = b"virNetworkFree\0": Release<VirNetwork>;
    pool_lookup_by_name = b"virStoragePoolLookupByName\0": extern "C" fn(Conn<'_>, Str<'_>) -> Option<Handle<VirStoragePool>>;
    pool_is_active = b"virStoragePoolIsActive\0": extern "C" fn(Pool<'_>) -> c_int;
    pool_create = b"virStoragePoolCreate\0": extern "C" fn(Pool<'_>, c_uint) -> c_int;
    pool_free = b"virStoragePoolFree\0": Release<VirStoragePool>;
}

impl Object for VirConnect {
    fn release(api: &Api) -> Release<Self> {
        api.connect_close
    }
}

impl Object for VirDomain {
    fn release(api: &Api) -> Release<Self> {
        api.domain_free
    }
}

impl Object for VirNetwork {
    fn release(api: &Api) -> Release<Self> {
        api.network_free
    }
}

impl Object for VirStoragePool {
    fn release(api: &Api) -> Release<Self> {
        api.pool_free
    }
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
pub const MIGRATE_PAUSED: u64 = 1 << 5;
pub const MIGRATE_CHANGE_PROTECTION: u64 = 1 << 8;
pub const MIGRATE_OFFLINE: u64 = 1 << 10;
pub const MIGRATE_RDMA_PIN_ALL: u64 = 1 << 14;
pub const MIGRATE_PARALLEL: u64 = 1 << 17;
pub const MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES: u64 = 1 << 18;
pub const MIGRATE_POSTCOPY_RESUME: u64 = 1 << 19;
pub const MIGRATE_ZEROCOPY: u64 = 1 << 20;
