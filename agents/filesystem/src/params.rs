//! The parameter table of `ocf:rust:filesystem` and the checks of each
//! value (syntax only: nothing here looks at the node).

use std::path::{Component, Path};

use ocf::ParamSpec;
use ocf::params::parse_bool;

use crate::config::{Device, normalize, parse_device};
use crate::signals;

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
     are refused ('/', /usr, /var, /var/lib, /var/log, /etc, /tmp, /root, /run, and \
     anything in /proc, /sys, /dev, /boot, the runtime directories of systemd, udev, \
     D-Bus, the users' sessions and locks, the program and library directories, or the \
     cluster stack's own), and so is a path through a symlink that is not root's.",
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
    // /run itself is refused below (SYSTEM_DIRS); in it, what the system and
    // the cluster stack run from. Elsewhere in /run is where removable media
    // (/run/media) and IPaddr2's ocft case file mount.
    "/run/systemd",
    "/run/udev",
    "/run/dbus",
    "/run/user",
    "/run/lock",
    "/run/pacemaker",
    "/run/corosync",
    "/run/crm",
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
    "/var/run/systemd",
    "/var/run/udev",
    "/var/run/dbus",
    "/var/run/user",
    "/var/run/lock",
    "/var/run/pacemaker",
    "/var/run/corosync",
    "/var/run/crm",
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
    "/run",
    "/var/run",
    "/run/resource-agents",
    "/var/run/resource-agents",
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

pub fn force_unmount(v: &str) -> Option<bool> {
    if v.trim().eq_ignore_ascii_case("safe") {
        return Some(true);
    }
    parse_bool(v)
}

fn check_signals(v: &str) -> Result<(), String> {
    signals::parse_signals(v).map(|_| ())
}

pub fn check_delay(v: &str) -> Result<(), String> {
    match v.trim().parse::<f64>() {
        Ok(s) if (0.0..=60.0).contains(&s) => Ok(()),
        _ => Err("must be a number of seconds from 0 to 60".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // what Filesystem's own ocft case file mounts on, and udisks' media
            "/run/resource-agents/ocft-Filesystem-mnt",
            "/var/run/resource-agents/ocft-Filesystem-mnt",
            "/run/media/user/usb",
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
            "/run",
            "/var/run",
            "/run/resource-agents",
            "/run/systemd/x",
            "/var/run/lock/x",
            "/run/pacemaker",
            "/run/user/0/x",
        ] {
            assert!(system_directory(Path::new(bad)).is_some(), "{bad}");
        }
    }
}
