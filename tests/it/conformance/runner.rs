//! The differential conformance runner: one case, run with the same
//! environment against the anchor agent (ClusterLabs' or LINBIT's) and
//! against ours, each on a fresh copy of the same real parts; after every
//! action it records the exit code and what is left on the node, as a user
//! would check it (addresses, mounts, domains, processes).
//!
//! * A case without a listed deviation passes only when both transcripts are
//!   equal.
//! * A case with a deviation (its reason is also written in
//!   docs/compatibility.md, which a test checks) passes only when the
//!   transcripts differ and ours gives exactly the exit codes the case
//!   expects; a deviation that no longer shows fails, so the list stays true.
//! * Whatever the anchor does, ours must never lie: after a stop that
//!   answered 0, nothing of the resource runs; a probe answers 7 only when
//!   nothing runs.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{self, Scratch};

/// Which agent of the pair runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Anchor,
    Ours,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Anchor => "anchor",
            Side::Ours => "ours",
        }
    }
}

/// The real parts one side of a case runs on, made fresh for each side and
/// torn down on drop.
pub trait Fixture {
    /// The parameters both agents get (`OCF_RESKEY_<name>`), in the
    /// anchor's names; [`Case::ours_params`] maps the ones ours names
    /// differently.
    fn params(&self) -> Vec<(String, String)>;
    /// Extra environment both agents get (PATH for a simulator, ...).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// What is left on the node, one line per fact a user would check
    /// ("mounted /dev/loop3 on /mnt/x ext4", "domain web1 running"). Must
    /// not name the side (both transcripts are compared line by line).
    fn observe(&self) -> Vec<String>;
    /// Does anything of the resource run on this node now?
    fn running(&self) -> bool;
}

/// One step of a case.
pub enum Step<F> {
    /// Run an action. `set` overrides parameters (an empty value removes
    /// one); `probe` runs monitor as a probe (interval 0), else monitor is a
    /// recurring one (interval 10 s).
    Run {
        action: &'static str,
        set: Vec<(&'static str, String)>,
        env: Vec<(&'static str, String)>,
    },
    /// Change the world between actions: remove a link, kill a daemon...
    Do(&'static str, fn(&mut F)),
}

/// A probe: monitor with interval 0.
pub fn probe<F>() -> Step<F> {
    run("probe")
}

/// Run `action` with the case's parameters.
pub fn run<F>(action: &'static str) -> Step<F> {
    Step::Run {
        action,
        set: Vec::new(),
        env: Vec::new(),
    }
}

/// Run `action` with some parameters changed (`""` removes one).
pub fn run_with<F>(action: &'static str, set: &[(&'static str, &str)]) -> Step<F> {
    Step::Run {
        action,
        set: set.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        env: Vec::new(),
    }
}

/// A case: `ours` and `anchor` are agent paths relative to
/// /usr/lib/ocf/resource.d (`rust/filesystem`, `heartbeat/Filesystem`).
pub struct Case<F> {
    pub id: &'static str,
    pub about: &'static str,
    pub anchor: &'static str,
    pub ours: &'static str,
    pub make: fn(Side) -> F,
    pub steps: Vec<Step<F>>,
    /// Parameter names ours spells differently: (anchor's, ours).
    pub rename: &'static [(&'static str, &'static str)],
    /// An intended difference: why, and ours' exit code for every step (a
    /// `Do` step counts as 0).
    pub deviation: Option<Deviation>,
    /// Each action's timeout in ms (CRM_meta_timeout).
    pub timeout_ms: u64,
}

pub struct Deviation {
    pub why: &'static str,
    pub ours: &'static [i32],
}

impl<F> Case<F> {
    pub fn new(
        id: &'static str,
        about: &'static str,
        (anchor, ours): (&'static str, &'static str),
        make: fn(Side) -> F,
        steps: Vec<Step<F>>,
    ) -> Case<F> {
        Case {
            id,
            about,
            anchor,
            ours,
            make,
            steps,
            rename: &[],
            deviation: None,
            timeout_ms: 20_000,
        }
    }

    pub fn rename(mut self, r: &'static [(&'static str, &'static str)]) -> Self {
        self.rename = r;
        self
    }

    pub fn deviation(mut self, why: &'static str, ours: &'static [i32]) -> Self {
        self.deviation = Some(Deviation { why, ours });
        self
    }

    pub fn timeout_ms(mut self, t: u64) -> Self {
        self.timeout_ms = t;
        self
    }
}

/// One action's outcome on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub step: String,
    pub code: i32,
    pub left: Vec<String>,
}

pub type Transcript = Vec<Entry>;

fn render(t: &Transcript) -> String {
    let mut s = String::new();
    for e in t {
        s.push_str(&format!("  {} -> {}\n", e.step, e.code));
        for l in &e.left {
            s.push_str(&format!("      {l}\n"));
        }
    }
    s
}

