//! `ocf:rust:filesystem`: the replacement for `ocf:heartbeat:Filesystem`,
//! with its parameter names.
//!
//! * start: refuse a *different* filesystem already on the directory (the
//!   anchor reports it as ours), create the directory, fsck by policy, then
//!   the system's `mount` by argv (every type and helper works), verified in
//!   the mount table.
//! * monitor: `/proc/self/mountinfo` only, zero forks at depth 0; depth 10
//!   reads the device with O_DIRECT, depth 20 writes and reads the status
//!   file with O_DIRECT|O_SYNC, each in a child under the deadline.
//! * stop: umount(2) first; only on EBUSY a readlink scan of /proc finds the
//!   holders, which get the term signals for the first half of the budget
//!   and the kill signals after; submounts first; all inside ONE budget.

pub mod bounded_io;
pub mod holders;
pub mod identity;
pub mod invariants;
pub mod mountinfo;
#[cfg(test)]
mod props;

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use ocf::exec::{self, Cmd};
use ocf::params::parse_bool;
use ocf::{
    ActionSpec, AgentInfo, Context, Deadline, OcfError, OcfResult, ParamSpec, Params, Status,
};

use identity::{DevNo, Recorded, RecordedMount};
use mountinfo::Mount;

pub static DEVICE: ParamSpec = ParamSpec::new(
    "device",
    "block device",
    "The device to mount: a block device path (/dev/drbd0, /dev/disk/by-id/...), \
     UUID=<uuid> or LABEL=<label> (also the -U <uuid>, -L <label>, --uuid=, --label= \
     forms), an NFS export host:/path, a CIFS share //server/share, or the source \
     directory of a bind mount (fstype none, options bind).",
)
.required()
.check(check_device);

pub static DIRECTORY: ParamSpec = ParamSpec::new(
    "directory",
    "mount point",
    "The absolute path to mount on. It is created if missing. System directories \
     are refused ('/', /usr, /var, /var/lib, /var/log, /etc, /tmp, /root, and \
     anything in /proc, /sys, /dev, /run, /boot, the program and library \
     directories, or the cluster stack's own), and so is a path through a \
     symlink that is not root's.",
)
.required()
.unique()
.check(check_directory);

pub static FSTYPE: ParamSpec = ParamSpec::new(
    "fstype",
    "filesystem type",
    "The type passed to mount -t (ext4, xfs, nfs4, ...); 'none' with options \
     containing 'bind' makes a bind mount.",
)
.required()
.check(check_fstype);

pub static OPTIONS: ParamSpec = ParamSpec::new(
    "options",
    "mount options",
    "Options passed to mount -o, e.g. 'noatime,nodiratime' or 'bind,ro'. A CIFS \
     password=/pass= is handed to mount.cifs in its environment (PASSWD), never on \
     the command line; a credentials= file is better still.",
)
// It may carry a CIFS password: a refused value is never echoed.
.secret()
.check(check_options);

pub static STATUSFILE_PREFIX: ParamSpec = ParamSpec::new(
    "statusfile_prefix",
    "status file prefix",
    "Where monitor depth 20 writes its status file, relative to the mount point: \
     <directory>/<prefix><instance>[_<clone>]_<node>. Each part ending in / is a \
     directory (a/b/ is two), created when needed; each must be root's and \
     writable by nobody else, and the file is never written through a link. A \
     prefix without / puts the file in the mount's root, which then must be \
     root's and writable by nobody else.",
)
.default(".Filesystem_status/")
.check(check_statusfile_prefix);

pub static RUN_FSCK: ParamSpec = ParamSpec::new(
    "run_fsck",
    "when to run fsck",
    "auto: run fsck -p before mounting unless the type has a journal or is a \
     network/cluster type; force: always (block devices); no: never. fsck exit \
     codes of 4 and above fail the start.",
)
.choice(&["auto", "force", "no"])
.default("auto");

pub static FAST_STOP: ParamSpec = ParamSpec::new(
    "fast_stop",
    "give up stopping after 6 seconds",
    "When true, the whole stop (every submount included) gives up after 6 seconds \
     instead of using the operation timeout. Off by default: a stop that gives up \
     early gets the node fenced.",
)
.boolean()
.default("false");

pub static FORCE_CLONES: ParamSpec = ParamSpec::new(
    "force_clones",
    "allow cloning a local filesystem",
    "A clone of a filesystem that is not cluster-aware (ext4, xfs, ...) corrupts \
     it, so it is refused with exit code 6 unless this is true.",
)
.boolean()
.default("false");

pub static FORCE_UNMOUNT: ParamSpec = ParamSpec::new(
    "force_unmount",
    "end the processes that keep the filesystem busy",
    "true or safe: when umount answers EBUSY, find the processes holding files, \
     working directories, executables or mappings under the mount point (a \
     readlink scan of /proc that never stats other mounts) and signal them. \
     false: never signal anyone, only retry the unmount.",
)
.default("true")
.check(check_force_unmount);

pub static TERM_SIGNALS: ParamSpec = ParamSpec::new(
    "term_signals",
    "signals for the first half of the stop",
    "Signal names or numbers, separated by spaces or commas, sent to the holders \
     during the first half of the stop budget.",
)
.default("TERM")
.check(check_signals);

pub static KILL_SIGNALS: ParamSpec = ParamSpec::new(
    "kill_signals",
    "signals for the second half of the stop",
    "Signal names or numbers sent to the holders that are left in the second half \
     of the stop budget.",
)
.default("KILL")
.check(check_signals);

pub static SIGNAL_DELAY: ParamSpec = ParamSpec::new(
    "signal_delay",
    "seconds between signal rounds",
    "How long to wait for the holders to exit after each round of signals \
     (decimals allowed); umount is retried every 20 ms meanwhile.",
)
.default("1")
.check(check_delay);

pub static PARAMS: [ParamSpec; 12] = [
    DEVICE,
    DIRECTORY,
    FSTYPE,
    OPTIONS,
    STATUSFILE_PREFIX,
    RUN_FSCK,
    FAST_STOP,
    FORCE_CLONES,
    FORCE_UNMOUNT,
    TERM_SIGNALS,
    KILL_SIGNALS,
    SIGNAL_DELAY,
];

pub static ACTIONS: [ActionSpec; 5] = [
    ActionSpec::new("start", 60),
    ActionSpec::new("stop", 60),
    ActionSpec::new("monitor", 40).interval(20).depth(0),
    ActionSpec::new("validate-all", 5),
    ActionSpec::new("meta-data", 5),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "filesystem",
    shortdesc: "Manages a mounted filesystem",
    longdesc: "Mounts a filesystem (a block device, UUID= or LABEL=, NFS, CIFS, or a bind \
        mount) with the system's mount and unmounts it, ending the processes that keep \
        it busy. A replacement for ocf:heartbeat:Filesystem with the same parameter \
        names. Monitor reads /proc/self/mountinfo only, so a hung mount elsewhere on \
        the node cannot make it hang; OCF_CHECK_LEVEL=10 reads the device with \
        O_DIRECT, OCF_CHECK_LEVEL=20 also writes and reads a status file on it. Stop \
        tries umount first and looks for holders only when the filesystem is busy, \
        unmounting submounts first, all within the one stop timeout.",
    params: &PARAMS,
    actions: &ACTIONS,
};

/// Filesystem types fsck -p is skipped for under run_fsck=auto (journaling,
/// network, cluster and virtual types), as in the anchor agent.
const NO_FSCK: &[&str] = &[
    "ext4",
    "ext4dev",
    "ext3",
    "reiserfs",
    "reiser4",
    "nss",
    "xfs",
    "jfs",
    "vfat",
    "fat",
    "nfs4",
    "nfs",
    "efs",
    "cifs",
    "smbfs",
    "smb3",
    "ocfs2",
    "gfs2",
    "none",
    "lustre",
    "glusterfs",
    "ceph",
    "tmpfs",
    "overlay",
    "overlayfs",
    "rozofs",
    "zfs",
    "cvfs",
    "btrfs",
];

/// Types that are safe to clone (shared or per-node by nature).
const CLUSTER_SAFE: &[&str] = &[
    "nfs4",
    "nfs",
    "efs",
    "smbfs",
    "cifs",
    "smb3",
    "none",
    "gfs2",
    "glusterfs",
    "ceph",
    "ocfs2",
    "overlay",
    "overlayfs",
    "tmpfs",
    "cvfs",
    "lustre",
];

/// Network types: `umount -f` semantics (MNT_FORCE) help them in the kill phase.
const NETWORK: &[&str] = &["nfs", "nfs4", "cifs", "smbfs", "smb3", "glusterfs", "ceph"];

// ---------------------------------------------------------------- checks

fn check_device(v: &str) -> Result<(), String> {
    if v.trim() != v {
        return Err("must not start or end with whitespace".into());
    }
    match parse_device(v) {
        Device::Uuid(s) | Device::Label(s) if s.is_empty() => {
            Err("names an empty UUID or label".into())
        }
        Device::Path(p) if p.components().any(|c| c == Component::ParentDir) => {
            Err("must not contain '..'".into())
        }
        Device::Source(s) if s.starts_with('-') => {
            Err("must be a path, UUID=, LABEL=, -U, -L or a network source".into())
        }
        _ => Ok(()),
    }
}

fn check_directory(v: &str) -> Result<(), String> {
    if !v.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    let p = Path::new(v);
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err("must not contain '.' or '..'".into());
    }
    if normalize(p) == Path::new("/") {
        return Err("must not be / (it cannot be unmounted)".into());
    }
    if let Some(why) = system_directory(&normalize(p)) {
        return Err(format!("must not be a system directory: {why}"));
    }
    Ok(())
}

