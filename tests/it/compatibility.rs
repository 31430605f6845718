//! docs/compatibility.md keeps a decision for every parameter of every
//! anchor agent (issue 16): read from the anchors' own meta-data, so a
//! parameter added upstream shows up here as a failure, not as a silent
//! configuration error for someone switching provider.

use std::process::Command;

use support::repo;

/// Each anchor agent and the heading of its table in docs/compatibility.md.
const ANCHORS: &[(&str, &str)] = &[
    ("heartbeat/IPaddr2", "### IPaddr2 ("),
    ("heartbeat/Filesystem", "### Filesystem ("),
    ("heartbeat/VirtualDomain", "### VirtualDomain ("),
    ("heartbeat/Xen", "### Xen ("),
    ("heartbeat/pgsql", "### pgsql (`ocf:heartbeat:pgsql` -> "),
    ("heartbeat/mysql", "### mysql (`ocf:heartbeat:mysql` -> "),
    ("linbit/drbd", "### drbd (`ocf:linbit:drbd` -> "),
];

/// The parameter names of an anchor's meta-data.
fn anchor_parameters(agent: &str) -> Vec<String> {
    let out = Command::new(format!("/usr/lib/ocf/resource.d/{agent}"))
        .arg("meta-data")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .output()
        .unwrap_or_else(|e| panic!("{agent} meta-data: {e}"));
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    let names: Vec<String> = xml
        .split("<parameter name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    assert!(!names.is_empty(), "{agent} printed no parameters:\n{xml}");
    names
}

#[test]
fn every_anchor_parameter_has_a_written_decision() {
    let doc = std::fs::read_to_string(repo().join("docs/compatibility.md")).unwrap();
    let params = &doc[doc
        .find("## Parameters: every anchor parameter")
        .expect("the parameters section")..];
    let mut missing = vec![];
    for (agent, heading) in ANCHORS {
        let start = params
            .find(heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let body = &params[start + heading.len()..];
        let end = [body.find("\n### "), body.find("\n## ")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(body.len());
        let body = &body[..end];
        let rows: Vec<&str> = body.lines().filter(|l| l.starts_with("| `")).collect();
        for name in anchor_parameters(agent) {
            let cell = format!("`{name}`");
            let decided = rows.iter().any(|row| {
                let first = row.split('|').nth(1).unwrap_or_default();
                first.split(", ").any(|c| c.trim() == cell)
            });
            if !decided {
                missing.push(format!("{agent}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "anchor parameters without a decision in docs/compatibility.md: {missing:?}"
    );
}
