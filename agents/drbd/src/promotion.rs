//! The promotion score on this node: the rules of [`crate::score`]
//! applied with a bounded `crm_attribute`, and whether Pacemaker knows of a
//! promoted instance elsewhere (`crm_resource --locate`, read with
//! `ocf::xml`).

use std::time::Duration;

use ocf::exec::{self, Cmd};
use ocf::{Context, Deadline};

use crate::config::Config;
use crate::score::{self, Decision, ScoreAction};
use crate::state::ResourceState;
use crate::tools::run_tool;

/// Apply the score rules to `st`: bounded and best effort.
pub fn update_score(cfg: &Config, ctx: &Context, st: &ResourceState, dl: &Deadline) {
    let promoted_max = ctx.clone_info().and_then(|c| c.promoted_max).unwrap_or(1);
    let mut knows = || pacemaker_knows_a_primary(ctx, dl);
    let d: Decision = score::decide(st, &cfg.scores, cfg.peer_primary, promoted_max, &mut knows);
    ocf::debug!("score: {:?} ({})", d.action, d.rule);
    let result = match d.action {
        ScoreAction::Set(n) => ocf::cluster::set_promotion_score(ctx, n, dl),
        ScoreAction::Remove => ocf::cluster::delete_promotion_score(ctx, dl),
        ScoreAction::Unchanged => Ok(()),
    };
    if let Err(e) = result {
        ocf::warn!("cannot update the promotion score ({}): {e}", d.rule);
    }
    if d.all_up_to_date && cfg.unfence_if_all_uptodate {
        let cmd = Cmd::new(&cfg.drbdadm)
            .args([
                "-c",
                cfg.drbdconf.as_str(),
                "unfence-peer",
                cfg.resource.as_str(),
            ])
            .env("OCF_RESKEY_unfence_extra_args", &cfg.unfence_extra_args);
        if let Err(e) = run_tool(cmd, &dl.cap(Duration::from_secs(10))) {
            ocf::warn!("unfence-peer: {e}");
        }
    }
}

pub fn remove_score(ctx: &Context, dl: &Deadline) {
    if let Err(e) = ocf::cluster::delete_promotion_score(ctx, dl) {
        ocf::warn!("cannot remove the promotion score: {e}");
    }
}

/// Does Pacemaker report a promoted instance of this clone on another node?
/// `crm_resource --locate --output-as=xml`, never its human text (0a014f29).
pub fn pacemaker_knows_a_primary(ctx: &Context, dl: &Deadline) -> bool {
    let resource = format!("--resource={}", ctx.instance_base());
    let cmd = Cmd::new("crm_resource").args(["--output-as=xml", resource.as_str(), "--locate"]);
    match exec::run(&cmd, &dl.cap(Duration::from_secs(5))) {
        Ok(out) if out.success() => promoted_elsewhere(&out.stdout_str(), ctx.on_node()),
        Ok(out) => {
            ocf::warn!("crm_resource --locate: {}", out.describe());
            true // unknown: do not take the score away
        }
        Err(e) => {
            ocf::warn!("crm_resource --locate: {e}");
            true
        }
    }
}