/// Directories a resource must never be mounted on, nor below: the kernel's
/// pseudo filesystems and runtime state, programs and libraries, and the
/// cluster stack's own configuration, state and logs. Mounting there hides
/// what the node runs on, and a stop would signal every process using it
/// (Pacemaker's and Corosync's own among them).
const SYSTEM_TREES: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/boot",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/lib",
    "/etc/corosync",
    "/etc/pacemaker",
    "/etc/ha.d",
    "/var/lib/pacemaker",
    "/var/lib/corosync",
    "/var/lib/pcsd",
    "/var/lib/heartbeat",
    "/var/log/pacemaker",
    "/var/log/cluster",
    "/var/run",
    "/var/lock",
];

/// Directories a resource must never be mounted on exactly (below them is
/// where real clusters mount: /var/lib/pgsql, /var/log/app, /usr/local/app):
/// everything on the node uses them.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/etc",
    "/root",
    "/tmp",
    "/usr",
    "/usr/local",
    "/usr/share",
    "/usr/include",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/tmp",
    "/var/mail",
];

/// Why `dir` (normalized, absolute) is a system directory, if it is.
pub fn system_directory(dir: &Path) -> Option<String> {
    if let Some(d) = SYSTEM_DIRS.iter().find(|d| dir == Path::new(d)) {
        return Some(format!("{d} is used by everything on the node"));
    }
    SYSTEM_TREES.iter().find(|t| dir.starts_with(t)).map(|t| {
        format!(
            "{} is in {t}, which the system or the cluster stack runs from",
            dir.display()
        )
    })
}

fn check_fstype(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && !v.starts_with('-')
    {
        Ok(())
    } else {
        Err("must be a filesystem type name such as ext4, xfs, nfs4 or none".into())
    }
}

fn check_options(v: &str) -> Result<(), String> {
    if v.trim() != v {
        return Err("must not start or end with whitespace".into());
    }
    Ok(())
}

pub fn check_statusfile_prefix(v: &str) -> Result<(), String> {
    if v.starts_with('/') {
        return Err("must be relative to the mount point".into());
    }
    if v.split('/').any(|c| c == ".." || c == ".") {
        return Err("must not contain '.' or '..' as a directory".into());
    }
    if v.split('/').any(|c| c.len() > 200) {
        return Err("has a directory or name part longer than 200 bytes".into());
    }
    Ok(())
}

fn check_force_unmount(v: &str) -> Result<(), String> {
    force_unmount(v)
        .map(|_| ())
        .ok_or_else(|| "must be true, safe or false".into())
}

fn force_unmount(v: &str) -> Option<bool> {
    if v.trim().eq_ignore_ascii_case("safe") {
        return Some(true);
    }
    parse_bool(v)
}

fn check_signals(v: &str) -> Result<(), String> {
    holders::parse_signals(v).map(|_| ())
}

fn check_delay(v: &str) -> Result<(), String> {
    match v.trim().parse::<f64>() {
        Ok(s) if (0.0..=60.0).contains(&s) => Ok(()),
        _ => Err("must be a number of seconds from 0 to 60".into()),
    }
}

// ---------------------------------------------------------------- config

/// What `device` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// An absolute path: a block device, or a bind mount's source.
    Path(PathBuf),
    Uuid(String),
    Label(String),
    /// Anything else mount understands: `host:/export`, `//server/share`, `tmpfs`.
    Source(String),
}

pub fn parse_device(v: &str) -> Device {
    let tag = |prefixes: &[&str]| {
        prefixes
            .iter()
            .find_map(|p| v.strip_prefix(p))
            .map(|s| s.trim().to_string())
    };
    if let Some(u) = tag(&["UUID=", "--uuid=", "-U ", "-U"]) {
        return Device::Uuid(u.trim_matches('"').to_string());
    }
    if let Some(l) = tag(&["LABEL=", "--label=", "-L ", "-L"]) {
        return Device::Label(l.trim_matches('"').to_string());
    }
    if v.starts_with('/') && !v.starts_with("//") {
        return Device::Path(PathBuf::from(v));
    }
    Device::Source(v.to_string())
}

/// `dir` without trailing or doubled slashes (no filesystem access).
pub fn normalize(dir: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dir.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

#[derive(Clone)]
pub struct Config {
    pub device: Device,
    pub device_text: String,
    pub directory: PathBuf,
    pub fstype: String,
    pub options: String,
    pub bind: bool,
    pub run_fsck: String,
    pub force_unmount: bool,
    pub term_signals: Vec<i32>,
    pub kill_signals: Vec<i32>,
    pub signal_delay: Duration,
    pub statusfile_prefix: String,
    pub fast_stop: bool,
}

/// `options` may hold a CIFS password: Debug shows it masked.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("device", &self.device)
            .field("directory", &self.directory)
            .field("fstype", &self.fstype)
            .field("options", &ocf::secret::redact(&self.options))
            .field("bind", &self.bind)
            .field("run_fsck", &self.run_fsck)
            .field("force_unmount", &self.force_unmount)
            .field("term_signals", &self.term_signals)
            .field("kill_signals", &self.kill_signals)
            .field("signal_delay", &self.signal_delay)
            .field("statusfile_prefix", &self.statusfile_prefix)
            .field("fast_stop", &self.fast_stop)
            .finish()
    }
}

/// Filesystem types mount.cifs mounts (it reads a password from PASSWD).
const CIFS: &[&str] = &["cifs", "smb3", "smbfs"];

/// For CIFS, take `password=`/`pass=` out of the option list: the list goes
/// on mount's command line, which any user can read in /proc/<pid>/cmdline
/// while mount runs (for as long as a dead server keeps it waiting), and
/// mount.cifs reads the same password from PASSWD in its environment,
/// which only root can read. A doubled comma is a comma inside the
/// password, as mount.cifs and the kernel read it. Other types keep their
/// options as they are: only mount.cifs is known to read PASSWD.
pub fn split_cifs_password(fstype: &str, options: &str) -> (String, Option<String>) {
    if !CIFS.contains(&fstype) {
        return (options.to_string(), None);
    }
    let b = options.as_bytes();
    let mut kept: Vec<&str> = Vec::new();
    let mut password = None;
    let mut i = 0;
    while i <= b.len() {
        let rest = &options[i..];
        let key_len = ["password=", "pass="]
            .iter()
            .find(|k| {
                rest.as_bytes()
                    .get(..k.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(k.as_bytes()))
            })
            .map(|k| k.len());
        if let Some(k) = key_len {
            // The value runs to the first single comma; ",," is a comma.
            let mut v = String::new();
            let mut j = i + k;
            while j < b.len() {
                if b[j] == b',' {
                    if b.get(j + 1) == Some(&b',') {
                        v.push(',');
                        j += 2;
                        continue;
                    }
                    break;
                }
                let c = rest[j - i..].chars().next().unwrap_or(' ');
                v.push(c);
                j += c.len_utf8();
            }
            if v.is_empty() {
                kept.push(&options[i..j]);
            } else {
                password = Some(v);
            }
            i = j + 1;
            continue;
        }
        let end = rest.find(',').map_or(b.len(), |n| i + n);
        if end > i {
            kept.push(&options[i..end]);
        }
        i = end + 1;
    }
    (kept.join(","), password)
}

impl Config {
    fn is_network(&self) -> bool {
        NETWORK.contains(&self.fstype.as_str())
    }
    /// A block device we can stat, O_DIRECT-read and fsck (not a bind source).
    fn is_block_kind(&self) -> bool {
        !self.bind
            && matches!(
                self.device,
                Device::Path(_) | Device::Uuid(_) | Device::Label(_)
            )
    }
}

pub struct Filesystem;

impl ocf::Agent for Filesystem {
    type Config = Config;

