//! `ocf-rs migrate --apply`: switch the resources that can switch, the way
//! that keeps them running (docs/migrate.md):
//!
//! 1. each is unmanaged (its own `is-managed=false`, one CIB update), so
//!    Pacemaker does not restart a resource whose agent changed;
//! 2. class/provider/type of all of them change in ONE CIB update;
//! 3. `crm_resource --refresh` of each: the new agent probes it;
//! 4. crm_mon must show each under the new agent, on the same nodes in the
//!    same roles as before, not failed;
//! 5. management is put back as it was.
//!
//! On a failure in 2-4 the agents are put back (one update), re-probed,
//! and management is restored once they show as before. Every tool runs
//! through ocf::exec with a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use ocf::Deadline;
use ocf::exec::{self, Cmd};
use ocf::xml;

use super::cib::Primitive;
use super::cibxml::{Restore, Update, restore_managed};
use super::plan::{Item, Plan};

/// Exit codes of `--apply` beyond the report's 0 and 1.
pub const ROLLED_BACK: i32 = 3;
pub const NEEDS_HANDS: i32 = 4;

/// One instance of a resource as crm_mon reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub agent: String,
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub managed: bool,
    pub nodes: Vec<String>,
}

/// The instances of every resource in crm_mon's XML, keyed by primitive id
/// (a clone instance's `:N` dropped).
pub fn parse_states(text: &str) -> Result<BTreeMap<String, Vec<State>>, String> {
    let doc = xml::parse(text).map_err(|e| format!("crm_mon printed no XML: {e}"))?;
    let resources = xml::first(&doc, "resources").ok_or("crm_mon printed no <resources>")?;
    let mut out: BTreeMap<String, Vec<State>> = BTreeMap::new();
    for r in resources
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "resource")
    {
        let id = r.attribute("id").unwrap_or_default();
        let id = id.split(':').next().unwrap_or(id).to_string();
        let yes = |a: &str| r.attribute(a) == Some("true");
        out.entry(id).or_default().push(State {
            agent: r.attribute("resource_agent").unwrap_or_default().into(),
            role: r.attribute("role").unwrap_or_default().into(),
            active: yes("active"),
            failed: yes("failed"),
            managed: yes("managed"),
            nodes: xml::children(r, "node")
                .filter_map(|n| n.attribute("name").map(str::to_string))
                .collect(),
        });
    }
    Ok(out)
}

/// Where and how a resource runs: (node, role) of each active instance.
pub fn placement(states: &[State]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = states
        .iter()
        .filter(|s| s.active)
        .flat_map(|s| s.nodes.iter().map(move |n| (n.clone(), s.role.clone())))
        .collect();
    v.sort();
    v
}

fn tool(args: &[&str], dl: &Deadline) -> Result<String, String> {
    let cmd = Cmd::new(args[0]).args(&args[1..]);
    let out = exec::run(&cmd, &dl.cap(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out.stdout_str())
    } else {
        Err(format!("{cmd}: {}", out.describe()))
    }
}

pub fn states(dl: &Deadline) -> Result<BTreeMap<String, Vec<State>>, String> {
    let text = tool(
        &["crm_mon", "--one-shot", "--output-as=xml", "--inactive"],
        dl,
    )?;
    parse_states(&text)
}

fn modify(xml: &str, dl: &Deadline) -> Result<(), String> {
    println!("  cibadmin --modify --scope resources --xml-text '{xml}'");
    tool(
        &[
            "cibadmin",
            "--modify",
            "--scope",
            "resources",
            "--xml-text",
            xml,
        ],
        dl,
    )
    .map(|_| ())
}

