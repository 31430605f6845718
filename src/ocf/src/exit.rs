//! OCF exit statuses and the error every action returns.
//!
//! Only 0..9, 190 and 191 exist: Pacemaker maps anything else to 1
//! (`services__ocf2ocf`), so no other number can be built here.

use std::fmt;

/// The prefix Pacemaker looks for on stderr; it keeps the last such line.
pub const EXIT_REASON_PREFIX: &str = "ocf-exit-reason:";

/// An OCF exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Success,
    ErrGeneric,
    ErrArgs,
    ErrUnimplemented,
    ErrPerm,
    ErrInstalled,
    ErrConfigured,
    NotRunning,
    RunningPromoted,
    FailedPromoted,
    Degraded,
    DegradedPromoted,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Success,
        Status::ErrGeneric,
        Status::ErrArgs,
        Status::ErrUnimplemented,
        Status::ErrPerm,
        Status::ErrInstalled,
        Status::ErrConfigured,
        Status::NotRunning,
        Status::RunningPromoted,
        Status::FailedPromoted,
        Status::Degraded,
        Status::DegradedPromoted,
    ];

    /// The numeric process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::ErrGeneric => 1,
            Status::ErrArgs => 2,
            Status::ErrUnimplemented => 3,
            Status::ErrPerm => 4,
            Status::ErrInstalled => 5,
            Status::ErrConfigured => 6,
            Status::NotRunning => 7,
            Status::RunningPromoted => 8,
            Status::FailedPromoted => 9,
            Status::Degraded => 190,
            Status::DegradedPromoted => 191,
        }
    }

    /// The status for a numeric code, if it is an OCF code at all.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|s| i32::from(s.code()) == code)
    }

    /// The name used by `ocf-returncodes` (and the OCF 1.1 names for 190/191).
    pub const fn name(self) -> &'static str {
        match self {
            Status::Success => "OCF_SUCCESS",
            Status::ErrGeneric => "OCF_ERR_GENERIC",
            Status::ErrArgs => "OCF_ERR_ARGS",
            Status::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            Status::ErrPerm => "OCF_ERR_PERM",
            Status::ErrInstalled => "OCF_ERR_INSTALLED",
            Status::ErrConfigured => "OCF_ERR_CONFIGURED",
            Status::NotRunning => "OCF_NOT_RUNNING",
            Status::RunningPromoted => "OCF_RUNNING_PROMOTED",
            Status::FailedPromoted => "OCF_FAILED_PROMOTED",
            Status::Degraded => "OCF_DEGRADED",
            Status::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// A failed action: the status to exit with and the reason Pacemaker shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcfError {
    pub status: Status,
    pub reason: String,
}

pub type OcfResult<T> = Result<T, OcfError>;

impl OcfError {
    pub fn new(status: Status, reason: impl Into<String>) -> Self {
        OcfError {
            status,
            reason: reason.into(),
        }
    }
    /// 1: failed here, recover (restart or move).
    pub fn generic(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrGeneric, reason)
    }
    /// 2: invalid on this node only (the node gets banned, not the cluster).
    pub fn args(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrArgs, reason)
    }
    /// 3: the action does not exist for this agent.
    pub fn unimplemented(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrUnimplemented, reason)
    }
    /// 4: not enough privilege.
    pub fn perm(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrPerm, reason)
    }
    /// 5: software missing on this node.
    pub fn installed(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrInstalled, reason)
    }
    /// 6: wrong on every node: Pacemaker bans the resource cluster-wide.
    pub fn configured(reason: impl Into<String>) -> Self {
        Self::new(Status::ErrConfigured, reason)
    }
    /// 7: cleanly stopped.
    pub fn not_running(reason: impl Into<String>) -> Self {
        Self::new(Status::NotRunning, reason)
    }
}

impl fmt::Display for OcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for OcfError {}

/// The exit-reason line as Pacemaker parses it: one line, prefix first.
/// Newlines would split it, so they become spaces.
pub fn exit_reason_line(reason: &str) -> String {
    let one_line: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("{EXIT_REASON_PREFIX}{}", one_line.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_ocf_ones() {
        let codes: Vec<u8> = Status::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]);
        for s in Status::ALL {
            assert_eq!(Status::from_code(i32::from(s.code())), Some(s));
        }
        assert_eq!(Status::from_code(10), None);
        assert_eq!(Status::from_code(-1), None);
    }

    #[test]
    fn exit_reason_is_one_line() {
        assert_eq!(
            exit_reason_line("bad\nvalue\r 'x'"),
            "ocf-exit-reason:bad value  'x'"
        );
    }
}