    fn info() -> &'static AgentInfo {
        &INFO
    }

    fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
        let device_text = p.string(&DEVICE).unwrap_or_default().to_string();
        let fstype = p.string(&FSTYPE).unwrap_or_default().to_string();
        let options = p.string(&OPTIONS).unwrap_or_default().to_string();
        let bind = options.split(',').any(|o| o == "bind" || o == "rbind");
        let device = parse_device(&device_text);
        if bind && !matches!(device, Device::Path(_)) {
            return Err(OcfError::configured(format!(
                "a bind mount needs an absolute source directory as 'device' (got {device_text:?})"
            )));
        }
        if let Device::Path(path) = &device
            && !bind
            && path
                .as_os_str()
                .as_bytes()
                .iter()
                .any(u8::is_ascii_whitespace)
        {
            return Err(OcfError::configured(format!(
                "parameter 'device' is a device path with whitespace in it (got {device_text:?}); only a bind source may contain spaces"
            )));
        }
        let sig =
            |s: &ParamSpec| holders::parse_signals(p.string(s).unwrap_or("")).unwrap_or_default();
        let cfg = Config {
            device,
            device_text,
            directory: normalize(Path::new(p.string(&DIRECTORY).unwrap_or("/"))),
            fstype,
            options,
            bind,
            run_fsck: p.string(&RUN_FSCK).unwrap_or("auto").to_string(),
            force_unmount: force_unmount(p.string(&FORCE_UNMOUNT).unwrap_or("true"))
                .unwrap_or(true),
            term_signals: sig(&TERM_SIGNALS),
            kill_signals: sig(&KILL_SIGNALS),
            signal_delay: Duration::from_secs_f64(
                p.string(&SIGNAL_DELAY)
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1.0),
            ),
            statusfile_prefix: p.string(&STATUSFILE_PREFIX).unwrap_or_default().to_string(),
            fast_stop: p.boolean(&FAST_STOP),
        };
        if ctx.clone_info().is_some() && !CLUSTER_SAFE.contains(&cfg.fstype.as_str()) {
            // With force_clones the warning comes at start, so a successful
            // validate-all stays silent.
            if !p.boolean(&FORCE_CLONES) {
                return Err(OcfError::configured(format!(
                    "{} on {} is not cluster-aware and must not be cloned (set force_clones=true only if every instance mounts it read-only or on its own device)",
                    cfg.fstype, cfg.device_text
                )));
            }
        }
        Ok(cfg)
    }

    /// Only `validate-all` at OCF_CHECK_LEVEL 10 and above looks at this
    /// node (mount, fstype, device); every other action checks what it
    /// needs itself, so the monitor stays free of extra system calls.
    fn check_environment(cfg: &Config, ctx: &Context) -> OcfResult<()> {
        if ctx.action != "validate-all" {
            return Ok(());
        }
        exec::which("mount")
            .ok_or_else(|| OcfError::installed("the mount command is not installed"))?;
        let dl = Deadline::after(Duration::from_secs(10));
        fstype_supported(cfg, &dl)?;
        if cfg.bind {
            if let Device::Path(src) = &cfg.device
                && fs::symlink_metadata(src).is_err()
            {
                return Err(OcfError::installed(format!(
                    "the bind source {} does not exist",
                    src.display()
                )));
            }
            return Ok(());
        }
        resolve_device(cfg, ctx, &dl).map(|_| ())
    }

    fn start(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let mounts = read_mounts()?;
        let rec = load_record(ctx);
        let dir = mount_dir(cfg, &mounts);
        // The directory through a symlink on this node: the same rule.
        if let Some(why) = system_directory(&dir) {
            return Err(OcfError::installed(format!(
                "the directory {} is {} here, a system directory: {why}",
                cfg.directory.display(),
                dir.display()
            )));
        }
        let ours = find(cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
        if let Some(m) = ours.config.last() {
            ocf::info!(
                "{} is already mounted on {} ({})",
                cfg.device_text,
                dir.display(),
                m.source_text()
            );
            record_existing(cfg, ctx, rec.as_ref(), &dir, m);
            return Ok(());
        }
        if let (Some(r), Some(m)) = (rec.as_ref(), ours.record.last()) {
            if m.mount_point == dir && r.device == cfg.device_text {
                ocf::info!(
                    "{} is already mounted on {} (the mount start made, listed as {})",
                    cfg.device_text,
                    dir.display(),
                    m.source_text()
                );
                return Ok(());
            }
            return Err(OcfError::generic(format!(
                "what this resource mounted before ({} on {}) is still mounted, and the configuration now names {} on {}; stop the resource first",
                m.source_text(),
                m.mount_point.display(),
                cfg.device_text,
                dir.display()
            )));
        }
        if let Some(other) = mountinfo::at(&mounts, &dir).last() {
            return Err(OcfError::generic(format!(
                "{} already has {} ({}) mounted on it; refusing to mount {} on top",
                dir.display(),
                other.source_text(),
                other.fstype,
                cfg.device_text
            )));
        }
        if let Some(below) = mounts
            .iter()
            .find(|m| m.mount_point != dir && mountinfo::is_within(&m.mount_point, &dir))
        {
            return Err(OcfError::generic(format!(
                "{} is mounted below {}; mounting on top would hide it",
                below.mount_point.display(),
                dir.display()
            )));
        }
        if ctx.clone_info().is_some() && !CLUSTER_SAFE.contains(&cfg.fstype.as_str()) {
            ocf::warn!(
                "{} on {} is not cluster-aware, cloned anyway because force_clones is true",
                cfg.fstype,
                cfg.device_text
            );
        }
        let mount_bin = exec::which("mount")
            .ok_or_else(|| OcfError::installed("the mount command is not installed"))?;
        fstype_supported(cfg, dl)?;
        let resolved = resolve_device(cfg, ctx, dl)?;
        if let Some(dev) = &resolved {
            ocf::debug!("device {} is {}", cfg.device_text, dev.display());
        }
        if cfg.bind
            && let Device::Path(src) = &cfg.device
            && fs::symlink_metadata(src).is_err()
        {
            return Err(OcfError::installed(format!(
                "the bind source {} does not exist",
                src.display()
            )));
        }
        if let Some(dev) = &resolved
            && fsck_wanted(cfg)
            && is_block(dev)
        {
            run_fsck(cfg, dev, dl)?;
        }
        trusted_mount_point(&cfg.directory).map_err(OcfError::perm)?;
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| {
                OcfError::installed(format!(
                    "cannot create the mount point {}: {e}",
                    dir.display()
                ))
            })?;
            // What we just made, in a directory others may write to, must
            // be ours before anything is mounted on it.
            trusted_mount_point(&cfg.directory).map_err(OcfError::perm)?;
        }
        // Before mounting, what we are about to mount and where, so a start
        // cut short (mount hung, the watchdog fired) leaves what stop needs.
        let block = resolved.as_deref().filter(|d| is_block(d));
        let mut intent = Recorded {
            device: cfg.device_text.clone(),
            directory: cfg.directory.clone(),
            fstype: cfg.fstype.clone(),
            options: cfg.options.clone(),
            dir: dir.clone(),
            rdev: block.and_then(rdev_of),
            devpath: block.map(|d| fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf())),
            mount: None,
        };
        intent.to_record().save(ctx);
        let before: Vec<u32> = mountinfo::at(&mounts, &dir).iter().map(|m| m.id).collect();
        let mut cmd = Cmd::new(&mount_bin);
        if !cfg.fstype.is_empty() {
            cmd = cmd.args(["-t", cfg.fstype.as_str()]);
        }
        let (options, password) = split_cifs_password(&cfg.fstype, &cfg.options);
        if !options.is_empty() {
            cmd = cmd.args(["-o", options.as_str()]);
        }
        if let Some(pw) = password {
            cmd = cmd.env("PASSWD", pw);
        }
        // A tag is mounted as the device it resolved to, so fsck, mount
        // and the monitor all mean the same device. After `--`, neither
        // can be read as an option (validation refuses a leading '-' too).
        cmd = cmd.arg("--");
        cmd = match (&cfg.device, &resolved) {
            (Device::Uuid(_) | Device::Label(_), Some(dev)) => cmd.arg(dev),
            (Device::Uuid(u), None) => cmd.arg(format!("UUID={u}")),
            (Device::Label(l), None) => cmd.arg(format!("LABEL={l}")),
            (Device::Path(p), _) => cmd.arg(p),
            (Device::Source(s), _) => cmd.arg(s),
        };
        cmd = cmd.arg(&dir);
        ocf::deadline::set_phase("mount");
        ocf::info!("mounting: {cmd}");
        let out = exec::run(&cmd, dl);
        let after = read_mounts()?;
        // Ours is the mount that appeared on the directory: the table may
        // list it in a form the configuration never matches (btrfs's
        // anonymous device, CIFS's `//srv/share` for `\\srv\share`), but it
        // is what we mounted, and what stop must unmount.
        let new = mountinfo::at(&after, &dir)
            .into_iter()
            .rfind(|m| !before.contains(&m.id));
        let matches = new.is_some_and(|n| {
            by_config(cfg, Some(&intent), &after, &dir, dl)
                .iter()
                .any(|m| m.id == n.id)
        });
        if let Some(m) = new {
            intent.mount = Some(recorded_mount(cfg, m));
            intent.to_record().save(ctx);
            if !matches {
                ocf::info!(
                    "the kernel lists {} on {} as {} ({}, {}); recorded as mount ID {}",
                    cfg.device_text,
                    dir.display(),
                    m.source_text(),
                    m.fstype,
                    identity::fmt_dev((m.major, m.minor)),
                    m.id
                );
            }
        }
        match out {
            Ok(o) if o.success() && new.is_some() => {
                ocf::info!("{} mounted on {}", cfg.device_text, dir.display());
                Ok(())
            }
            Ok(o) if o.success() => Err(OcfError::generic(format!(
                "mount said it mounted {} on {}, but the mount table does not show it there",
                cfg.device_text,
                dir.display()
            ))),
            Ok(o) if matches => {
                ocf::warn!(
                    "mount failed ({}); but {} is mounted",
                    o.describe(),
                    dir.display()
                );
                Ok(())
            }
            Ok(o) => Err(OcfError::generic(format!(
                "cannot mount {} on {}: {}",
                cfg.device_text,
                dir.display(),
                o.describe()
            ))),
            Err(e) if matches => {
                ocf::warn!("{e}; but {} is mounted", dir.display());
                Ok(())
            }
            Err(e) => Err(OcfError::generic(format!(
                "cannot mount {} on {}: {e}",
                cfg.device_text,
                dir.display()
            ))),
        }
    }

    /// Stop what the configuration names on its directory and what start
    /// recorded, wherever that is now (a parameter changed to another valid
    /// value, a directory renamed, a device link gone).
    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let rec = load_record(ctx);
        stop_found(cfg, rec.as_ref(), ctx, dl)
    }

    /// Stop with parameters that do not validate: unmount what the record
    /// names and what the raw device and directory still identify (with
    /// the valid values and defaults for the rest); 0 only when nothing of
    /// ours is left mounted, because a filesystem left mounted here while
    /// Pacemaker believes it stopped can be mounted on a second node.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        if let Some(cfg) = cfg {
            return Self::stop(cfg, ctx, dl);
        }
        let rec = rec.and_then(Recorded::from_record);
        let Some(cfg) =
            lenient_config(ctx).or_else(|| rec.as_ref().and_then(|r| recorded_config(r, ctx)))
        else {
            ocf::info!(
                "stop: {}; no record of a start here and no usable device and directory, so nothing of ours can be mounted",
                why.reason
            );
            return Ok(());
        };
        ocf::warn!(
            "stop: {}; unmounting {} from {}{} with default settings where they do not validate",
            why.reason,
            cfg.device_text,
            cfg.directory.display(),
            if rec.is_some() {
                " and what start recorded"
            } else {
                ""
            }
        );
        stop_found(&cfg, rec.as_ref(), ctx, dl)
    }

    /// A probe with parameters that do not validate: 0 when what the
    /// record names, or what the raw device and directory identify, is
    /// mounted; 7 only when nothing of ours is.
    fn probe_unconfigured(
        cfg: Option<&Config>,
        rec: Option<&ocf::Record>,
        ctx: &Context,
        _why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<Status> {
        let rec = rec.and_then(Recorded::from_record);
        let cfg = cfg
            .cloned()
            .or_else(|| lenient_config(ctx))
            .or_else(|| rec.as_ref().and_then(|r| recorded_config(r, ctx)));
        let Some(cfg) = cfg else {
            return Ok(Status::NotRunning);
        };
        let mounts = read_mounts()?;
        let dir = mount_dir(&cfg, &mounts);
        let ours = find(&cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
        match ours.all().last() {
            Some(m) => {
                ocf::warn!(
                    "{} is mounted on {} (mount ID {})",
                    m.source_text(),
                    m.mount_point.display(),
                    m.id
                );
                Ok(Status::Success)
            }
            None => Ok(Status::NotRunning),
        }
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let mounts = read_mounts()?;
        let rec = load_record(ctx);
        let dir = mount_dir(cfg, &mounts);
        let ours = find(cfg, rec.as_ref(), ctx, &mounts, &dir, dl);
        let m = match (ours.config.last(), ours.record.last(), rec.as_ref()) {
            (Some(m), _, _) => {
                if let Some(old) = ours.record.iter().find(|r| !ours.config.contains(r)) {
                    ocf::warn!(
                        "what start mounted before ({} on {}) is mounted too; a stop unmounts it",
                        old.source_text(),
                        old.mount_point.display()
                    );
                }
                *m
            }
            // The mount start made, on the configured directory, from the
            // configured device, that the device path no longer names (a
            // link removed, a node gone): still ours and still running.
            (None, Some(m), Some(r)) if m.mount_point == dir && r.device == cfg.device_text => {
                ocf::warn!(
                    "{} no longer names what is mounted on {}; checking the mount start made ({}, mount ID {})",
                    cfg.device_text,
                    dir.display(),
                    m.source_text(),
                    m.id
                );
                *m
            }
            (None, Some(m), _) => {
                let what = format!(
                    "the configuration names {} on {}, but what start mounted ({} on {}) is still mounted",
                    cfg.device_text,
                    dir.display(),
                    m.source_text(),
                    m.mount_point.display()
                );
                if ctx.is_probe() {
                    ocf::warn!("{what}: running");
                    return Ok(Status::Success);
                }
                return Err(OcfError::generic(format!("{what}; a stop unmounts it")));
            }
            (None, None, _) => {
                if let Some(other) = mountinfo::at(&mounts, &dir).last() {
                    ocf::warn!(
                        "{} is not mounted on {}; {} ({}) is",
                        cfg.device_text,
                        dir.display(),
                        other.source_text(),
                        other.fstype
                    );
                }
                return Err(OcfError::not_running(format!(
                    "{} is not mounted on {}",
                    cfg.device_text,
                    dir.display()
                )));
            }
        };
        let level = ctx.effective_check_level(&[0, 10, 20]);
        if level >= 10 && cfg.is_block_kind() {
            ocf::deadline::set_phase("reading the device (depth 10)");
            if let Some(dev) = device_to_read(cfg, rec.as_ref(), m).map_err(OcfError::generic)? {
                bounded_io::read_device(&dev, dl).map_err(|e| {
                    OcfError::generic(format!("cannot read {} with O_DIRECT: {e}", dev.display()))
                })?;
            }
        }
        if level >= 20 {
            ocf::deadline::set_phase("status file (depth 20)");
            let status = status_file(cfg, ctx);
            bounded_io::write_read_status(
                &m.mount_point,
                &status,
                format!("{}\n", ctx.instance).as_bytes(),
                dl,
            )
            .map_err(|e| {
                OcfError::generic(format!(
                    "status file {}: {e}",
                    status.path(&m.mount_point).display()
                ))
            })?;
        }
        Ok(Status::Success)
    }
}

// ---------------------------------------------------------------- ours

/// Everything of ours mounted now.
struct Ours<'a> {
    /// What the configuration names, on its directory, bottom first.
    config: Vec<&'a Mount>,
    /// What the record names: the mount start made wherever it is now and
    /// copies stacked with it; or, when start was cut short before it saw
    /// its mount, the recorded configuration on the recorded directory.
    record: Vec<&'a Mount>,
}

