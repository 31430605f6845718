//! A 2- or 3-node Corosync + Pacemaker cluster on this machine, one network,
//! mount, UTS and PID namespace per node (`tests/harness/ns-cluster.sh`), for
//! the end-to-end scenarios. Nodes are numbered from 1 and named `node<i>`.
//!
//! One multi-node cluster at a time per machine: `NsCluster::up` takes
//! `/run/ocf-rs-e2e.lock` and holds it until the cluster is dropped, which
//! kills every node and removes the namespaces, the bridge and the shared
//! disk even when the test failed. The one-node cluster of
//! `common::cluster` lives in the root namespaces and is not affected.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{FileLock, repo, sh, wait_for};

pub const LOCK: &str = "/run/ocf-rs-e2e.lock";
/// The client's address: on the cluster's network, in no node.
pub const CLIENT_IP: &str = "203.0.113.50";

pub struct NsCluster {
    pub nodes: usize,
    /// The shared disk (a loop device every node sees).
    pub disk: String,
    script: PathBuf,
    _lock: FileLock,
}

/// One primitive as `crm_mon --output-as=xml` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rsc {
    pub role: String,
    pub failed: bool,
    pub node: Option<String>,
}

impl NsCluster {
    /// Bring up `nodes` nodes (2 or 3) and wait until all are online;
    /// `libvirt` also starts a private libvirtd in every node.
    pub fn up(nodes: usize, libvirt: bool) -> NsCluster {
        for tool in [
            "corosync",
            "pacemakerd",
            "pcs",
            "nsenter",
            "unshare",
            "losetup",
        ] {
            super::require(tool);
        }
        let script = repo().join("tests/harness/ns-cluster.sh");
        // a demo cluster's fence daemon whose nodes are all gone holds the lock for nothing
        let _ = script_output(&script, &["clear-stale-lock"], false);
        let lock = FileLock::take(LOCK);
        // leftovers of a test that was killed before its Drop ran
        let _ = script_output(&script, &["down", "--kill"], false);
        let n = nodes.to_string();
        let (code, text) = script_output(&script, &["up", &n], libvirt);
        let mut c = NsCluster {
            nodes,
            disk: String::new(),
            script,
            _lock: lock,
        };
        assert_eq!(code, 0, "ns-cluster.sh up {n} failed:\n{text}");
        eprintln!("{}", text.trim_end());
        c.disk = c.harness(&["disk"]).trim().to_string();
        c
    }

    /// Run a subcommand of the harness script; panics unless it succeeds.
    pub fn harness(&self, args: &[&str]) -> String {
        let (code, out) = script_output(&self.script, args, false);
        assert_eq!(code, 0, "ns-cluster.sh {} failed:\n{out}", args.join(" "));
        out
    }

    /// Run a command in node `i`: (exit code, stdout+stderr).
    pub fn exec(&self, i: usize, argv: &[&str]) -> (i32, String) {
        let pid = self.pid(i);
        let mut args = vec!["-t", pid.as_str(), "-n", "-m", "-u", "-i", "-p", "--"];
        args.extend_from_slice(argv);
        sh("nsenter", &args)
    }

    /// Node `i`'s PID 1 as the root namespace sees it.
    pub fn pid(&self, i: usize) -> String {
        self.try_pid(i)
            .unwrap_or_else(|| panic!("node{i} is not running"))
    }

