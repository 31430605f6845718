//! The DRBD SIMULATOR (`tests/sim/drbd-simulator`) seen from the tests:
//! a cluster directory of simulated nodes, each with its own `bin/` of
//! drbdadm, drbdsetup, crm_attribute and modprobe, and helpers to run the
//! drbd agent "on" a node with that `bin/` first on PATH.
//!
//! Used as `use support::drbd as drbd_sim;`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{AgentLink, Outcome, Scratch, ocf, repo, sh};

/// The simulator program.
pub fn simulator() -> PathBuf {
    repo().join("tests/sim/drbd-simulator")
}

/// Simulated nodes under one scratch directory, removed on drop.
pub struct Sim {
    pub dir: Scratch,
    /// An (empty) drbd.conf: the agent checks it is readable, the simulator
    /// reads its resources from each node's config.json.
    pub conf: PathBuf,
    /// The resource instance name the agent runs as (`OCF_RESOURCE_INSTANCE`).
    pub instance: String,
}

impl Sim {
    /// `drbd-simulator init` with `nodes` and extra init options.
    pub fn new(name: &str, nodes: &[&str], extra: &[&str]) -> Sim {
        Sim::init(Scratch::new(&format!("drbd-sim-{name}")), nodes, extra)
    }

    /// The same in `dir` (emptied first; removed on drop): for a cluster
    /// whose nodes have their own /tmp.
    pub fn new_in(dir: &Path, nodes: &[&str], extra: &[&str]) -> Sim {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).unwrap();
        Sim::init(Scratch(dir.to_path_buf()), nodes, extra)
    }

    fn init(dir: Scratch, nodes: &[&str], extra: &[&str]) -> Sim {
        let nodes = nodes.join(",");
        let cluster = dir.0.to_str().unwrap().to_string();
        let mut args = vec!["init", cluster.as_str(), "--nodes", nodes.as_str()];
        args.extend_from_slice(extra);
        let (code, out) = sh(simulator().to_str().unwrap(), &args);
        assert_eq!(code, 0, "drbd-simulator init: {out}");
        let conf = dir.path("drbd.conf");
        fs::write(&conf, "# resources live in the simulator's config.json\n").unwrap();
        Sim {
            dir,
            conf,
            instance: "d".into(),
        }
    }

    pub fn node(&self, n: &str) -> PathBuf {
        self.dir.path(n)
    }

    pub fn bin(&self, n: &str) -> PathBuf {
        self.node(n).join("bin")
    }

    /// Run a control command (`set`, `cut`, `heal`, `sync`, `write`).
    pub fn ctl(&self, args: &[&str]) {
        let (code, out) = sh(simulator().to_str().unwrap(), args);
        assert_eq!(code, 0, "drbd-simulator {args:?}: {out}");
    }

    /// `drbd-simulator set <node> key=value...`
    pub fn set(&self, n: &str, kv: &[&str]) {
        let node = self.node(n);
        let mut args = vec!["set", node.to_str().unwrap()];
        args.extend_from_slice(kv);
        self.ctl(&args);
    }

    pub fn cluster(&self, cmd: &str) {
        self.ctl(&[cmd, self.dir.0.to_str().unwrap()]);
    }

    /// The node's state as the simulator keeps it (JSON text).
    pub fn show(&self, n: &str) -> String {
        fs::read_to_string(self.node(n).join("state.json")).unwrap()
    }

    /// This node's promotion score as written through crm_attribute.
    pub fn score(&self, n: &str) -> Option<i64> {
        let text = fs::read_to_string(self.node(n).join("attrs.json")).ok()?;
        let key = format!("\"master-{}@{n}\": \"", self.instance);
        let at = text.find(&key)? + key.len();
        let end = text[at..].find('"')? + at;
        text[at..end].parse().ok()
    }

    /// Every simulated tool call on the node so far.
    pub fn calls(&self, n: &str) -> String {
        fs::read_to_string(self.node(n).join("calls.log")).unwrap_or_default()
    }

    pub fn clear_calls(&self, n: &str) {
        let _ = fs::remove_file(self.node(n).join("calls.log"));
        let _ = fs::remove_file(self.node(n).join("argv.log"));
    }

    /// Every simulated tool call on the node so far, as its argv (the
    /// tool's name first): what each program really got as one argument.
    pub fn argv(&self, n: &str) -> Vec<Vec<String>> {
        fs::read_to_string(self.node(n).join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| json_strings(l).unwrap_or_else(|| panic!("bad argv.log line {l:?}")))
            .collect()
    }

    /// PATH with the node's simulated tools first.
    pub fn path(&self, n: &str) -> String {
        format!(
            "{}:{}",
            self.bin(n).display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The node's `HA_RSCTMP` (where the agent keeps what start recorded).
    pub fn rsctmp(&self, n: &str) -> PathBuf {
        self.node(n).join("rsctmp")
    }

    /// The record start left on node `n`, if any (its text).
    pub fn record(&self, n: &str) -> Option<String> {
        let file = format!("ocf-rs-drbd-{}.record", self.instance);
        fs::read_to_string(self.rsctmp(n).join(file)).ok()
    }

    /// Run `action` of the agent on node `n`: simulator first on PATH, the
    /// module version from the node's simulated /proc/drbd and its minors
    /// from the simulated /sys/block (the documented test hooks), the node's
    /// own `HA_RSCTMP`, `CRM_meta_on_node=n`, notify on, a 20 s timeout; then
    /// the given parameters and environment (later entries win).
    pub fn run(
        &self,
        agent: &AgentLink,
        n: &str,
        action: &str,
        params: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Outcome {
        let conf = self.conf.to_str().unwrap().to_string();
        let mut p: Vec<(&str, &str)> = vec![
            ("drbd_resource", "r0"),
            ("drbdconf", conf.as_str()),
            ("wfc_timeout", "1"),
        ];
        p.extend_from_slice(params);
        let path = self.path(n);
        let proc_file = self.node(n).join("proc-drbd");
        let sys_block = self.node(n).join("sys-block");
        let rsctmp = self.rsctmp(n);
        let mut e: Vec<(&str, &str)> = vec![
            ("PATH", path.as_str()),
            ("OCF_RS_DRBD_PROC", proc_file.to_str().unwrap()),
            ("OCF_RS_DRBD_SYS_BLOCK", sys_block.to_str().unwrap()),
            ("HA_RSCTMP", rsctmp.to_str().unwrap()),
            ("OCF_RESOURCE_INSTANCE", self.instance.as_str()),
            ("OCF_RESKEY_CRM_meta_on_node", n),
            ("OCF_RESKEY_CRM_meta_notify", "true"),
            ("OCF_RESKEY_CRM_meta_clone_max", "2"),
            ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ];
        e.extend_from_slice(env);
        ocf(agent, action, &dedup_params(&p), &dedup(&e))
    }
}

/// Keep the last value of each key.
fn dedup<'a>(kv: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = vec![];
    for (k, v) in kv {
        out.retain(|(k2, _)| k2 != k);
        out.push((k, v));
    }
    out
}

fn dedup_params<'a>(kv: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    dedup(kv)
}

/// Is `p` a block device node (what the simulator creates for linbit's agent)?
pub fn is_block(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// A JSON list of strings as Python's `json.dumps` writes it (ASCII only,
/// `\"`, `\\`, `\n`, `\uXXXX` with surrogate pairs); None for anything else.
fn json_strings(line: &str) -> Option<Vec<String>> {
    fn flush(s: &mut String, units: &mut Vec<u16>) -> Option<()> {
        s.push_str(&String::from_utf16(units).ok()?);
        units.clear();
        Some(())
    }
    let mut out = vec![];
    let inner = line.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {}
            Some(_) => return None,
        }
        let mut s = String::new();
        let mut units: Vec<u16> = vec![];
        loop {
            let c = chars.next()?;
            if c == '\\' {
                let e = chars.next()?;
                if e == 'u' {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    units.push(u16::from_str_radix(&hex, 16).ok()?);
                    continue;
                }
                flush(&mut s, &mut units)?;
                s.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    c => c,
                });
            } else {
                flush(&mut s, &mut units)?;
                if c == '"' {
                    break;
                }
                s.push(c);
            }
        }
        out.push(s);
    }
}