impl<'a> Ours<'a> {
    /// Both, each mount once, in table order.
    fn all(&self) -> Vec<&'a Mount> {
        let mut out: Vec<&'a Mount> = self.config.clone();
        for m in &self.record {
            if !out.iter().any(|o| o.id == m.id) {
                out.push(m);
            }
        }
        out
    }
}

fn find<'a>(
    cfg: &Config,
    rec: Option<&Recorded>,
    ctx: &Context,
    mounts: &'a [Mount],
    dir: &Path,
    dl: &Deadline,
) -> Ours<'a> {
    let config = by_config(cfg, rec, mounts, dir, dl);
    let record = match rec {
        Some(r) if r.mount.is_some() => identity::by_record(r, mounts),
        Some(r) => recorded_config(r, ctx)
            .map(|rc| by_config(&rc, Some(r), mounts, &r.dir, dl))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ours { config, record }
}

/// Stop everything of ours `cfg` and `rec` find: each mount with what sits
/// on it (submounts, mounts stacked on top), every copy stacked on the
/// same place, and other mounts of the same block device (binds of it
/// elsewhere keep the device busy), all inside one budget.
fn stop_found(cfg: &Config, rec: Option<&Recorded>, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
    let dl = if cfg.fast_stop {
        dl.cap(Duration::from_secs(6))
    } else {
        *dl
    };
    let mounts = read_mounts()?;
    let dir = mount_dir(cfg, &mounts);
    let ours = find(cfg, rec, ctx, &mounts, &dir, &dl);
    let roots = ours.all();
    if roots.is_empty() {
        if let Some(other) = mountinfo::at(&mounts, &dir).last() {
            ocf::info!(
                "{} is not mounted on {} ({} is, and is left alone)",
                cfg.device_text,
                dir.display(),
                other.source_text()
            );
        } else {
            ocf::info!("{} is not mounted on {}", cfg.device_text, dir.display());
        }
        return Ok(());
    }
    if ours.config.is_empty()
        && let Some(m) = ours.record.last()
    {
        ocf::warn!(
            "{} is not mounted on {}, but what start mounted ({} on {}, mount ID {}) is: unmounting that",
            cfg.device_text,
            dir.display(),
            m.source_text(),
            m.mount_point.display(),
            m.id
        );
    }
    // The status file of depth 20 goes first; a failure is only a warning.
    let mut places: Vec<&Path> = roots.iter().map(|m| m.mount_point.as_path()).collect();
    places.sort();
    places.dedup();
    let status = status_file(cfg, ctx);
    for place in places {
        if let Err(e) = bounded_io::remove(place, &status, &dl.cap(Duration::from_secs(2))) {
            ocf::warn!(
                "cannot remove the status file {}: {e}",
                status.path(place).display()
            );
        }
    }
    let mut ids: Vec<u32> = roots.iter().map(|m| m.id).collect();
    // Other mounts of the same filesystem (binds of its subdirectories
    // elsewhere) keep the device in use after ours is gone. Never one above
    // our directory: that would be unmounting (and signalling the holders
    // of) a parent. Not for a bind: its device is the source's.
    let bind_root = |m: &Mount| {
        (ours.config.iter().any(|c| c.id == m.id) && (cfg.bind || !cfg.is_block_kind()))
            || (ours.record.iter().any(|r| r.id == m.id)
                && rec.is_some_and(|r| r.is_bind() || !recorded_block_kind(r)))
    };
    for root in &roots {
        if root.major == 0 || bind_root(root) {
            continue;
        }
        for m in mounts.iter().rev() {
            let above = m.mount_point != root.mount_point
                && mountinfo::is_within(&root.mount_point, &m.mount_point);
            if !ids.contains(&m.id)
                && (m.major, m.minor) == (root.major, root.minor)
                && !above
                && m.mount_point != Path::new("/")
            {
                ocf::info!(
                    "{} is also mounted on {}; unmounting that too",
                    root.source_text(),
                    m.mount_point.display()
                );
                ids.push(m.id);
            }
        }
    }
    let mut targets: Vec<Mount> = mountinfo::unmount_order(&mounts, &ids)
        .into_iter()
        .cloned()
        .collect();
    targets.retain(|t| t.mount_point != Path::new("/"));
    let started = Instant::now();
    let term_until = started + dl.remaining() / 2;
    for t in &targets {
        unmount_one(cfg, t, &dl, term_until)?;
    }
    let after = read_mounts()?;
    let left: Vec<&Mount> = roots
        .iter()
        .filter(|r| {
            after
                .iter()
                .any(|m| m.id == r.id && (m.major, m.minor) == (r.major, r.minor))
        })
        .copied()
        .collect();
    if let Some(l) = left.first() {
        return Err(OcfError::generic(format!(
            "{} is still mounted on {}",
            l.source_text(),
            l.mount_point.display()
        )));
    }
    ocf::info!(
        "{} unmounted from {} in {:.2}s",
        cfg.device_text,
        roots
            .iter()
            .map(|m| m.mount_point.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The mounts on `dir` that the configuration names, bottom first.
fn by_config<'a>(
    cfg: &Config,
    rec: Option<&Recorded>,
    mounts: &'a [Mount],
    dir: &Path,
    dl: &Deadline,
) -> Vec<&'a Mount> {
    let here = mountinfo::at(mounts, dir);
    if here.is_empty() {
        return Vec::new();
    }
    let keep = |f: &dyn Fn(&Mount) -> bool| -> Vec<&'a Mount> {
        here.iter().copied().filter(|m| f(m)).collect()
    };
    // What start resolved the same device text to (no fork on the hot path).
    let same = rec.filter(|r| r.device == cfg.device_text);
    // The filesystem start mounted from this same device text, on this
    // directory: ours, however the table spells it (and no stat for it).
    if !cfg.bind
        && let Some(rm) = same.and_then(|r| r.mount.as_ref())
    {
        let hit = keep(&|m| identity::same_filesystem(rm, m));
        if !hit.is_empty() {
            return hit;
        }
    }
    match &cfg.device {
        _ if cfg.bind => {
            let Device::Path(src) = &cfg.device else {
                return Vec::new();
            };
            let Some((dev, root)) = bind_origin(mounts, src, dir) else {
                return Vec::new();
            };
            keep(&|m| (m.major, m.minor) == dev && identity::live_root(&m.root) == root)
        }
        Device::Path(p) => {
            let want = rdev_of(p).or_else(|| same.and_then(|r| r.rdev));
            let cheap =
                keep(&|m| want.is_some_and(|d| on_device(m, d)) || m.source_path() == p.as_path());
            if !cheap.is_empty() {
                return cheap;
            }
            // A source behind a symlink (a FUSE or bind-like directory), a
            // loop image (the table lists /dev/loopN), even once removed.
            let canon = fs::canonicalize(p).ok();
            keep(&|m| {
                canon.as_deref().is_some_and(|c| m.source_path() == c)
                    || (want.is_none()
                        && loop_backing_file(&m.source)
                            .is_some_and(|f| f == *p || canon.as_deref() == Some(f.as_path())))
            })
        }
        Device::Uuid(_) | Device::Label(_) => {
            // /dev/disk/by-*, then what start recorded, and only then blkid.
            let on = |d: Option<DevNo>| -> Vec<&'a Mount> {
                d.map(|d| keep(&|m| on_device(m, d))).unwrap_or_default()
            };
            let by_link = on(tag_link(&cfg.device).and_then(|p| rdev_of(&p)));
            if !by_link.is_empty() {
                return by_link;
            }
            let remembered =
                on(same.and_then(|r| r.rdev.or_else(|| r.devpath.as_deref().and_then(rdev_of))));
            if !remembered.is_empty() {
                return remembered;
            }
            on(blkid_lookup(&cfg.device, dl).and_then(|p| rdev_of(&p)))
        }
        Device::Source(s) => keep(&|m| identity::same_source(s, &m.source, &cfg.fstype)),
    }
}

