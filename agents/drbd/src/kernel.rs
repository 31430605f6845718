//! What this node's kernel and configuration say: the DRBD module and its
//! version (from /proc/drbd without a fork), loading it, the resource's
//! devices in drbd.conf, and the minors /sys/block lists.

use std::path::PathBuf;
use std::time::Duration;

use ocf::exec::Cmd;
use ocf::{Deadline, OcfError, OcfResult};

use crate::config::{Config, READ_CAP};
use crate::state;
use crate::tools::{adm, run_tool};

/// Environment variable (a test hook, documented in docs/agents/drbd.md):
/// read the module version from this file instead of /proc/drbd.
pub const PROC_DRBD_HOOK: &str = "OCF_RS_DRBD_PROC";

fn proc_drbd_path() -> PathBuf {
    std::env::var_os(PROC_DRBD_HOOK)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/drbd"))
}

/// Environment variable (a test hook, documented in docs/agents/drbd.md):
/// the directory that stands for /sys/block (one `drbd<minor>` entry per
/// minor the kernel has), for the SIMULATOR.
pub const SYS_BLOCK_HOOK: &str = "OCF_RS_DRBD_SYS_BLOCK";

pub fn sys_block_path() -> PathBuf {
    std::env::var_os(SYS_BLOCK_HOOK)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys/block"))
}

/// The loaded module's version code, `None` when it is not loaded. Read from
/// /proc/drbd (or /sys/module/drbd/version) without a fork; only when
/// neither exists, `drbdadm --version` decides (it knows other ways).
pub fn module_version(cfg: &Config, dl: &Deadline) -> Option<u32> {
    module_version_with(Some(&cfg.drbdadm), dl)
}

/// [`module_version`] with the drbdadm to ask, if any. The kernel module
/// cannot be unloaded while a resource exists (rmmod: in use), so "not
/// loaded" means that no DRBD resource runs on this node.
pub fn module_version_with(drbdadm: Option<&str>, dl: &Deadline) -> Option<u32> {
    if let Ok(text) = std::fs::read_to_string(proc_drbd_path())
        && let Some(v) = state::version_from_proc(&text)
    {
        return Some(v);
    }
    if let Ok(v) = std::fs::read_to_string("/sys/module/drbd/version")
        && let Some(code) = state::version_code(v.trim())
    {
        return Some(code);
    }
    let out = run_tool(Cmd::new(drbdadm?).arg("--version"), &dl.cap(READ_CAP));
    match out {
        Ok(o) => state::version_from_drbdadm(&o.stdout_str()),
        Err(e) => {
            ocf::debug!("drbdadm --version: {e}");
            None
        }
    }
}

/// Load the module on start if needed (linbit: `modprobe -s drbd`).
pub fn ensure_module(cfg: &Config, dl: &Deadline) -> OcfResult<u32> {
    if let Some(v) = module_version(cfg, dl) {
        return Ok(v);
    }
    let parms = adm(cfg, &["sh-mod-parms"], dl)
        .map(|o| o.stdout_str())
        .unwrap_or_default();
    let mut cmd = Cmd::new("modprobe").args(["-s", "drbd"]);
    for p in module_parameters(&parms) {
        cmd = cmd.arg(p);
    }
    run_tool(cmd, dl)
        .map_err(|e| OcfError::installed(format!("cannot load the drbd module: {e}")))?;
    module_version(cfg, dl).ok_or_else(|| {
        OcfError::installed("the drbd module does not report a version after modprobe")
    })
}

/// The `name=value` words of `drbdadm sh-mod-parms` (`usermode_helper=...`)
/// that modprobe may get after the module name. Anything else, a word
/// beginning with `-` above all (modprobe reads options after the module
/// name too), is left out with a warning.
pub fn module_parameters(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|w| {
            let ok = is_module_parameter(w);
            if !ok {
                ocf::warn!("drbdadm sh-mod-parms: ignoring {w:?}, not a module parameter");
            }
            ok
        })
        .collect()
}

/// `name=value` with a parameter name of `[A-Za-z0-9_.]` (never `-x`).
pub fn is_module_parameter(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    })
}

pub fn check_version_bounds(cfg: &Config, v: u32) -> OcfResult<()> {
    let show = |c: u32| format!("{}.{}.{}", c >> 16, (c >> 8) & 0xff, c & 0xff);
    if v < cfg.version_ge || v >= cfg.version_lt {
        return Err(OcfError::installed(format!(
            "DRBD kernel module {} is outside the required range [{}, {})",
            show(v),
            show(cfg.version_ge),
            show(cfg.version_lt)
        )));
    }
    Ok(())
}

/// Is the resource defined for this host? (`drbdadm sh-dev`; node-local: 5.)
/// Its device paths (one per volume) on success.
pub fn resource_in_config(cfg: &Config, dl: &Deadline) -> OcfResult<Vec<PathBuf>> {
    adm(cfg, &["sh-dev", &cfg.resource], dl)
        .map(|o| {
            o.stdout_str()
                .split_whitespace()
                .filter(|w| w.starts_with('/'))
                .map(PathBuf::from)
                .collect()
        })
        .map_err(|e| {
            OcfError::installed(format!(
                "DRBD resource {} is not defined for this node in {}: {e}",
                cfg.resource, cfg.drbdconf
            ))
        })
}

/// Wait (bounded) until udev has created every device node, so resources
/// ordered after this one (a Filesystem on /dev/drbd0) find it.
pub fn wait_for_devices(devices: &[PathBuf], dl: &Deadline) -> OcfResult<()> {
    use std::os::unix::fs::FileTypeExt;
    let is_block =
        |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device());
    let missing = || devices.iter().find(|p| !is_block(p));
    if dl
        .poll(Duration::from_millis(100), || {
            missing().is_none().then_some(())
        })
        .is_some()
    {
        return Ok(());
    }
    Err(OcfError::generic(format!(
        "device {} did not appear (udev) before the start timeout",
        missing()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{RES, configure};
    use ocf::Status;

    #[test]
    fn version_bounds() {
        let cfg =
            configure(&[RES, ("OCF_RESKEY_require_drbd_module_version_ge", "9.0.0")]).unwrap();
        assert!(check_version_bounds(&cfg, 0x090208).is_ok());
        let e = check_version_bounds(&cfg, 0x08040b).unwrap_err();
        assert_eq!(e.status, Status::ErrInstalled);
        assert!(e.reason.contains("8.4.11"), "{}", e.reason);
        assert!(check_version_bounds(&cfg, 0x0a0000).is_err());
    }
}
