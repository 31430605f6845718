//! Differential conformance: every case runs against the anchor agent and
//! against ours on the same real parts and compares exit codes and what is
//! left on the node (see runner.rs). Intended differences are listed in the
//! cases and, with their reasons, in docs/compatibility.md.

// Builder methods some modules need and others do not.
#[allow(dead_code)]
mod runner;

mod database;
mod drbd;
mod dummy;
mod filesystem;
mod ipaddr;
mod mysql;
mod pgsql;
mod vm;
mod xen;

/// (case id, deviation reason) of one module's cases.
type CaseList = Vec<(&'static str, Option<&'static str>)>;

/// Every module's cases, by agent.
fn every_case() -> Vec<(&'static str, CaseList)> {
    vec![
        ("dummy", dummy::all()),
        ("ipaddr", ipaddr::all()),
        ("filesystem", filesystem::all()),
        ("database", database::all()),
        ("pgsql", pgsql::all()),
        ("mysql", mysql::all()),
        ("vm", vm::all()),
        ("xen", xen::all()),
        ("drbd", drbd::all()),
    ]
}

/// Every deviation a case lists is written, with its id, in
/// docs/compatibility.md; case ids are unique.
#[test]
fn every_deviation_is_documented() {
    let doc = runner::documented_deviations();
    let mut seen = std::collections::BTreeSet::new();
    let mut missing = Vec::new();
    for (_, cases) in every_case() {
        for (id, deviation) in cases {
            assert!(seen.insert(id), "case id {id} is used twice");
            if deviation.is_some() && !doc.contains(&format!("`{id}`")) {
                missing.push(id);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "deviations not in docs/compatibility.md: {missing:?}"
    );
}

/// The harness covers every agent, with at least 60 cases in all.
#[test]
fn every_agent_has_cases() {
    let all = every_case();
    for (agent, cases) in &all {
        assert!(cases.len() >= 4, "{agent}: only {} cases", cases.len());
    }
    let total: usize = all.iter().map(|(_, c)| c.len()).sum();
    assert!(total >= 60, "{total} cases");
}