/// Is `m` a filesystem on the block device `d`? By the table's device
/// number, or, for an anonymous `0:NN` entry (btrfs), by the device node
/// the table lists as its source.
fn on_device(m: &Mount, d: DevNo) -> bool {
    (m.major, m.minor) == d
        || (m.major == 0
            && m.source_path().starts_with("/dev/")
            && rdev_of(m.source_path()) == Some(d))
}

/// Start found its filesystem already mounted: make sure the record names
/// that mount (a start of an older version, or a mount made by hand).
fn record_existing(cfg: &Config, ctx: &Context, rec: Option<&Recorded>, dir: &Path, m: &Mount) {
    if rec.is_some_and(|r| {
        r.mount
            .as_ref()
            .is_some_and(|x| identity::is_recorded(x, m))
    }) {
        return;
    }
    let same = rec.filter(|r| r.device == cfg.device_text);
    let block = cfg.is_block_kind() && m.major != 0;
    Recorded {
        device: cfg.device_text.clone(),
        directory: cfg.directory.clone(),
        fstype: cfg.fstype.clone(),
        options: cfg.options.clone(),
        dir: dir.to_path_buf(),
        rdev: block.then_some((m.major, m.minor)),
        devpath: same.and_then(|r| r.devpath.clone()),
        mount: Some(recorded_mount(cfg, m)),
    }
    .to_record()
    .save(ctx);
}

/// The identity of a mount start just made or found. `st_dev` comes from a
/// stat of the mounted root, only for a filesystem on a block device (where
/// a btrfs subvolume's differs from the table's): never a stat that can
/// hang on a server or a FUSE daemon.
fn recorded_mount(cfg: &Config, m: &Mount) -> RecordedMount {
    let on_block =
        m.major != 0 || (m.source_path().starts_with("/dev/") && is_block(m.source_path()));
    let st_dev = (on_block && !cfg.bind && !NETWORK.contains(&m.fstype.as_str()))
        .then(|| fs::metadata(&m.mount_point).ok())
        .flatten()
        .map(|md| (libc::major(md.dev()), libc::minor(md.dev())));
    RecordedMount {
        id: m.id,
        dev: (m.major, m.minor),
        st_dev,
        fstype: m.fstype.clone(),
        source: m.source.clone(),
        mount_point: m.mount_point.clone(),
    }
}

fn load_record(ctx: &Context) -> Option<Recorded> {
    ocf::Record::load(ctx)
        .as_ref()
        .and_then(Recorded::from_record)
}

fn recorded_block_kind(r: &Recorded) -> bool {
    !r.is_bind()
        && matches!(
            parse_device(&r.device),
            Device::Path(_) | Device::Uuid(_) | Device::Label(_)
        )
}

/// The block device node depth 10 reads for `m`: one whose device number
/// is the mount's (the table's, or for an anonymous entry what start
/// resolved), found through the configured path, what start resolved, the
/// table's source or the kernel's own name in sysfs. `Ok(None)` when the
/// mount is not on a block device; an error when it is and no node for it
/// is left: a disk that went away must fail the check, not pass it.
fn device_to_read(
    cfg: &Config,
    rec: Option<&Recorded>,
    m: &Mount,
) -> Result<Option<PathBuf>, String> {
    let same = rec.filter(|r| {
        r.device == cfg.device_text
            || r.mount
                .as_ref()
                .is_some_and(|x| identity::is_recorded(x, m))
    });
    let want = if m.major != 0 {
        Some((m.major, m.minor))
    } else {
        same.and_then(|r| r.rdev)
            .or_else(|| match &cfg.device {
                Device::Path(p) => rdev_of(p),
                _ => None,
            })
            .or_else(|| {
                m.source_text()
                    .starts_with("/dev/")
                    .then(|| rdev_of(Path::new(&m.source)))
                    .flatten()
            })
    };
    let Some(want) = want else {
        return Ok(None);
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Device::Path(p) = &cfg.device {
        candidates.push(p.clone());
    }
    if let Some(p) = same.and_then(|r| r.devpath.clone()) {
        candidates.push(p);
    }
    if m.source_path().has_root() {
        candidates.push(m.source_path().to_path_buf());
    }
    if let Some(p) = sysfs_node(want) {
        candidates.push(p);
    }
    candidates
        .into_iter()
        .find(|c| rdev_of(c) == Some(want))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "the device {} of {} on {} is gone: no device node for it is left",
                identity::fmt_dev(want),
                m.source_text(),
                m.mount_point.display()
            )
        })
}

/// `/dev/<name>` for a device number, from the kernel's own name in sysfs.
fn sysfs_node((ma, mi): DevNo) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/sys/dev/block/{ma}:{mi}/uevent")).ok()?;
    let name = text.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    (!name.is_empty() && !name.contains("..")).then(|| Path::new("/dev").join(name))
}

// ---------------------------------------------------------------- helpers

/// The configuration a stop or probe can still act on when validation
/// failed: the raw device and directory (trimmed), defaults for whatever
/// does not validate. `None` when they cannot name a mount of ours.
fn lenient_config(ctx: &Context) -> Option<Config> {
    let raw = |name: &str| ctx.params.get(name).map(|v| v.trim().to_string());
    let directory = raw("directory").filter(|d| d.starts_with('/'))?;
    let device_text = raw("device").filter(|d| !d.is_empty())?;
    config_from(
        ctx,
        device_text,
        normalize(Path::new(&directory)),
        raw("fstype").unwrap_or_default(),
        raw("options").unwrap_or_default(),
    )
}

/// The configuration start ran with, on the directory it resolved then.
fn recorded_config(r: &Recorded, ctx: &Context) -> Option<Config> {
    config_from(
        ctx,
        r.device.clone(),
        r.dir.clone(),
        r.fstype.clone(),
        r.options.clone(),
    )
}

fn config_from(
    ctx: &Context,
    device_text: String,
    directory: PathBuf,
    fstype: String,
    options: String,
) -> Option<Config> {
    let raw = |name: &str| ctx.params.get(name).map(|v| v.trim().to_string());
    if directory == Path::new("/") {
        return None;
    }
    let bind = identity::is_bind(&options);
    let device = parse_device(&device_text);
    if bind && !matches!(device, Device::Path(_)) {
        return None;
    }
    Some(Config {
        device,
        device_text,
        directory,
        fstype,
        options,
        bind,
        run_fsck: "no".into(),
        force_unmount: raw("force_unmount")
            .and_then(|v| force_unmount(&v))
            .unwrap_or(true),
        term_signals: raw("term_signals")
            .and_then(|v| holders::parse_signals(&v).ok())
            .unwrap_or_else(|| vec![libc::SIGTERM]),
        kill_signals: raw("kill_signals")
            .and_then(|v| holders::parse_signals(&v).ok())
            .unwrap_or_else(|| vec![libc::SIGKILL]),
        signal_delay: raw("signal_delay")
            .filter(|v| check_delay(v).is_ok())
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_secs_f64),
        statusfile_prefix: raw("statusfile_prefix")
            .filter(|v| check_statusfile_prefix(v).is_ok())
            .unwrap_or_else(|| STATUSFILE_PREFIX.default.unwrap_or_default().to_string()),
        fast_stop: raw("fast_stop")
            .and_then(|v| parse_bool(&v))
            .unwrap_or(false),
    })
}