fn restore_management(items: &[&Item], dl: &Deadline) -> Result<(), String> {
    let mut errors = vec![];
    for i in items {
        let r = match restore_managed(&i.prim) {
            Restore::Modify(x) => modify(&x, dl),
            Restore::Delete(x) => {
                println!("  cibadmin --delete --scope resources --xml-text '{x}'");
                tool(
                    &[
                        "cibadmin",
                        "--delete",
                        "--scope",
                        "resources",
                        "--xml-text",
                        &x,
                    ],
                    dl,
                )
                .map(|_| ())
            }
        };
        if let Err(e) = r {
            errors.push(format!("{}: {e}", i.prim.id));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn refresh(items: &[&Item], dl: &Deadline) -> Result<(), String> {
    for i in items {
        println!("  crm_resource --refresh --resource {}", i.prim.id);
        tool(&["crm_resource", "--refresh", "--resource", &i.prim.id], dl)?;
    }
    Ok(())
}

/// Wait until every resource runs under `agent_of` it as `before`; an
/// instance reported failed ends the wait at once.
fn wait_as_before(
    items: &[&Item],
    before: &BTreeMap<String, Vec<(String, String)>>,
    agent_of: impl Fn(&Item) -> String,
    dl: &Deadline,
) -> Result<(), String> {
    let mut last = String::new();
    let done = dl.poll(Duration::from_millis(500), || {
        let st = match states(dl) {
            Ok(s) => s,
            Err(e) => {
                // The state seen last says more than a tool cut off at the end.
                if last.is_empty() {
                    last = e;
                }
                return None;
            }
        };
        for i in items {
            let want = agent_of(i);
            let now = st.get(&i.prim.id).cloned().unwrap_or_default();
            if let Some(f) = now.iter().find(|s| s.failed) {
                return Some(Err(format!(
                    "{} failed under {} ({} on {:?})",
                    i.prim.id, f.agent, f.role, f.nodes
                )));
            }
            let agents_ok = !now.is_empty() && now.iter().all(|s| s.agent == want);
            let place = placement(&now);
            if !agents_ok || Some(&place) != before.get(&i.prim.id) {
                let mut agents: Vec<&str> = now.iter().map(|s| s.agent.as_str()).collect();
                agents.dedup();
                last = format!(
                    "{}: {} under {} (before: {})",
                    i.prim.id,
                    show(&place),
                    agents.join(", "),
                    show(
                        before
                            .get(&i.prim.id)
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                    )
                );
                return None;
            }
        }
        Some(Ok(()))
    });
    match done {
        Some(r) => r,
        None => Err(format!("not as before in time: {last}")),
    }
}

fn old_agent(p: &Primitive) -> String {
    p.agent()
}

/// Switch every resource of the plan that can switch. Returns the exit code.
pub fn apply(plan: &Plan, dl: &Deadline, verify: Duration) -> i32 {
    let items: Vec<&Item> = plan.switching().collect();
    let blocked = plan.blocked().count();
    if items.is_empty() {
        println!("Nothing to switch.");
        return plan.exit_code();
    }
    let provider = plan.provider.as_str();
    let new_agent = |i: &Item| i.new_agent(provider).unwrap_or_default();

    println!("Checking that Pacemaker knows the new agents on this node:");
    for i in &items {
        let a = new_agent(i);
        if let Err(e) = tool(&["crm_resource", "--show-metadata", &a], dl) {
            println!("  {a}: {e}");
            println!("Nothing changed: install ocf-rs on every node first (ocf-rs install).");
            return 1;
        }
        println!("  {a}: found");
    }
    let st = match states(dl) {
        Ok(s) => s,
        Err(e) => {
            println!("Nothing changed: {e}");
            return 2;
        }
    };
    println!("Before:");
    let mut before = BTreeMap::new();
    for i in &items {
        let now = st.get(&i.prim.id).cloned().unwrap_or_default();
        if let Some(f) = now.iter().find(|s| s.failed) {
            println!(
                "Nothing changed: {} is failed ({} on {:?}); clean it up first",
                i.prim.id, f.role, f.nodes
            );
            return 1;
        }
        let place = placement(&now);
        println!(
            "  {}: {}, under {}",
            i.prim.id,
            show(&place),
            i.prim.agent()
        );
        before.insert(i.prim.id.clone(), place);
    }

    println!("1. Unmanaging the resources (one CIB update):");
    let mut u = Update::default();
    for i in &items {
        u.managed(&i.prim, "false");
    }
    if let Err(e) = modify(&u.xml(), dl) {
        println!("Failed: {e}");
        return match restore_management(&items, dl) {
            Ok(()) => ROLLED_BACK,
            Err(e) => hands(&items, &format!("putting management back failed: {e}")),
        };
    }
    let unmanaged = dl.poll(Duration::from_millis(300), || {
        let st = states(dl).ok()?;
        items
            .iter()
            .all(|i| {
                st.get(&i.prim.id)
                    .is_some_and(|v| v.iter().all(|s| !s.managed))
            })
            .then_some(())
    });
    let switch = || -> Result<(), String> {
        if unmanaged.is_none() {
            return Err("crm_mon does not show the resources unmanaged".into());
        }
        println!("2. Changing the agents (one CIB update):");
        let mut u = Update::default();
        for i in &items {
            let t = i.target.expect("a switching item has a target");
            u.agent(&i.prim, "ocf", Some(provider), t.info.name);
        }
        modify(&u.xml(), dl)?;
        println!("3. Re-probing them with the new agents:");
        refresh(&items, dl)?;
        println!("4. Waiting for each to report running under its new agent:");
        wait_as_before(&items, &before, new_agent, &dl.cap(verify))
    };
    if let Err(e) = switch() {
        println!("Failed: {e}");
        return roll_back(&items, &before, dl, verify);
    }
    for i in &items {
        println!(
            "  {}: {} as before, under {}",
            i.prim.id,
            show(&before[&i.prim.id]),
            new_agent(i)
        );
    }
    println!("5. Managing them again:");
    if let Err(e) = restore_management(&items, dl) {
        return hands(
            &items,
            &format!("the agents are switched, but management was not put back: {e}"),
        );
    }
    println!(
        "Switched {} resource(s){}.",
        items.len(),
        if blocked > 0 {
            format!("; {blocked} need the admin and were left on their agents")
        } else {
            String::new()
        }
    );
    plan.exit_code()
}

fn show(place: &[(String, String)]) -> String {
    if place.is_empty() {
        return "not running".into();
    }
    place
        .iter()
        .map(|(n, r)| format!("{r} on {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn roll_back(
    items: &[&Item],
    before: &BTreeMap<String, Vec<(String, String)>>,
    dl: &Deadline,
    verify: Duration,
) -> i32 {
    println!("Putting the agents back (one CIB update):");
    let mut u = Update::default();
    for i in items {
        let p = &i.prim;
        u.agent(p, &p.class, p.provider.as_deref(), &p.kind);
    }
    // The rest of the budget is for this: a fresh share if it is spent.
    let dl = if dl.remaining() < Duration::from_secs(30) {
        Deadline::after(Duration::from_secs(60))
    } else {
        *dl
    };
    if let Err(e) = modify(&u.xml(), &dl) {
        return hands(items, &format!("putting the agents back failed: {e}"));
    }
    if let Err(e) = refresh(items, &dl) {
        return hands(
            items,
            &format!("re-probing with the old agents failed: {e}"),
        );
    }
    if let Err(e) = wait_as_before(items, before, |i| old_agent(&i.prim), &dl.cap(verify)) {
        return hands(
            items,
            &format!("under the old agents again, but not as before: {e}; left unmanaged"),
        );
    }
    println!("Managing them again:");
    match restore_management(items, &dl) {
        Ok(()) => {
            println!("Rolled back: every resource is on its old agent, as before.");
            ROLLED_BACK
        }
        Err(e) => hands(items, &format!("putting management back failed: {e}")),
    }
}

fn hands(items: &[&Item], why: &str) -> i32 {
    println!("NEEDS YOUR HANDS: {why}");
    println!("Check with crm_mon -1 --include=all; the resources involved:");
    for i in items {
        println!("  {} (was {})", i.prim.id, i.prim.agent());
    }
    NEEDS_HANDS
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRM_MON: &str = r#"<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml">
  <resources>
    <group id="svc" number_resources="2" maintenance="false" managed="true" disabled="false">
      <resource id="vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" orphaned="false" blocked="false" maintenance="false" managed="false" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
      <resource id="db" resource_agent="ocf:rust:pgsql" role="Started" active="true" orphaned="false" blocked="false" maintenance="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
    </group>
    <clone id="drbd0-clone" multi_state="true" unique="false" maintenance="false" managed="true" disabled="false" failed="false" failure_ignored="false">
      <resource id="drbd0" resource_agent="ocf:linbit:drbd" role="Promoted" active="true" orphaned="false" blocked="false" maintenance="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node2" id="2" cached="true"/>
      </resource>
      <resource id="drbd0" resource_agent="ocf:linbit:drbd" role="Unpromoted" active="true" orphaned="false" blocked="false" maintenance="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
      <resource id="drbd0:2" resource_agent="ocf:linbit:drbd" role="Stopped" active="false" orphaned="false" blocked="false" maintenance="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="0"/>
    </clone>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn states_and_placement_from_crm_mon() {
        let st = parse_states(CRM_MON).unwrap();
        let vip = &st["vip"];
        assert_eq!(vip.len(), 1);
        assert!(vip[0].active && !vip[0].managed && !vip[0].failed);
        assert_eq!(vip[0].agent, "ocf:heartbeat:IPaddr2");
        assert_eq!(
            placement(&st["drbd0"]),
            [
                ("node1".to_string(), "Unpromoted".to_string()),
                ("node2".to_string(), "Promoted".to_string())
            ]
        );
        assert_eq!(st["drbd0"].len(), 3);
        assert!(parse_states("<x/>").is_err());
    }
}