/// Does a `crm_resource --locate --output-as=xml` answer name a promoted
/// instance on a node other than `me`? Pacemaker 2.1.5 writes
/// `<node state="promoted">node1</node>` (seen in tests/it/cluster_drbd.rs);
/// a `name=`/`role="Promoted"` (or legacy `Master`) form is read as well.
/// Only `<node>` elements count (not `<nodes>`), and only their `state` or
/// `role` says promoted (a node or resource *named* "promoted" does not).
pub fn promoted_elsewhere(text: &str, me: Option<&str>) -> bool {
    // An answer we cannot read is no reason to take a score away: count it
    // as "promoted elsewhere", as a failed crm_resource call does.
    let Ok(doc) = ocf::xml::parse(text) else {
        return true;
    };
    ocf::xml::elements(&doc, "node").any(|node| {
        let says_promoted = |key: &str| {
            node.attribute(key).is_some_and(|v| {
                v.eq_ignore_ascii_case("promoted") || v.eq_ignore_ascii_case("master")
            })
        };
        let name = node
            .attribute("name")
            .map(str::to_string)
            .unwrap_or_else(|| ocf::xml::text(node));
        (says_promoted("state") || says_promoted("role")) && Some(name.as_str()) != me
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::is_module_parameter;
    use crate::record::parse_minors;

    #[test]
    fn locate_xml() {
        let xml = r#"<pacemaker-result api-version="2.25" request="crm_resource --locate">
      <nodes resource="d-clone" threshold="5">
    <node name="node1" id="1" cached="true" role="Unpromoted"/>
    <node name="node2" id="2" cached="true" role="Promoted"/>
      </nodes>
      <status code="0" message="OK"/>
    </pacemaker-result>"#;
        assert!(promoted_elsewhere(xml, Some("node1")));
        assert!(!promoted_elsewhere(xml, Some("node2")));
        let text_form = r#"<nodes resource="d"><node state="promoted">node2</node></nodes>"#;
        assert!(promoted_elsewhere(text_form, Some("node1")));
        assert!(!promoted_elsewhere("<nodes/>", Some("node1")));
        assert!(!promoted_elsewhere(
            "<nodes><node state=\"promoted\" name=\"node1\"/></nodes>",
            Some("node1")
        ));
        // `<nodes>` is not a `<node>`, and a name is not a role: the first
        // reader took `<nodes resource="promoted">` for a promoted node
        // named by the text up to the next tag.
        let named =
            r#"<nodes resource="promoted"><node state="unpromoted">promoted</node></nodes>"#;
        assert!(!promoted_elsewhere(named, Some("node1")));
        let escaped = r#"<nodes resource="d"><node state="promoted">n&amp;1</node></nodes>"#;
        assert!(!promoted_elsewhere(escaped, Some("n&1")));
        assert!(promoted_elsewhere(escaped, Some("n1")));
        // Cut short before the name: a promoted instance somewhere, as
        // when crm_resource fails (the score is not taken away on a guess).
        assert!(promoted_elsewhere(
            "<node state=\"promoted\">me",
            Some("me")
        ));
    }

    fn xml_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A `crm_resource --locate` answer in either form, with any node
        /// names: "promoted elsewhere" is exactly what the list says.
        #[test]
        fn locate_answers_are_read_exactly(
            nodes in proptest::collection::vec(("\\PC{1,12}", proptest::prelude::any::<bool>(), proptest::prelude::any::<bool>()), 0..5),
            me in "\\PC{1,12}",
            resource in "\\PC{0,12}",
        ) {
            proptest::prop_assume!(nodes.iter().all(|(n, ..)| n.trim() == n && !n.is_empty()));
            let mut xml = format!("<pacemaker-result><nodes resource=\"{}\">", xml_escape(&resource));
            for (name, promoted, attr_form) in &nodes {
                if *attr_form {
                    let role = if *promoted { "Promoted" } else { "Unpromoted" };
                    xml += &format!("<node name=\"{}\" id=\"1\" role=\"{role}\"/>", xml_escape(name));
                } else if *promoted {
                    xml += &format!("<node state=\"promoted\">{}</node>", xml_escape(name));
                } else {
                    xml += &format!("<node>{}</node>", xml_escape(name));
                }
            }
            xml += "</nodes><status code=\"0\" message=\"OK\"/></pacemaker-result>";
            let want = nodes.iter().any(|(n, p, _)| *p && *n != me);
            proptest::prop_assert_eq!(promoted_elsewhere(&xml, Some(&me)), want, "{}", xml);
        }

        /// Any text as a locate answer or sh-mod-parms output: no panic, and
        /// no word handed to modprobe can read as an option.
        #[test]
        fn any_tool_output_is_read_safely(text in "(<|>|node|nodes|state=|\"|promoted|&|;|#|x|-|=|_| |\n|[ -~]){0,120}") {
            let _ = promoted_elsewhere(&text, Some("n1"));
            let _ = promoted_elsewhere(&text, None);
            for w in text.split_whitespace().filter(|w| is_module_parameter(w)) {
                proptest::prop_assert!(!w.starts_with('-') && !w.starts_with('='), "{}", w);
            }
            let minors = parse_minors(&text);
            proptest::prop_assert!(minors.windows(2).all(|m| m[0] < m[1]));
        }
    }
}