/// Is the mount point reached only through what root controls? Walking
/// `dir` as the kernel will (symlinks followed, at most 40): a symlink on
/// the way must be root's, and a directory on the way that others may write
/// to must have the sticky bit, with what follows in it root's (or not there
/// yet). Otherwise a user could point our mount anywhere, over /etc/cron.d
/// for one, with a link of theirs, or swap what we checked before mount(8)
/// looks it up again. Whatever is missing at the end is what start creates.
/// `Ok` with the resolved path, or why not.
pub fn trusted_mount_point(dir: &Path) -> Result<PathBuf, String> {
    use std::ffi::OsString;
    let mut todo: Vec<OsString> = dir
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    let mut missing = false;
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        let next = cur.join(&c);
        if missing {
            cur = next;
            continue;
        }
        let parent = fs::symlink_metadata(&cur).map_err(|e| format!("{}: {e}", cur.display()))?;
        let shared = parent.mode() & 0o002 != 0;
        if shared && parent.mode() & 0o1000 == 0 {
            return Err(format!(
                "{} (on the way to the mount point {}) is writable by everyone without the sticky bit: anyone could replace what follows",
                cur.display(),
                dir.display()
            ));
        }
        let md = match fs::symlink_metadata(&next) {
            Ok(md) => md,
            Err(_) => {
                missing = true;
                cur = next;
                continue;
            }
        };
        if (shared || md.file_type().is_symlink()) && md.uid() != 0 {
            return Err(format!(
                "{} (on the way to the mount point {}) is {} of uid {}, not root's: it could point the mount anywhere",
                next.display(),
                dir.display(),
                if md.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "an entry"
                },
                md.uid()
            ));
        }
        if md.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return Err(format!("{}: too many symlinks", dir.display()));
            }
            let target = fs::read_link(&next).map_err(|e| format!("{}: {e}", next.display()))?;
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            for t in target.components().rev() {
                match t {
                    Component::Normal(n) => todo.push(n.to_os_string()),
                    Component::ParentDir => todo.push("..".into()),
                    _ => {}
                }
            }
            continue;
        }
        cur = next;
    }
    Ok(cur)
}

fn read_mounts() -> OcfResult<Vec<Mount>> {
    mountinfo::read()
        .map_err(|e| OcfError::generic(format!("cannot read /proc/self/mountinfo: {e}")))
}

/// The mount point as the kernel lists it. The configured path, unless it
/// is not in the table and goes through a symlink: then its resolved form
/// (resolving only when needed keeps the hot path free of stat calls).
fn mount_dir(cfg: &Config, mounts: &[Mount]) -> PathBuf {
    if mounts.iter().any(|m| m.mount_point == cfg.directory) {
        return cfg.directory.clone();
    }
    fs::canonicalize(&cfg.directory)
        .ok()
        .or_else(|| {
            let parent = cfg.directory.parent()?;
            Some(
                fs::canonicalize(parent)
                    .ok()?
                    .join(cfg.directory.file_name()?),
            )
        })
        .unwrap_or_else(|| cfg.directory.clone())
}