/// Run `case` on both sides and judge it (panics with both transcripts).
pub fn check<F: Fixture>(case: Case<F>) {
    let (anchor, _) = run_side(&case, Side::Anchor);
    let (ours, violations) = run_side(&case, Side::Ours);
    let both = format!(
        "case {}: {}\nanchor ({}):\n{}ours ({}):\n{}",
        case.id,
        case.about,
        case.anchor,
        render(&anchor),
        case.ours,
        render(&ours)
    );
    assert!(
        violations.is_empty(),
        "ours lied about state: {}\n{both}",
        violations.join("; ")
    );
    match &case.deviation {
        None => assert!(
            anchor == ours,
            "ours differs from the anchor and no deviation is listed\n{both}"
        ),
        Some(d) => {
            assert!(
                anchor != ours,
                "a deviation is listed ({}), but ours now behaves as the anchor: \
                 remove it from the case and docs/compatibility.md\n{both}",
                d.why
            );
            let codes: Vec<i32> = ours.iter().map(|e| e.code).collect();
            assert_eq!(codes, d.ours, "ours' exit codes\n{both}");
        }
    }
    eprintln!("{both}");
}

/// Run every step on one side; also returns the truth violations of ours.
fn run_side<F: Fixture>(case: &Case<F>, side: Side) -> (Transcript, Vec<String>) {
    let mut fx = (case.make)(side);
    let rsctmp = Scratch::new(&format!(
        "conf-{}-{}",
        case.id.replace('/', "-"),
        side.label()
    ));
    let agent = match side {
        Side::Anchor => PathBuf::from("/usr/lib/ocf/resource.d").join(case.anchor),
        Side::Ours => {
            let (_, name) = case.ours.split_once('/').unwrap();
            support::installed_agent(name)
        }
    };
    let mut out = Vec::new();
    let mut violations = Vec::new();
    for step in &case.steps {
        match step {
            Step::Do(what, f) => {
                f(&mut fx);
                out.push(Entry {
                    step: format!("({what})"),
                    code: 0,
                    left: Vec::new(),
                });
            }
            Step::Run { action, set, env } => {
                let mut params: BTreeMap<String, String> = fx.params().into_iter().collect();
                for (k, v) in set {
                    if v.is_empty() {
                        params.remove(*k);
                    } else {
                        params.insert(k.to_string(), v.clone());
                    }
                }
                if side == Side::Ours {
                    for (theirs, ours) in case.rename {
                        if let Some(v) = params.remove(*theirs) {
                            params.insert(ours.to_string(), v);
                        }
                    }
                }
                let mut vars: Vec<(String, String)> = params
                    .into_iter()
                    .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v))
                    .collect();
                let (real, interval) = match *action {
                    "probe" => ("monitor", "0"),
                    "monitor" => ("monitor", "10000"),
                    a => (a, "0"),
                };
                vars.extend(
                    [
                        ("OCF_ROOT", "/usr/lib/ocf".to_string()),
                        ("OCF_RESOURCE_INSTANCE", instance(case.id)),
                        ("HA_RSCTMP", rsctmp.0.display().to_string()),
                        ("OCF_RESKEY_CRM_meta_timeout", case.timeout_ms.to_string()),
                        ("OCF_RESKEY_CRM_meta_interval", interval.to_string()),
                        ("__OCF_ACTION", real.to_string()),
                    ]
                    .map(|(k, v)| (k.to_string(), v)),
                );
                vars.extend(fx.env());
                vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
                let code = run_agent(&agent, real, &vars, case.timeout_ms);
                let left = fx.observe();
                if side == Side::Ours {
                    let running = fx.running();
                    if *action == "stop" && code == 0 && running {
                        violations.push(format!("stop answered 0 while it runs: {left:?}"));
                    }
                    if *action == "probe" && code == 7 && running {
                        violations.push(format!("probe answered 7 while it runs: {left:?}"));
                    }
                }
                out.push(Entry {
                    step: (*action).to_string(),
                    code,
                    left,
                });
            }
        }
    }
    (out, violations)
}

/// `OCF_RESOURCE_INSTANCE` of a case: its id in a resource's alphabet.
fn instance(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Run an agent with exactly `vars` (plus PATH), bounded: the process group
/// is killed 5 s after the action's own timeout (a shell agent may hang).
fn run_agent(agent: &Path, action: &str, vars: &[(String, String)], timeout_ms: u64) -> i32 {
    let path = vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new(agent)
        .arg(action)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", agent.display()));
    // stderr is read in a thread that may outlive the agent: a daemon the
    // agent started in another session can keep the pipe open for good. We
    // wait for it at most 2 s after the agent exits.
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    let end = Instant::now() + Duration::from_millis(timeout_ms + 5000);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() > end {
            // SAFETY: kill(2) on the child's own process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break -9;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_else(|_| "(stderr still held open by a process the agent left)".into());
    if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
        eprintln!("--- {} {action} -> {code}\n{stderr}", agent.display());
    }
    code
}

/// Every deviation id listed in `docs/compatibility.md` (`` `id` `` in a
/// table row of its "Deviations" section).
pub fn documented_deviations() -> String {
    std::fs::read_to_string(support::repo().join("docs/compatibility.md")).unwrap_or_default()
}

/// Declare a module's cases: one `#[test]` per case constructor (each runs
/// both sides and judges them), and `all()` listing every case's id and
/// deviation for the checks of `main.rs`.
#[macro_export]
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// (id, deviation reason) of every case of this module.
        pub fn all() -> Vec<(&'static str, Option<&'static str>)> {
            vec![$({
                let c = $name();
                (c.id, c.deviation.as_ref().map(|d| d.why))
            }),*]
        }
        mod run {
            $(
                #[test]
                fn $name() {
                    $crate::conformance::runner::check(super::$name());
                }
            )*
        }
    };
}
