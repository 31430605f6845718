//! Running drbdadm and drbdsetup: bounded, by argv, with DRBD's exit code
//! kept; and the kernel's state of a resource as drbdsetup shows it.

use std::time::Duration;

use ocf::exec::{self, Cmd, ExecError, Output};
use ocf::{Deadline, OcfError, OcfResult};

use crate::config::{CALL_CAP, Config, READ_CAP};
use crate::state::{self, ResourceState};

/// Why a drbdadm/drbdsetup call failed, with DRBD's exit code when it ran.
#[derive(Debug)]
pub struct ToolError {
    pub code: Option<i32>,
    pub message: String,
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub fn run_tool(cmd: Cmd, dl: &Deadline) -> Result<Output, ToolError> {
    let shown = cmd.to_string();
    match exec::run(&cmd, &dl.cap(CALL_CAP)) {
        Ok(out) if out.success() => Ok(out),
        Ok(out) => Err(ToolError {
            code: out.code,
            message: format!("{shown}: {}", out.describe()),
        }),
        Err(ExecError::Timeout { elapsed, .. }) if elapsed < Duration::from_millis(10) => {
            Err(ToolError {
                code: None,
                message: format!("{shown}: not run, the action's time is used up"),
            })
        }
        Err(e @ ExecError::Timeout { .. }) => Err(ToolError {
            code: None,
            message: format!("{e} (a hung DRBD tool)"),
        }),
        Err(e) => Err(ToolError {
            code: None,
            message: e.to_string(),
        }),
    }
}

/// Can drbd.conf be read? Opened without blocking (a FIFO put in its place
/// would hold the action until its timeout, a stop until fencing) and
/// checked to be a regular file (a link to one is fine: drbdadm follows it).
pub fn readable_file(path: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file())
}

/// `drbdadm -c <drbdconf> <args>`, bounded.
pub fn adm(cfg: &Config, args: &[&str], dl: &Deadline) -> Result<Output, ToolError> {
    run_tool(
        Cmd::new(&cfg.drbdadm)
            .args(["-c", cfg.drbdconf.as_str()])
            .args(args),
        dl,
    )
}

/// `drbdsetup <args>`, bounded.
pub fn setup(cfg: &Config, args: &[&str], dl: &Deadline) -> Result<Output, ToolError> {
    run_tool(Cmd::new(&cfg.drbdsetup).args(args), dl)
}

pub fn read_state(cfg: &Config, v9: bool, dl: &Deadline) -> OcfResult<ResourceState> {
    read_state_with(&cfg.drbdsetup, &cfg.resource, v9, dl)
        .map_err(|e| OcfError::generic(format!("cannot read the state of {}: {e}", cfg.resource)))
}

/// The kernel's state of resource `name`, through the drbdsetup `setup`,
/// bounded by `dl` (and [`READ_CAP`]).
pub fn read_state_with(
    setup: &str,
    name: &str,
    v9: bool,
    dl: &Deadline,
) -> Result<ResourceState, ToolError> {
    let dl = dl.cap(READ_CAP);
    let args: &[&str] = if v9 {
        &["events2", "--now", name]
    } else {
        &["sh-status", name]
    };
    match run_tool(Cmd::new(setup).args(args), &dl) {
        Ok(out) => {
            let text = out.stdout_str();
            Ok(if v9 {
                state::parse_events2(&text, name)
            } else {
                state::parse_sh_status(&text)
            })
        }
        // 10: "No such resource" (also 8.4's sh-status on a down resource).
        Err(e) if e.code == Some(10) => Ok(ResourceState::unconfigured()),
        Err(e) => Err(e),
    }
}