fn is_block(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// The image file behind a loop device (`mount -o loop image dir`), from
/// sysfs: the table lists /dev/loopN, the configuration names the file
/// (which may have been removed since: the kernel then says "(deleted)").
fn loop_backing_file(source: &std::ffi::OsStr) -> Option<PathBuf> {
    let name = source.as_bytes().strip_prefix(b"/dev/")?;
    if !name.starts_with(b"loop") || !name[4..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    let text = fs::read(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    Some(identity::live_backing_file(&text).to_path_buf())
}

fn rdev_of(p: &Path) -> Option<DevNo> {
    let m = fs::metadata(p).ok()?;
    if !m.file_type().is_block_device() {
        return None;
    }
    let r = m.rdev();
    Some((libc::major(r), libc::minor(r)))
}

/// Where a bind of `src` comes from: the device of the filesystem holding
/// `src` and the path inside it, from the mount table alone (no stat).
fn bind_origin(mounts: &[Mount], src: &Path, dir: &Path) -> Option<((u32, u32), PathBuf)> {
    let src = fs::canonicalize(src).unwrap_or_else(|_| normalize(src));
    let host = mounts
        .iter()
        .filter(|m| m.mount_point != dir && mountinfo::is_within(&src, &m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())?;
    let rel = src.strip_prefix(&host.mount_point).ok()?;
    let root = if rel.as_os_str().is_empty() {
        host.root.clone()
    } else {
        host.root.join(rel)
    };
    Some(((host.major, host.minor), root))
}

fn tag_link(d: &Device) -> Option<PathBuf> {
    tag_link_in(Path::new("/dev/disk"), d)
}

/// The device a `/dev/disk/by-uuid` or `by-label` link (under `disk`) names.
fn tag_link_in(disk: &Path, d: &Device) -> Option<PathBuf> {
    let (kind, v) = match d {
        Device::Uuid(u) => ("by-uuid", u),
        Device::Label(l) => ("by-label", l),
        _ => return None,
    };
    // A label is data, not a path: udev spells a '/' in it as \x2f, so a
    // value with '/' (or '.', '..') names no link there, only a way out.
    if v.is_empty() || v == "." || v == ".." || v.contains('/') {
        return None;
    }
    let p = disk.join(kind).join(v);
    fs::canonicalize(p).ok()
}

fn blkid_lookup(d: &Device, dl: &Deadline) -> Option<PathBuf> {
    let token = match d {
        Device::Uuid(u) => format!("UUID={u}"),
        Device::Label(l) => format!("LABEL={l}"),
        _ => return None,
    };
    let blkid = exec::which("blkid")?;
    let out = exec::run(
        &Cmd::new(blkid).args(["-o", "device", "-l", "-t", token.as_str()]),
        &dl.cap(Duration::from_secs(10)),
    )
    .ok()?;
    let line = out.stdout_str().lines().next()?.trim().to_string();
    (out.success() && line.starts_with('/')).then(|| PathBuf::from(line))
}

/// The block device to fsck and record: the path itself, or what the
/// tag resolves to. `None` for network sources and binds.
fn resolve_device(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Option<PathBuf>> {
    let _ = ctx;
    if cfg.bind {
        return Ok(None);
    }
    match &cfg.device {
        Device::Path(p) => {
            if fs::metadata(p).is_err() {
                return Err(OcfError::installed(format!(
                    "the device {} does not exist on this node",
                    p.display()
                )));
            }
            Ok(Some(p.clone()))
        }
        d @ (Device::Uuid(_) | Device::Label(_)) => tag_link(d)
            .or_else(|| blkid_lookup(d, dl))
            .map(Some)
            .ok_or_else(|| {
                OcfError::installed(format!("no device with {} on this node", cfg.device_text))
            }),
        Device::Source(_) => Ok(None),
    }
}

fn fsck_wanted(cfg: &Config) -> bool {
    match cfg.run_fsck.as_str() {
        "force" => true,
        "no" => false,
        _ => !NO_FSCK.contains(&cfg.fstype.as_str()),
    }
}

fn run_fsck(cfg: &Config, dev: &Path, dl: &Deadline) -> OcfResult<()> {
    let Some(fsck) = exec::which("fsck") else {
        return Err(OcfError::installed(
            "fsck is needed (run_fsck) but not installed",
        ));
    };
    ocf::deadline::set_phase("fsck");
    let mut cmd = Cmd::new(fsck);
    if !cfg.fstype.is_empty() {
        cmd = cmd.args(["-t", cfg.fstype.as_str()]);
    }
    cmd = cmd.arg("-p").arg(dev);
    ocf::info!("checking the filesystem: {cmd}");
    // Keep a quarter of the time for the mount itself.
    match exec::run(&cmd, &dl.share(0.75)) {
        Ok(o) if o.code.is_some_and(|c| c < 4) => Ok(()),
        Ok(o) => Err(OcfError::generic(format!(
            "fsck found errors it could not repair on {}: {}",
            dev.display(),
            o.describe()
        ))),
        Err(e) => Err(OcfError::generic(format!("fsck of {}: {e}", dev.display()))),
    }
}

fn fstype_supported(cfg: &Config, dl: &Deadline) -> OcfResult<()> {
    let t = cfg.fstype.as_str();
    if t.is_empty() || t == "none" || cfg.bind {
        return Ok(());
    }
    let kernel = if t.starts_with("fuse.") { "fuse" } else { t };
    let known = || {
        fs::read_to_string("/proc/filesystems").is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some(kernel))
        })
    };
    let helper = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
        .iter()
        .any(|d| Path::new(d).join(format!("mount.{t}")).exists());
    if known() || helper {
        return Ok(());
    }
    if let Some(modprobe) = exec::which("modprobe") {
        let _ = exec::run(
            &Cmd::new(modprobe).args(["-q", "--", kernel]),
            &dl.cap(Duration::from_secs(5)),
        );
        if known() {
            return Ok(());
        }
    }
    Err(OcfError::installed(format!(
        "this node's kernel does not support the filesystem type {t} and has no mount.{t} helper"
    )))
}

/// The depth-20 status file of this resource on this node.
fn status_file(cfg: &Config, ctx: &Context) -> bounded_io::StatusFile {
    status_file_of(
        &cfg.statusfile_prefix,
        &ctx.instance,
        ctx.meta.get("clone").map(String::as_str),
        &node_name(ctx),
    )
}

/// The depth-20 status file: `<dir>/<prefix><instance>[_<clone>]_<node>`.
/// Every `/` in the prefix ends a directory (`a/b/` is two, `a/b/st-` two
/// and a file name prefix; empty parts do not count); a `/` in the
/// instance, clone or node name would be one more, so it becomes `_`.
pub fn status_file_of(
    prefix: &str,
    instance: &str,
    clone: Option<&str>,
    node: &str,
) -> bounded_io::StatusFile {
    let plain = |s: &str| s.replace(['/', '\0'], "_");
    let mut parts: Vec<&str> = prefix.split('/').collect();
    let stem = parts.pop().unwrap_or_default();
    let dirs = parts
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let mut name = format!("{}{}", plain(stem), plain(instance));
    if let Some(c) = clone.filter(|c| !c.is_empty()) {
        name.push('_');
        name.push_str(&plain(c));
    }
    name.push('_');
    name.push_str(&plain(node));
    bounded_io::StatusFile { dirs, name }
}

fn node_name(ctx: &Context) -> String {
    if let Some(n) = ctx.on_node() {
        return n.to_string();
    }
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// umount2 with UMOUNT_NOFOLLOW: the errno on failure.
fn umount(path: &Path, force: bool) -> Result<(), i32> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    let mut flags = libc::UMOUNT_NOFOLLOW;
    if force {
        flags |= libc::MNT_FORCE;
    }
    // SAFETY: umount2 on a valid C string.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

fn still_mounted(id: u32) -> bool {
    mountinfo::read().map_or(true, |m| m.iter().any(|x| x.id == id))
}

/// Unmount one mount: umount first; on EBUSY signal its holders (term
/// signals until `term_until`, kill signals after) and retry every 20 ms
/// for `signal_delay`, until the shared deadline. Never signalled: this
/// agent and its ancestors and children, init, the cluster stack's daemons,
/// and anyone at all when the mount sits on a system directory (another
/// mount of our device bound there by hand): the stop then fails, truthfully.
fn unmount_one(cfg: &Config, m: &Mount, dl: &Deadline, term_until: Instant) -> OcfResult<()> {
    let path = &m.mount_point;
    ocf::deadline::set_phase(&format!("unmounting {}", path.display()));
    let network = cfg.is_network() || NETWORK.contains(&m.fstype.as_str());
    let guard = holders::Guard::new();
    let system = system_directory(&normalize(path));
    let mut last_holders: Vec<holders::Holder> = Vec::new();
    let mut rounds = 0u32;
    loop {
        let force = network && Instant::now() >= term_until;
        match umount(path, force) {
            Ok(()) => {
                ocf::info!("unmounted {}", path.display());
                return Ok(());
            }
            Err(e) if (e == libc::EINVAL || e == libc::ENOENT) && !still_mounted(m.id) => {
                return Ok(());
            }
            Err(e) if e == libc::EBUSY => {}
            Err(e) => ocf::warn!(
                "umount {}: {}",
                path.display(),
                std::io::Error::from_raw_os_error(e)
            ),
        }
        if dl.expired() {
            // No new scan here: past the deadline only the watchdog's margin
            // is left, and a scan of /proc on a loaded node can take longer.
            let loops = holders::loop_devices_within(path);
            let who = if !loops.is_empty() && last_holders.is_empty() {
                format!("; the kernel holds it for {}", loops.join(", "))
            } else if last_holders.is_empty() {
                String::new()
            } else {
                format!(
                    "; still held by {}",
                    last_holders
                        .iter()
                        .take(5)
                        .map(|h| match (&h.protected, &system) {
                            (Some(why), _) => format!("{h} ({why}: never signalled)"),
                            (None, Some(_)) => format!("{h} (not signalled: a system directory)"),
                            (None, None) => h.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(OcfError::generic(format!(
                "could not unmount {} within the stop timeout{who}",
                path.display()
            )));
        }
        rounds += 1;
        if cfg.force_unmount {
            let phase_kill = Instant::now() >= term_until;
            let signals = if phase_kill {
                &cfg.kill_signals
            } else {
                &cfg.term_signals
            };
            let found = holders::scan(path, &guard);
            if found.is_empty() {
                let loops = holders::loop_devices_within(path);
                if loops.is_empty() {
                    ocf::info!(
                        "{} is busy, but no process holds anything under it",
                        path.display()
                    );
                } else {
                    ocf::warn!(
                        "{} is busy: the kernel holds it for {}; detach those to free it",
                        path.display(),
                        loops.join(", ")
                    );
                }
            }
            if let Some(why) = &system
                && rounds == 1
                && !found.is_empty()
            {
                ocf::warn!(
                    "{} is busy, but {why}: its holders are never signalled",
                    path.display()
                );
            }
            for h in &found {
                let seen = last_holders.iter().any(|o| o.pid == h.pid);
                if let Some(why) = &h.protected {
                    if !seen {
                        ocf::warn!(
                            "{h} holds {}, but it is {why}: never signalled",
                            path.display()
                        );
                    }
                    continue;
                }
                if system.is_some() {
                    if !seen {
                        ocf::warn!("{h} holds {}: not signalled", path.display());
                    }
                    continue;
                }
                for &s in signals {
                    ocf::info!(
                        "{} is busy: sending {} to {h}",
                        path.display(),
                        holders::signal_name(s)
                    );
                    holders::signal(h.pid, s);
                }
            }
            last_holders = found;
        } else if rounds == 1 {
            // Only to name them if the stop fails: nobody is signalled.
            last_holders = holders::scan(path, &guard);
            ocf::info!(
                "{} is busy; force_unmount=false, so only retrying",
                path.display()
            );
        }
        let wait = dl.cap(cfg.signal_delay.max(Duration::from_millis(100)));
        let done = wait.poll(Duration::from_millis(20), || {
            let force = network && Instant::now() >= term_until;
            match umount(path, force) {
                Ok(()) => Some(true),
                Err(e) if (e == libc::EINVAL || e == libc::ENOENT) && !still_mounted(m.id) => {
                    Some(true)
                }
                Err(_) => None,
            }
        });
        if done.is_some() {
            ocf::info!("unmounted {}", path.display());
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::Agent;

    fn ctx(vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "filesystem",
            "start",
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn configure(params: &[(&str, &str)], meta: &[(&str, &str)]) -> OcfResult<Config> {
        let mut vars: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
            .collect();
        vars.extend(
            meta.iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_{k}"), v.to_string())),
        );
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let c = ctx(&refs);
        let p = Params::parse(&PARAMS, &c.params)?;
        Filesystem::configure(&p, &c)
    }

    const BASE: [(&str, &str); 3] = [
        ("device", "/dev/loop7"),
        ("directory", "/mnt/x/"),
        ("fstype", "ext4"),
    ];

    #[test]
    fn tables_are_sane() {
        ocf::metadata::check_info(&INFO).unwrap();
        ocf::params::check_table(&PARAMS).unwrap();
    }

    #[test]
    fn device_forms() {
        assert_eq!(parse_device("/dev/sdb1"), Device::Path("/dev/sdb1".into()));
        assert_eq!(parse_device("UUID=ab-cd"), Device::Uuid("ab-cd".into()));
        assert_eq!(parse_device("-U ab-cd"), Device::Uuid("ab-cd".into()));
        assert_eq!(parse_device("--uuid=ab"), Device::Uuid("ab".into()));
        assert_eq!(
            parse_device("LABEL=data disk"),
            Device::Label("data disk".into())
        );
        assert_eq!(parse_device("-L data"), Device::Label("data".into()));
        assert_eq!(parse_device("--label=x"), Device::Label("x".into()));
        assert_eq!(
            parse_device("srv:/export"),
            Device::Source("srv:/export".into())
        );
        assert_eq!(
            parse_device("//srv/share"),
            Device::Source("//srv/share".into())
        );
    }

    #[test]
    fn good_configuration() {
        let c = configure(&BASE, &[]).unwrap();
        assert_eq!(c.directory, PathBuf::from("/mnt/x"));
        assert_eq!(c.term_signals, [libc::SIGTERM]);
        assert_eq!(c.kill_signals, [libc::SIGKILL]);
        assert_eq!(c.signal_delay, Duration::from_secs(1));
        assert!(c.force_unmount && !c.bind && !c.fast_stop);
        let b = configure(
            &[
                ("device", "/srv/data"),
                ("directory", "/mnt//b"),
                ("fstype", "none"),
                ("options", "bind,ro"),
                ("force_unmount", "safe"),
            ],
            &[],
        )
        .unwrap();
        assert!(b.bind && b.force_unmount);
        let spaced = configure(
            &[
                ("device", "/srv/my data"),
                ("directory", "/mnt/b"),
                ("fstype", "none"),
                ("options", "bind"),
            ],
            &[],
        );
        assert!(
            spaced.is_ok(),
            "a bind source may contain spaces: {spaced:?}"
        );
        assert_eq!(b.directory, PathBuf::from("/mnt/b"));
    }

    #[test]
    fn bad_input_is_err_configured() {
        let cases: &[(&str, &str)] = &[
            ("directory", "relative/dir"),
            ("directory", "/"),
            ("directory", "//"),
            ("directory", "/mnt/../etc"),
            ("device", " /dev/loop7"),
            ("device", "/dev/loop7 "),
            ("device", "/dev/my disk"),
            ("device", "UUID="),
            ("options", "rw\nro"),
            ("fstype", "ext4;rm"),
            ("run_fsck", "sometimes"),
            ("force_unmount", "maybe"),
            ("term_signals", "TERM NOPE"),
            ("signal_delay", "-1"),
            ("statusfile_prefix", "/abs"),
            ("statusfile_prefix", "../up"),
            ("statusfile_prefix", "a/./b/"),
            ("directory", "/var/log"),
            ("directory", "/usr/"),
            ("directory", "/var/lib/pacemaker/cib"),
            ("directory", "/proc/sys"),
            ("directory", "/run/x"),
            ("directory", "/tmp"),
            ("directory", "/etc"),
        ];
        for (k, v) in cases {
            let mut params: Vec<(&str, &str)> =
                BASE.iter().copied().filter(|(n, _)| n != k).collect();
            params.push((k, v));
            let e = configure(&params, &[]).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{k}={v:?}: {e}");
            assert!(e.reason.contains(k), "{k}: {}", e.reason);
        }
        let bind_uuid = configure(
            &[
                ("device", "UUID=x"),
                ("directory", "/mnt/b"),
                ("fstype", "none"),
                ("options", "bind"),
            ],
            &[],
        );
        assert_eq!(bind_uuid.unwrap_err().status, Status::ErrConfigured);
    }

    #[test]
    fn a_tag_is_never_a_path() {
        let disk = std::env::temp_dir().join(format!("fsa-disk-{}", std::process::id()));
        fs::create_dir_all(disk.join("by-label")).unwrap();
        fs::create_dir_all(disk.join("by-uuid")).unwrap();
        let mut got = Vec::new();
        for l in ["../../../etc/passwd", "a/../../../etc/passwd", "..", "."] {
            got.push(tag_link_in(&disk, &Device::Label(l.into())));
            got.push(tag_link_in(&disk, &Device::Uuid(l.into())));
        }
        std::os::unix::fs::symlink("/dev/null", disk.join("by-label/data")).unwrap();
        let real = tag_link_in(&disk, &Device::Label("data".into()));
        let _ = fs::remove_dir_all(&disk);
        assert!(got.iter().all(Option::is_none), "{got:?}");
        assert_eq!(real, Some(PathBuf::from("/dev/null")));
    }

    #[test]
    fn system_directories() {
        for ok in [
            "/srv/data",
            "/var/lib/pgsql",
            "/var/log/app",
            "/mnt",
            "/srv",
            "/home",
            "/opt/app",
            "/usr/local/app",
            "/var/libx",
            "/tmpdata",
        ] {
            assert_eq!(system_directory(Path::new(ok)), None, "{ok}");
        }
        for bad in [
            "/",
            "/var",
            "/var/lib",
            "/usr/lib/x",
            "/etc/corosync",
            "/dev/shm",
            "/sys",
        ] {
            assert!(system_directory(Path::new(bad)).is_some(), "{bad}");
        }
    }

    /// The mount point is reached only through what root controls.
    #[test]
    fn mount_points_behind_links_of_others() {
        use std::os::unix::fs::{PermissionsExt, lchown, symlink};
        let base = PathBuf::from(format!("/var/tmp/fsa-trust-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("real/sub")).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        symlink(base.join("real"), base.join("roots")).unwrap();
        symlink(base.join("real"), base.join("theirs")).unwrap();
        lchown(base.join("theirs"), Some(65534), None).unwrap();
        fs::create_dir(base.join("open")).unwrap();
        fs::set_permissions(base.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::create_dir(base.join("sticky")).unwrap();
        fs::set_permissions(base.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::create_dir(base.join("sticky/users")).unwrap();
        std::os::unix::fs::chown(base.join("sticky/users"), Some(65534), None).unwrap();
        fs::create_dir(base.join("sticky/roots")).unwrap();
        let t = |p: &str| trusted_mount_point(&base.join(p));
        let r = t("roots/sub/new/deeper");
        let got = (
            r.clone(),
            t("theirs/sub"),
            t("open/x"),
            t("sticky/users"),
            t("sticky/roots/x"),
            t("sticky/missing"),
            t("roots/../real/sub"),
        );
        let _ = fs::remove_dir_all(&base);
        assert_eq!(got.0.unwrap(), base.join("real/sub/new/deeper"));
        assert!(got.1.unwrap_err().contains("symlink of uid 65534"));
        assert!(got.2.unwrap_err().contains("without the sticky bit"));
        assert!(got.3.unwrap_err().contains("uid 65534"));
        assert_eq!(got.4.unwrap(), base.join("sticky/roots/x"));
        assert_eq!(got.5.unwrap(), base.join("sticky/missing"));
        assert_eq!(got.6.unwrap(), base.join("real/sub"));
    }

    /// A CIFS password leaves the option list for PASSWD; a doubled comma is
    /// one comma of it; nothing else changes, and other types are untouched.
    #[test]
    fn a_cifs_password_moves_to_the_environment() {
        let s = |t: &str, o: &str| split_cifs_password(t, o);
        assert_eq!(
            s("cifs", "username=bob,password=s3cr:t,vers=3.0"),
            ("username=bob,vers=3.0".into(), Some("s3cr:t".into()))
        );
        assert_eq!(
            s("smb3", "PASS=a,,b,,,ro"),
            ("ro".into(), Some("a,b,".into()))
        );
        assert_eq!(s("cifs", "password=x"), (String::new(), Some("x".into())));
        assert_eq!(
            s("cifs", "credentials=/root/.smb,uid=0"),
            ("credentials=/root/.smb,uid=0".into(), None)
        );
        assert_eq!(s("cifs", "password=,ro"), ("password=,ro".into(), None));
        assert_eq!(s("cifs", "passwordx=1"), ("passwordx=1".into(), None));
        assert_eq!(
            s("cifs", "pässword=1,pass=é"),
            ("pässword=1".into(), Some("é".into()))
        );
        assert_eq!(
            s("ext4", "password=x,ro"),
            ("password=x,ro".into(), None),
            "only mount.cifs reads PASSWD"
        );
        assert_eq!(s("cifs", ""), (String::new(), None));
        assert_eq!(s("cifs", ",,ro,"), ("ro".into(), None));
    }

    /// A refused `options` value is not echoed, and Config's Debug masks it.
    #[test]
    fn options_never_show_a_password() {
        let mut p = BASE.to_vec();
        p.push(("options", "password=hunter2 "));
        let e = configure(&p, &[]).unwrap_err();
        assert!(!e.reason.contains("hunter2"), "{}", e.reason);
        let mut p = BASE.to_vec();
        p.push(("options", "ro,password=hunter2"));
        let c = configure(&p, &[]).unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("ro,password=***"),
            "{dbg}"
        );
    }

    #[test]
    fn clones_of_local_filesystems_need_force_clones() {
        let e = configure(&BASE, &[("clone_max", "2")]).unwrap_err();
        assert_eq!(e.status, Status::ErrConfigured);
        assert!(e.reason.contains("not cluster-aware"), "{}", e.reason);
        let mut forced = BASE.to_vec();
        forced.push(("force_clones", "true"));
        assert!(configure(&forced, &[("clone_max", "2")]).is_ok());
        assert!(
            configure(
                &[
                    ("device", "srv:/e"),
                    ("directory", "/mnt/n"),
                    ("fstype", "nfs4")
                ],
                &[("clone_max", "2")]
            )
            .is_ok()
        );
    }

    #[test]
    fn fsck_policy() {
        let mut c = configure(&BASE, &[]).unwrap();
        assert!(!fsck_wanted(&c), "ext4 has a journal");
        c.fstype = "ext2".into();
        assert!(fsck_wanted(&c));
        c.run_fsck = "no".into();
        assert!(!fsck_wanted(&c));
        c.fstype = "xfs".into();
        c.run_fsck = "force".into();
        assert!(fsck_wanted(&c));
    }

    #[test]
    fn status_file_name_follows_the_anchor() {
        let c = configure(&BASE, &[]).unwrap();
        let cx = Context::from_vars(
            "filesystem",
            "monitor",
            [
                ("OCF_RESOURCE_INSTANCE", "fs1"),
                ("OCF_RESKEY_CRM_meta_on_node", "n1"),
                ("OCF_RESKEY_CRM_meta_clone", "2"),
            ],
        );
        let st = status_file(&c, &cx);
        assert_eq!(st.dirs, [".Filesystem_status"]);
        assert_eq!(
            st.path(Path::new("/mnt/x")),
            PathBuf::from("/mnt/x/.Filesystem_status/fs1_2_n1")
        );
        let mut nested = c.clone();
        nested.statusfile_prefix = "a//b/st-".into();
        let cx = Context::from_vars(
            "filesystem",
            "monitor",
            [
                ("OCF_RESOURCE_INSTANCE", "grp/fs1"),
                ("OCF_RESKEY_CRM_meta_on_node", "n1"),
            ],
        );
        let st = status_file(&nested, &cx);
        assert_eq!(st.dirs, ["a", "b"]);
        assert_eq!(st.name, "st-grp_fs1_n1");
        nested.statusfile_prefix = "st-".into();
        assert!(status_file(&nested, &cx).dirs.is_empty());
    }

    /// A CIFS share configured as `\\SRV\Share` is the one the kernel lists
    /// as `//srv/share`; an NFS export with a trailing slash is the one
    /// listed without; another share on the directory is not ours.
    #[test]
    fn network_sources_match_as_the_kernel_lists_them() {
        let t = mountinfo::parse(
            b"1 0 8:1 / / rw - ext4 /dev/vda rw\n\
             40 1 0:60 / /mnt/c rw - cifs //srv/share rw\n\
             41 1 0:61 / /mnt/n rw - nfs4 srv:/export/a rw\n\
             42 1 0:62 / /mnt/o rw - cifs //srv/other rw\n",
        );
        let dl = Deadline::after(Duration::from_secs(5));
        let at = |dev: &str, dir: &str, fstype: &str| -> Vec<u32> {
            let mut p = vec![("device", dev), ("directory", dir), ("fstype", fstype)];
            p.retain(|(_, v)| !v.is_empty());
            let c = configure(&p, &[]).unwrap();
            by_config(&c, None, &t, Path::new(dir), &dl)
                .iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(at("\\\\SRV\\Share", "/mnt/c", "cifs"), [40]);
        assert_eq!(at("srv:/export//a/", "/mnt/n", "nfs4"), [41]);
        assert!(at("\\\\srv\\share", "/mnt/o", "cifs").is_empty());
    }

    /// btrfs lists an anonymous `0:NN` device: the mount is on our block
    /// device when the node the table names as its source is.
    #[test]
    fn an_anonymous_entry_matches_through_its_source_node() {
        let node = fs::read_dir("/dev")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| rdev_of(p).is_some())
            .expect("a block device node in /dev");
        let d = rdev_of(&node).unwrap();
        let line = format!("50 1 0:77 / /mnt/b rw - btrfs {} rw\n", node.display());
        let m = &mountinfo::parse(line.as_bytes())[0];
        assert!(on_device(m, d));
        assert!(!on_device(m, (d.0, d.1 + 1)));
        let not_anon = format!("50 1 9:9 / /mnt/b rw - btrfs {} rw\n", node.display());
        assert!(!on_device(&mountinfo::parse(not_anon.as_bytes())[0], d));
    }

    #[test]
    fn bind_origin_from_the_table() {
        let t = mountinfo::parse(
            b"1 0 8:1 / / rw - ext4 /dev/vda rw\n\
             2 1 7:1 / /srv rw - xfs /dev/loop1 rw\n\
             3 1 7:1 /data /mnt/b rw - xfs /dev/loop1 rw\n",
        );
        let (dev, root) = bind_origin(
            &t,
            Path::new("/srv/nonexistent-fsa/data"),
            Path::new("/mnt/b"),
        )
        .unwrap();
        assert_eq!(dev, (7, 1));
        assert_eq!(root, PathBuf::from("/nonexistent-fsa/data"));
    }
}
