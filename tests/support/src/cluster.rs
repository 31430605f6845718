//! The one-node Corosync + Pacemaker cluster of `tests/harness/cluster.sh`,
//! for tests that drive agents through `pcs` as a user would. Every agent
//! adds its own cluster test on top of this.
//!
//! One cluster at a time per machine: `Cluster::up` takes a file lock that
//! the cluster holds until it is dropped (which runs `cluster.sh down`).

use std::time::Duration;

use super::{FileLock, repo, sh, wait_for};

pub struct Cluster {
    _lock: FileLock,
}

/// One resource as `crm_mon --output-as=xml` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResourceState {
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub node: Option<String>,
}

impl Cluster {
    pub fn up() -> Cluster {
        let lock = FileLock::take("/run/ocf-rs-cluster.lock");
        super::require("corosync");
        super::require("pacemakerd");
        super::require("pcs");
        let script = repo().join("tests/harness/cluster.sh");
        let (code, out) = sh(script.to_str().unwrap(), &["up"]);
        assert_eq!(code, 0, "cluster did not come up:\n{out}");
        Cluster { _lock: lock }
    }

    /// Run pcs; panics with its output unless it succeeds.
    pub fn pcs(&self, args: &[&str]) -> String {
        let (code, out) = sh("pcs", args);
        assert_eq!(code, 0, "pcs {} failed:\n{out}", args.join(" "));
        out
    }

    pub fn crm_mon(&self) -> String {
        sh("crm_mon", &["-1", "--include=all"]).1
    }

    fn crm_mon_xml(&self) -> String {
        sh("crm_mon", &["-1", "--output-as=xml", "--include=all"]).1
    }

    /// The resource's state, if crm_mon lists it.
    pub fn resource(&self, id: &str) -> Option<ResourceState> {
        use ocf::xml;
        let text = self.crm_mon_xml();
        let doc = xml::parse(&text).ok()?;
        let r = xml::elements(&doc, "resource").find(|n| n.attribute("id") == Some(id))?;
        Some(ResourceState {
            role: r.attribute("role").unwrap_or_default().to_string(),
            active: r.attribute("active") == Some("true"),
            failed: r.attribute("failed") == Some("true"),
            node: xml::child(r, "node").and_then(|n| n.attribute("name").map(str::to_string)),
        })
    }

    /// The resource's fail count on node1 (0 when none is recorded).
    pub fn fail_count(&self, id: &str) -> u32 {
        use ocf::xml;
        let text = self.crm_mon_xml();
        let Ok(doc) = xml::parse(&text) else {
            return 0;
        };
        xml::elements(&doc, "resource_history")
            .find(|n| n.attribute("id") == Some(id))
            .and_then(|n| n.attribute("fail-count"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Wait until the resource reports `role` (e.g. "Started", "Stopped").
    pub fn wait_role(&self, id: &str, role: &str, limit: Duration) -> bool {
        wait_for(limit, || {
            self.resource(id)
                .is_some_and(|r| r.role == role && !r.failed)
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = repo().join("tests/harness/cluster.sh");
        let (code, out) = sh(script.to_str().unwrap(), &["down"]);
        if code != 0 {
            eprintln!("cluster.sh down failed:\n{out}");
        }
    }
}