    /// Node `i`'s PID 1, unless the node is down (killed, fenced, stopped).
    pub fn try_pid(&self, i: usize) -> Option<String> {
        std::fs::read_to_string(format!("/var/tmp/e2e-cluster/node{i}/init.pid"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Run `pcs ARGS` in node `i` as a user would; panics unless it succeeds,
    /// or when an argument names a path the nodes cannot see.
    pub fn pcs(&self, i: usize, args: &[String]) -> String {
        for a in args {
            assert_node_visible(a);
        }
        let mut argv = vec!["pcs"];
        argv.extend(args.iter().map(String::as_str));
        let (code, out) = self.exec(i, &argv);
        assert_eq!(code, 0, "node{i}: pcs {} failed:\n{out}", args.join(" "));
        out
    }

    /// Run a command in the client namespace (on the bridge, in no node).
    pub fn client(&self, argv: &[&str]) -> (i32, String) {
        let mut args = vec!["netns", "exec", "e2e-client"];
        args.extend_from_slice(argv);
        sh("ip", &args)
    }

    /// Start a command in the client namespace without waiting for it.
    pub fn client_spawn(&self, argv: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", "e2e-client"])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// SIGKILL node `i`'s PID 1: every process of the node dies at once and
    /// it loses its addresses, like a host that loses power.
    pub fn kill(&self, i: usize) {
        self.harness(&["kill", &i.to_string()]);
    }

    /// (Re)start node `i` (after `kill` or `stop`) and wait until it is online.
    pub fn start(&self, i: usize) {
        self.harness(&["start", &i.to_string()]);
        let name = format!("node{i}");
        assert!(
            wait_for(Duration::from_secs(90), || self.online(i).contains(&name)),
            "node{i} did not rejoin:\n{}",
            self.crm_mon(i)
        );
    }

    /// Unplug / replug node `i`'s cable on the bridge.
    pub fn partition(&self, i: usize) {
        self.harness(&["partition", &i.to_string()]);
    }
    pub fn heal(&self, i: usize) {
        self.harness(&["heal", &i.to_string()]);
    }

    /// `crm_mon -1` as node `i` sees the cluster.
    pub fn crm_mon(&self, i: usize) -> String {
        self.exec(i, &["crm_mon", "-1", "--include=all", "-t"]).1
    }

    fn crm_mon_xml(&self, i: usize) -> String {
        self.exec(i, &["crm_mon", "-1", "--output-as=xml", "--include=all"])
            .1
    }

    /// The nodes node `i` sees online.
    pub fn online(&self, i: usize) -> Vec<String> {
        use ocf::xml;
        let text = self.crm_mon_xml(i);
        let Ok(doc) = xml::parse(&text) else {
            return Vec::new();
        };
        let Some(nodes) = xml::first(&doc, "nodes") else {
            return Vec::new();
        };
        xml::children(nodes, "node")
            .filter(|n| n.attribute("online") == Some("true"))
            .filter_map(|n| n.attribute("name").map(str::to_string))
            .collect()
    }

    /// Does node `i`'s partition have quorum?
    pub fn has_quorum(&self, i: usize) -> bool {
        self.crm_mon_xml(i).contains("with_quorum=\"true\"")
    }

    /// Primitive `id` as node `i` sees it.
    pub fn resource(&self, i: usize, id: &str) -> Option<Rsc> {
        parse_resource(&self.crm_mon_xml(i), id)
    }

    /// The nodes where node `i` sees an instance of the clone's primitive
    /// `id` in `role` (Promoted, Unpromoted, Started), not failed.
    pub fn nodes_in_role(&self, i: usize, id: &str, role: &str) -> Vec<usize> {
        parse_instances(&self.crm_mon_xml(i), id)
            .into_iter()
            .filter(|r| r.role == role && !r.failed)
            .filter_map(|r| r.node.and_then(|n| node_number(&n)))
            .collect()
    }

    /// Wait until node `i` sees primitive `id` Started (not failed) on a node;
    /// returns that node's number.
    pub fn wait_started(&self, i: usize, id: &str, limit: Duration) -> Option<usize> {
        let mut at = None;
        wait_for(limit, || {
            at = self
                .resource(i, id)
                .filter(|r| r.role == "Started" && !r.failed)
                .and_then(|r| r.node)
                .and_then(|n| node_number(&n));
            at.is_some()
        });
        at
    }

    /// Start `argv` in the client namespace every 200 ms until one run
    /// succeeds (several may be in flight: a connect to an address whose
    /// owner just died hangs until its own timeout); returns the time from
    /// `since` to the first success and that run's stdout.
    pub fn first_client_success(
        &self,
        argv: &[&str],
        since: Instant,
        limit: Duration,
    ) -> Option<(Duration, String)> {
        let mut flying: Vec<Child> = Vec::new();
        let mut last_spawn: Option<Instant> = None;
        let end = Instant::now() + limit;
        let mut result = None;
        while Instant::now() < end && result.is_none() {
            if last_spawn.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
                flying.push(self.client_spawn(argv));
                last_spawn = Some(Instant::now());
            }
            let mut i = 0;
            while i < flying.len() {
                match flying[i].try_wait().unwrap() {
                    Some(status) => {
                        let mut child = flying.swap_remove(i);
                        let _ = child.wait(); // already exited: reap it
                        if status.success() {
                            let mut out = String::new();
                            use std::io::Read;
                            let _ = child.stdout.take().unwrap().read_to_string(&mut out);
                            result = Some((since.elapsed(), out));
                            break;
                        }
                    }
                    None => i += 1,
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for mut c in flying {
            let _ = c.kill();
            let _ = c.wait();
        }
        result
    }
}

impl Drop for NsCluster {
    fn drop(&mut self) {
        // SIGKILL: the state is thrown away anyway, and a graceful stop of
        // VMs and databases only costs time here.
        let (code, out) = script_output(&self.script, &["down", "--kill"], false);
        if code != 0 {
            eprintln!("ns-cluster.sh down failed:\n{out}");
        }
    }
}

/// Panics when `arg` (a path, or `name=path`) hands a node something it
/// cannot see: a path that, with every symlink resolved, lies in the
/// checkout or under `/tmp`. Every node has a private tmpfs on `/tmp` (and
/// `/run`), so such a path works only where the checkout happens to be
/// elsewhere, and the agent answers 5 minutes later. A small file it names
/// (a domain XML, a drbd.conf, a script) is read and every absolute path in
/// it checked the same way, one level deep.
pub fn assert_node_visible(arg: &str) {
    check_node_path(arg, true);
}

fn check_node_path(arg: &str, look_inside: bool) {
    let value = arg.split_once('=').map_or(arg, |(_, v)| v);
    if !value.starts_with('/') {
        return;
    }
    let path = Path::new(value);
    let Ok(resolved) = std::fs::canonicalize(path) else {
        return; // not in the root namespaces: made inside a node
    };
    let forbidden = [repo(), PathBuf::from("/tmp")];
    // Inside a file, a word that is the directory itself ("/tmp" in a comment)
    // names nothing handed over.
    let hit = |f: &&PathBuf| resolved.starts_with(f) && (look_inside || resolved != **f);
    if let Some(bad) = forbidden.iter().find(hit) {
        panic!(
            "{arg} hands the cluster nodes {}, under {}: a node cannot see it (its /tmp is \
             private, the checkout may be under /tmp); copy it to the harness's base \
             directory (/var/tmp/...) first",
            resolved.display(),
            bad.display()
        );
    }
    if !look_inside {
        return;
    }
    let Ok(meta) = std::fs::metadata(&resolved) else {
        return;
    };
    if !meta.is_file() || meta.len() > 1 << 20 {
        return;
    }
    let Ok(text) = std::fs::read(&resolved) else {
        return;
    };
    let text = String::from_utf8_lossy(&text);
    for word in text.split(|c: char| c.is_whitespace() || "'\"<>=,;()[]{}".contains(c)) {
        if word.starts_with('/') && word.len() > 1 {
            check_node_path(word, false);
        }
    }
}

/// Run the harness script, telling it that this process holds the lock.
fn script_output(script: &Path, args: &[&str], libvirt: bool) -> (i32, String) {
    let out = Command::new(script)
        .args(args)
        .env("E2E_LOCK_HELD", "1")
        .env("E2E_LIBVIRT", if libvirt { "1" } else { "0" })
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `node2` -> 2.
pub fn node_number(name: &str) -> Option<usize> {
    name.strip_prefix("node")?.parse().ok()
}

/// Primitive `id` in `crm_mon --output-as=xml`, if listed.
pub fn parse_resource(xml: &str, id: &str) -> Option<Rsc> {
    parse_instances(xml, id).into_iter().next()
}

/// Every instance of primitive `id` (one per node for a clone), in order.
pub fn parse_instances(text: &str, id: &str) -> Vec<Rsc> {
    use ocf::xml;
    let Ok(doc) = xml::parse(text) else {
        return Vec::new();
    };
    xml::elements(&doc, "resource")
        .filter(|r| r.attribute("id") == Some(id))
        .map(|r| Rsc {
            role: r.attribute("role").unwrap_or_default().to_string(),
            failed: r.attribute("failed") == Some("true"),
            node: xml::child(r, "node").and_then(|n| n.attribute("name").map(str::to_string)),
        })
        .collect()
}

/// One measured time, in a line bench/failover.sh collects.
pub fn report(scenario: &str, agents: &str, metric: &str, took: Duration) {
    println!(
        "E2E-MEASURE scenario={scenario} agents={agents} metric={metric} seconds={:.2}",
        took.as_secs_f64()
    );
}
