//! docs/cookbook.md is generated from the scenario table the end-to-end
//! tests run (tests/support/src/scenarios.rs), so its pcs commands are the tested
//! ones. `E2E_BLESS=1 cargo test --test it cookbook` rewrites it.

use support::drbd as drbd_sim;

use std::fs;

use support::repo;
use support::scenarios::cookbook;

#[test]
fn cookbook_is_generated_from_the_tested_commands() {
    let path = repo().join("docs/cookbook.md");
    let generated = cookbook();
    if std::env::var_os("E2E_BLESS").is_some() {
        fs::write(&path, &generated).unwrap();
    }
    let text = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        text == generated,
        "{} differs from the scenario table: run `E2E_BLESS=1 cargo test --test it cookbook`",
        path.display()
    );
}

/// The scenario table fills its placeholders, and a rust variant whose
/// agent is missing from the binary is skipped with a message that says so.
#[test]
fn scenario_table_fills_placeholders_and_names_missing_agents() {
    use support::scenarios::{Agents, service_stack};
    let sc = service_stack(&Agents::heartbeat());
    let cmds = sc.commands("create", &[("disk", "/dev/loop9")]);
    assert!(cmds.iter().flatten().any(|a| a == "device=/dev/loop9"));
    assert!(cmds.iter().flatten().any(|a| a == "ocf:heartbeat:pgsql"));
    let ours = service_stack(&Agents::rust_as("p"));
    let cmds = ours.commands("create", &[("disk", "/dev/loop9")]);
    assert!(cmds.iter().flatten().any(|a| a == "ocf:p:database"));
    assert_eq!(Agents::heartbeat().missing(&["no-such-agent"]), None);
    assert_eq!(
        Agents::rust_as("p").missing(&["dummy", "no-such-agent"]),
        Some("agent no-such-agent not built into this binary".to_string())
    );
    assert_eq!(Agents::rust_as("p").missing(&["dummy"]), None);
}

/// A command with a placeholder left in it is never run.
#[test]
#[should_panic(expected = "unfilled placeholder")]
fn an_unfilled_placeholder_is_refused() {
    use support::scenarios::{Agents, service_stack};
    service_stack(&Agents::heartbeat()).commands("create", &[]);
}

/// crm_mon's XML as the harness reads it: a primitive in a group with its
/// node, a stopped one (self-closing), the online nodes.
#[test]
fn crm_mon_xml_is_read_right() {
    use support::nscluster::parse_resource;
    let xml = r#"<crm_mon><nodes>
  <node name="node1" id="1" online="true" standby="false"/>
  <node name="node2" id="2" online="false" standby="false"/>
</nodes><resources>
  <group id="stack" number_resources="2">
    <resource id="stack-fs" resource_agent="ocf:heartbeat:Filesystem" role="Started" active="true" failed="false" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="stack-ip" resource_agent="ocf:heartbeat:IPaddr2" role="Stopped" active="false" failed="false" nodes_running_on="0"/>
  </group>
</resources></crm_mon>"#;
    let fs = parse_resource(xml, "stack-fs").unwrap();
    assert_eq!(
        (fs.role.as_str(), fs.failed, fs.node.as_deref()),
        ("Started", false, Some("node1"))
    );
    let ip = parse_resource(xml, "stack-ip").unwrap();
    assert_eq!((ip.role.as_str(), ip.node), ("Stopped", None));
    assert!(parse_resource(xml, "nothing").is_none());
}

/// A promotable clone's instances, one per node, each with its role.
#[test]
fn clone_instances_are_read_with_their_roles() {
    use support::nscluster::parse_instances;
    let xml = r#"<crm_mon><resources>
  <clone id="r0-clone" multi_state="true" unique="false" failed="false">
    <resource id="r0" resource_agent="ocf:rust:drbd" role="Promoted" active="true" failed="false" nodes_running_on="1">
      <node name="node2" id="2" cached="true"/>
    </resource>
    <resource id="r0" resource_agent="ocf:rust:drbd" role="Unpromoted" active="true" failed="true" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="r0" resource_agent="ocf:rust:drbd" role="Stopped" active="false" failed="false" nodes_running_on="0"/>
  </clone>
</resources></crm_mon>"#;
    let got: Vec<(String, bool, Option<String>)> = parse_instances(xml, "r0")
        .into_iter()
        .map(|r| (r.role, r.failed, r.node))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Promoted".into(), false, Some("node2".into())),
            ("Unpromoted".into(), true, Some("node1".into())),
            ("Stopped".into(), false, None),
        ]
    );
    assert!(parse_instances(xml, "r0-clone").is_empty());
}

/// Nothing a cluster node runs or reads may resolve into the checkout or
/// `/tmp` (every node of tests/harness/ns-cluster.sh has a private /tmp, and
/// the checkout may live there): the DRBD simulator's tools as the DRBD
/// scenario hands them to the nodes pass the guard `NsCluster::pcs` applies
/// to every argument, and the way they were made before (links into the
/// checkout) fails it.
#[test]
fn no_path_handed_to_a_node_resolves_under_the_checkout_or_tmp() {
    use std::path::Path;
    use support::nscluster::assert_node_visible;
    let dir = format!("/var/tmp/ocf-rs-guard-{}", std::process::id());
    let sim = drbd_sim::Sim::new_in(Path::new(&dir), &["node1", "node2"], &["--by-hostname"]);
    for tool in ["drbdadm", "drbdsetup"] {
        let p = format!("{dir}/by-hostname/bin/{tool}");
        assert_node_visible(&format!("{tool}={p}"));
        let target = fs::canonicalize(&p).unwrap();
        assert!(target.starts_with(&dir), "{p} -> {}", target.display());
    }
    assert_node_visible(&format!("drbdconf={}", sim.conf.display()));

    // the guard fails where it must: a link into the checkout, a file under
    // /tmp, and a file that names one
    let into_checkout = format!("{dir}/old-style-link");
    std::os::unix::fs::symlink(drbd_sim::simulator(), &into_checkout).unwrap();
    let tmp_file = std::env::temp_dir().join(format!("ocf-rs-guard-{}", std::process::id()));
    fs::write(&tmp_file, "x").unwrap();
    let naming = format!("{dir}/domain.xml");
    fs::write(&naming, format!("<kernel>{}</kernel>", tmp_file.display())).unwrap();
    for bad in [
        format!("drbdadm={into_checkout}"),
        tmp_file.display().to_string(),
        format!("config={naming}"),
    ] {
        let refused = std::panic::catch_unwind(|| assert_node_visible(&bad)).is_err();
        assert!(refused, "the guard let {bad} through");
    }
    let _ = fs::remove_file(&tmp_file);
}
