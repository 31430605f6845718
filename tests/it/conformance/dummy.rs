//! ocf:rust:dummy against ocf:heartbeat:Dummy: the state file is the whole
//! resource, so these cases pin down the driver's rules (unknown actions,
//! probes, stop with an unusable configuration) on the simplest agent.

use std::path::PathBuf;

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;
use support::Scratch;

pub struct Dummy {
    dir: Scratch,
}

impl Dummy {
    fn state(&self) -> PathBuf {
        self.dir.path("state")
    }
}

impl Fixture for Dummy {
    fn params(&self) -> Vec<(String, String)> {
        vec![("state".into(), self.state().display().to_string())]
    }
    fn observe(&self) -> Vec<String> {
        if self.state().exists() {
            vec!["state file present".into()]
        } else {
            vec![]
        }
    }
    fn running(&self) -> bool {
        self.state().exists()
    }
}

fn make(side: Side) -> Dummy {
    Dummy {
        dir: Scratch::new(&format!("conf-dummy-{}", side.label())),
    }
}

const AGENTS: (&str, &str) = ("heartbeat/Dummy", "rust/dummy");

fn lifecycle() -> Case<Dummy> {
    Case::new(
        "dummy/lifecycle",
        "probe, start, monitor, stop, stop again, probe",
        AGENTS,
        make,
        vec![
            probe(),
            run("start"),
            run("start"),
            run("monitor"),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

fn unknown_action() -> Case<Dummy> {
    Case::new(
        "dummy/unknown-action",
        "an action nobody implements answers 3",
        AGENTS,
        make,
        vec![run("frobnicate")],
    )
}

/// The state file's directory vanished while the resource ran: there is
/// nothing left that runs, so stop 0 and probe 7 are the truth.
fn state_dir_removed() -> Case<Dummy> {
    Case::new(
        "dummy/state-dir-removed",
        "the state directory is removed while started",
        AGENTS,
        make,
        vec![
            run("start"),
            Step::Do("remove the state directory", |d| {
                let _ = std::fs::remove_dir_all(&d.dir.0);
            }),
            probe(),
            run("stop"),
        ],
    )
}

/// The state parameter is changed to a path whose directory does not exist
/// while the old state file is still there: the anchor validates nothing
/// and stops the new (absent) file: 0 with the old one left; ours stops
/// what start recorded.
fn stop_after_the_state_parameter_changed() -> Case<Dummy> {
    Case::new(
        "dummy/stop-after-state-changed",
        "started, then `state` points into a missing directory; probe and stop",
        AGENTS,
        make,
        vec![
            run("start"),
            run_with("probe", &[("state", "/nonexistent/dir/state")]),
            run_with("stop", &[("state", "/nonexistent/dir/state")]),
        ],
    )
    .deviation(
        "ocf:heartbeat:Dummy probes 7 and stops 0 while the state file start made is still \
         there; ours probes 0 and stops it through the record start left in HA_RSCTMP",
        &[0, 0, 0],
    )
}

cases!(
    lifecycle,
    unknown_action,
    state_dir_removed,
    stop_after_the_state_parameter_changed,
);
