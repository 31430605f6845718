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
pub mod mountinfo;

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
    "The absolute path to mount on. It is created if missing. '/' is refused.",
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
    "Options passed to mount -o, e.g. 'noatime,nodiratime' or 'bind,ro'.",
)
.check(check_options);

pub static STATUSFILE_PREFIX: ParamSpec = ParamSpec::new(
    "statusfile_prefix",
    "status file prefix",
    "Where monitor depth 20 writes its status file, relative to the mount point: \
     <directory>/<prefix><instance>[_<clone>]_<node>. A prefix ending in / is a \
     directory, created when needed.",
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
    Ok(())
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

fn check_statusfile_prefix(v: &str) -> Result<(), String> {
    if v.starts_with('/') {
        return Err("must be relative to the mount point".into());
    }
    if v.split('/').any(|c| c == "..") {
        return Err("must not contain '..'".into());
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

#[derive(Clone, Debug)]
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
        let dir = mount_dir(cfg, &mounts);
        if let Some(m) = find_ours(cfg, ctx, &mounts, &dir, dl) {
            ocf::info!(
                "{} is already mounted on {} ({})",
                cfg.device_text,
                dir.display(),
                m.source
            );
            return Ok(());
        }
        if let Some(other) = mountinfo::at(&mounts, &dir).last() {
            return Err(OcfError::generic(format!(
                "{} already has {} ({}) mounted on it; refusing to mount {} on top",
                dir.display(),
                other.source,
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
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| {
                OcfError::installed(format!(
                    "cannot create the mount point {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut cmd = Cmd::new(&mount_bin);
        if !cfg.fstype.is_empty() {
            cmd = cmd.args(["-t", cfg.fstype.as_str()]);
        }
        if !cfg.options.is_empty() {
            cmd = cmd.args(["-o", cfg.options.as_str()]);
        }
        // A tag is mounted as the device it resolved to, so fsck, mount
        // and the monitor all mean the same device.
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
        if let Some(dev) = &resolved {
            remember_device(ctx, dev);
        }
        let mounts = read_mounts()?;
        let ours = find_ours(cfg, ctx, &mounts, &dir, dl).is_some();
        match out {
            Ok(o) if o.success() && ours => {
                ocf::info!("{} mounted on {}", cfg.device_text, dir.display());
                Ok(())
            }
            Ok(o) if o.success() => Err(OcfError::generic(format!(
                "mount said it mounted {} on {}, but the mount table does not show it there",
                cfg.device_text,
                dir.display()
            ))),
            Ok(o) => Err(OcfError::generic(format!(
                "cannot mount {} on {}: {}",
                cfg.device_text,
                dir.display(),
                o.describe()
            ))),
            Err(e) if ours => {
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

    fn stop(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<()> {
        let dl = if cfg.fast_stop {
            dl.cap(Duration::from_secs(6))
        } else {
            *dl
        };
        let mounts = read_mounts()?;
        let dir = mount_dir(cfg, &mounts);
        let Some(ours) = find_ours(cfg, ctx, &mounts, &dir, &dl).cloned() else {
            if let Some(other) = mountinfo::at(&mounts, &dir).last() {
                ocf::info!(
                    "{} is not mounted on {} ({} is, and is left alone)",
                    cfg.device_text,
                    dir.display(),
                    other.source
                );
            } else {
                ocf::info!("{} is not mounted on {}", cfg.device_text, dir.display());
            }
            return Ok(());
        };
        // The status file of depth 20 goes first; a failure is only a warning.
        let (_, sfile) = status_paths(cfg, ctx, &dir);
        if let Err(e) = bounded_io::remove(&sfile, &dl.cap(Duration::from_secs(2))) {
            ocf::warn!("cannot remove the status file {}: {e}", sfile.display());
        }
        let mut targets: Vec<Mount> = mountinfo::descendants(&mounts, ours.id)
            .into_iter()
            .cloned()
            .collect();
        // Other mounts of the same filesystem (binds of its subdirectories
        // elsewhere) keep the device in use after ours is gone.
        // Never one at or above our directory: that would be unmounting
        // (and signalling the holders of) a parent.
        if cfg.is_block_kind() && ours.major != 0 {
            for m in mounts.iter().rev() {
                if m.id != ours.id
                    && (m.major, m.minor) == (ours.major, ours.minor)
                    && !targets.iter().any(|t| t.id == m.id)
                    && !mountinfo::is_within(&dir, &m.mount_point)
                {
                    ocf::info!(
                        "{} is also mounted on {}; unmounting that too",
                        cfg.device_text,
                        m.mount_point.display()
                    );
                    for d in mountinfo::descendants(&mounts, m.id) {
                        if !targets.iter().any(|t| t.id == d.id) {
                            targets.push(d.clone());
                        }
                    }
                    targets.push(m.clone());
                }
            }
        }
        targets.push(ours.clone());
        targets.retain(|t| t.mount_point != Path::new("/"));
        let started = Instant::now();
        let term_until = started + dl.remaining() / 2;
        for t in &targets {
            unmount_one(cfg, t, &dl, term_until)?;
        }
        let after = read_mounts()?;
        if after.iter().any(|m| m.id == ours.id) {
            return Err(OcfError::generic(format!(
                "{} is still mounted on {}",
                cfg.device_text,
                dir.display()
            )));
        }
        ocf::info!(
            "{} unmounted from {} in {:.2}s",
            cfg.device_text,
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Stop with parameters that do not validate: 0 only when nothing is
    /// mounted, because a filesystem left mounted here while Pacemaker
    /// believes it stopped can be mounted on a second node. With a usable
    /// device and directory, the stop runs with defaults for the rest.
    fn stop_unconfigured(
        cfg: Option<&Config>,
        _rec: Option<&ocf::Record>,
        ctx: &Context,
        why: &OcfError,
        dl: &Deadline,
    ) -> OcfResult<()> {
        if let Some(cfg) = cfg {
            return Self::stop(cfg, ctx, dl);
        }
        let Some(cfg) = lenient_config(ctx) else {
            ocf::info!(
                "stop: {}; no usable directory, so nothing of ours can be mounted",
                why.reason
            );
            return Ok(());
        };
        ocf::warn!(
            "stop: {}; unmounting {} from {} with default settings if it is mounted",
            why.reason,
            cfg.device_text,
            cfg.directory.display()
        );
        Self::stop(&cfg, ctx, dl)
    }

    // PLACEHOLDER(issue 13): the old driver rule; must become truthful.
    fn probe_unconfigured(
        _cfg: Option<&Config>,
        _rec: Option<&ocf::Record>,
        _ctx: &Context,
        _why: &OcfError,
        _dl: &Deadline,
    ) -> OcfResult<Status> {
        Ok(Status::NotRunning)
    }

    fn monitor(cfg: &Config, ctx: &Context, dl: &Deadline) -> OcfResult<Status> {
        let mounts = read_mounts()?;
        let dir = mount_dir(cfg, &mounts);
        let Some(ours) = find_ours(cfg, ctx, &mounts, &dir, dl) else {
            if let Some(other) = mountinfo::at(&mounts, &dir).last() {
                ocf::warn!(
                    "{} is not mounted on {}; {} ({}) is",
                    cfg.device_text,
                    dir.display(),
                    other.source,
                    other.fstype
                );
            }
            return Err(OcfError::not_running(format!(
                "{} is not mounted on {}",
                cfg.device_text,
                dir.display()
            )));
        };
        let level = ctx.effective_check_level(&[0, 10, 20]);
        if level >= 10 && cfg.is_block_kind() {
            ocf::deadline::set_phase("reading the device (depth 10)");
            let dev = match &cfg.device {
                Device::Path(p) => p.clone(),
                _ => PathBuf::from(&ours.source),
            };
            if is_block(&dev) {
                bounded_io::read_device(&dev, dl).map_err(|e| {
                    OcfError::generic(format!("cannot read {} with O_DIRECT: {e}", dev.display()))
                })?;
            }
        }
        if level >= 20 {
            ocf::deadline::set_phase("status file (depth 20)");
            let (sdir, sfile) = status_paths(cfg, ctx, &dir);
            bounded_io::write_read_status(
                &sdir,
                &sfile,
                format!("{}\n", ctx.instance).as_bytes(),
                dl,
            )
            .map_err(|e| {
                OcfError::generic(format!(
                    "status file {} on {}: {e}",
                    sfile.display(),
                    dir.display()
                ))
            })?;
        }
        Ok(Status::Success)
    }
}

// ---------------------------------------------------------------- helpers

/// The configuration a stop can still act on when validation failed: the
/// raw device and directory (trimmed), defaults for everything else.
/// `None` when the directory cannot name a mount of ours.
fn lenient_config(ctx: &Context) -> Option<Config> {
    let raw = |name: &str| ctx.params.get(name).map(|v| v.trim().to_string());
    let directory = raw("directory").filter(|d| d.starts_with('/'))?;
    let directory = normalize(Path::new(&directory));
    let device_text = raw("device").filter(|d| !d.is_empty())?;
    if directory == Path::new("/") {
        return None;
    }
    let options = raw("options").unwrap_or_default();
    let bind = options.split(',').any(|o| o == "bind" || o == "rbind");
    let device = parse_device(&device_text);
    if bind && !matches!(device, Device::Path(_)) {
        return None;
    }
    Some(Config {
        device,
        device_text,
        directory,
        fstype: raw("fstype").unwrap_or_default(),
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
/// sysfs: the table lists /dev/loopN, the configuration names the file.
fn loop_backing_file(source: &str) -> Option<PathBuf> {
    let name = source.strip_prefix("/dev/")?;
    if !name.starts_with("loop") || name.contains('/') {
        return None;
    }
    let text = fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    Some(PathBuf::from(text.trim_end_matches('\n')))
}

fn rdev_of(p: &Path) -> Option<(u32, u32)> {
    let m = fs::metadata(p).ok()?;
    if !m.file_type().is_block_device() {
        return None;
    }
    let r = m.rdev();
    Some((libc::major(r), libc::minor(r)))
}

/// Our mount on `dir`, if one of the mounts stacked there is our device.
fn find_ours<'a>(
    cfg: &Config,
    ctx: &Context,
    mounts: &'a [Mount],
    dir: &Path,
    dl: &Deadline,
) -> Option<&'a Mount> {
    let here = mountinfo::at(mounts, dir);
    if here.is_empty() {
        return None;
    }
    match &cfg.device {
        _ if cfg.bind => {
            let Device::Path(src) = &cfg.device else {
                return None;
            };
            let (dev, root) = bind_origin(mounts, src, dir)?;
            here.into_iter()
                .rev()
                .find(|m| (m.major, m.minor) == dev && m.root == root)
        }
        Device::Path(p) => {
            let want = rdev_of(p);
            here.into_iter().rev().find(|m| {
                want.is_some_and(|d| d == (m.major, m.minor))
                    || Path::new(&m.source) == p.as_path()
                    || (want.is_none()
                        && loop_backing_file(&m.source)
                            .is_some_and(|f| f == *p || fs::canonicalize(p).is_ok_and(|c| c == f)))
            })
        }
        Device::Uuid(_) | Device::Label(_) => {
            // No fork on the hot path: /dev/disk/by-*, then what start
            // recorded, and only then blkid.
            let by_link = tag_link(&cfg.device).and_then(|p| rdev_of(&p));
            let remembered = remembered_device(ctx).and_then(|p| rdev_of(&p));
            let matches = |d: Option<(u32, u32)>| {
                d.and_then(|d| here.iter().rev().find(|m| (m.major, m.minor) == d).copied())
            };
            matches(by_link)
                .or_else(|| matches(remembered))
                .or_else(|| matches(blkid_lookup(&cfg.device, dl).and_then(|p| rdev_of(&p))))
        }
        Device::Source(s) => {
            let trim = |x: &str| x.trim_end_matches('/').to_string();
            here.into_iter().rev().find(|m| trim(&m.source) == trim(s))
        }
    }
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
    let (kind, v) = match d {
        Device::Uuid(u) => ("by-uuid", u),
        Device::Label(l) => ("by-label", l),
        _ => return None,
    };
    let p = Path::new("/dev/disk").join(kind).join(v);
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

/// The state file recording what UUID=/LABEL= resolved to at start, so the
/// monitor need not fork blkid.
fn device_memo(ctx: &Context) -> PathBuf {
    let safe: String = ctx
        .instance
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    ctx.rsc_tmp.join(format!("filesystem-{safe}.device"))
}

fn remember_device(ctx: &Context, dev: &Path) {
    let memo = device_memo(ctx);
    let _ = fs::create_dir_all(&ctx.rsc_tmp);
    if let Err(e) = fs::write(&memo, dev.as_os_str().as_bytes()) {
        ocf::debug!("cannot write {}: {e}", memo.display());
    }
}

fn remembered_device(ctx: &Context) -> Option<PathBuf> {
    let s = fs::read_to_string(device_memo(ctx)).ok()?;
    let s = s.trim();
    s.starts_with('/').then(|| PathBuf::from(s))
}

/// The block device to fsck and remember: the path itself, or what the
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

/// The depth-20 status file: `<dir>/<prefix><instance>[_<clone>]_<node>`,
/// and the directory it lives in.
fn status_paths(cfg: &Config, ctx: &Context, dir: &Path) -> (PathBuf, PathBuf) {
    let mut name = format!("{}{}", cfg.statusfile_prefix, ctx.instance);
    if let Some(c) = ctx.meta.get("clone").filter(|c| !c.is_empty()) {
        name.push('_');
        name.push_str(c);
    }
    name.push('_');
    name.push_str(&node_name(ctx));
    let file = dir.join(name);
    let sdir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.to_path_buf());
    (sdir, file)
}

fn node_name(ctx: &Context) -> String {
    if let Some(n) = ctx.on_node() {
        return n.to_string();
    }
    // SAFETY: uname fills a zeroed struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "localhost".into();
    }
    let bytes: Vec<u8> = u
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
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
/// for `signal_delay`, until the shared deadline.
fn unmount_one(cfg: &Config, m: &Mount, dl: &Deadline, term_until: Instant) -> OcfResult<()> {
    let path = &m.mount_point;
    ocf::deadline::set_phase(&format!("unmounting {}", path.display()));
    let network = cfg.is_network() || NETWORK.contains(&m.fstype.as_str());
    let protected = holders::protected_pids();
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
            if last_holders.is_empty() {
                last_holders = holders::scan(path);
            }
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
                        .map(|h| h.to_string())
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
            let found = holders::scan(path);
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
            for h in &found {
                if protected.contains(&h.pid) {
                    ocf::warn!(
                        "{h} holds {}, but it is ours or an ancestor: not signalled",
                        path.display()
                    );
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
        let (d, f) = status_paths(&c, &cx, Path::new("/mnt/x"));
        assert_eq!(d, PathBuf::from("/mnt/x/.Filesystem_status"));
        assert_eq!(f, PathBuf::from("/mnt/x/.Filesystem_status/fs1_2_n1"));
    }

    #[test]
    fn bind_origin_from_the_table() {
        let t = mountinfo::parse(
            "1 0 8:1 / / rw - ext4 /dev/vda rw\n\
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
