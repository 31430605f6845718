//! Bounded, best-effort calls to Pacemaker's tools: promotion scores, node
//! attributes, resource meta and utilization attributes.
//!
//! Every call runs `crm_attribute`/`crm_resource` by argv with
//! `--output-as=xml` (never the human text, which changed from "Master" to
//! "Promoted" once and broke drbd), read through [`crate::xml`], under the
//! caller's deadline capped at [`CALL_CAP`]: an IPC hang here must not
//! become a monitor timeout. Every option and its value go as one word
//! (`--node=<name>`), so a value that begins with `-` is never an option.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::env::Context;
use crate::exec::{self, Cmd};
use crate::xml;

/// Longest a single cluster tool call may take, whatever the action's budget.
pub const CALL_CAP: Duration = Duration::from_secs(10);

/// Why a cluster call failed; callers log it and carry on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

type Result<T> = std::result::Result<T, ClusterError>;

/// Run one tool with `--output-as=xml`; its XML text on success.
fn call(tool: &str, args: &[&str], dl: &Deadline) -> Result<String> {
    let cmd = Cmd::new(tool).arg("--output-as=xml").args(args);
    let out = exec::run(&cmd, &dl.cap(CALL_CAP)).map_err(|e| ClusterError(e.to_string()))?;
    let text = out.stdout_str();
    let status = xml::parse(&text)
        .ok()
        .and_then(|doc| xml::tool_status(&doc));
    match status {
        Some((0, _)) => Ok(text),
        Some((code, message)) => Err(ClusterError(format!("{tool} failed ({code} {message})"))),
        None => Err(ClusterError(format!(
            "{tool}: no result status ({})",
            out.describe()
        ))),
    }
}

/// Exit status 105 of a Pacemaker tool: "No such object" (an attribute
/// that is not set).
fn no_such_object(e: &ClusterError) -> bool {
    e.0.contains("(105 ")
}

/// The `value` of the first `<attribute>` of a crm_attribute query result.
pub fn attribute_value(text: &str) -> Option<String> {
    let doc = xml::parse(text).ok()?;
    xml::first(&doc, "attribute")?
        .attribute("value")
        .map(str::to_string)
}

/// The text of `<item name="NAME">TEXT</item>` in a crm_resource list.
pub fn item_text(text: &str, name: &str) -> Option<String> {
    let doc = xml::parse(text).ok()?;
    xml::elements(&doc, "item")
        .find(|n| n.attribute("name") == Some(name))
        .map(xml::text)
}

fn node_args(ctx: &Context) -> Vec<String> {
    ctx.on_node()
        .map(|n| vec![format!("--node={n}")])
        .unwrap_or_default()
}

/// Set this instance's promotion score (`master-<rsc>`, lifetime reboot).
pub fn set_promotion_score(ctx: &Context, score: i64, dl: &Deadline) -> Result<()> {
    let mut args = vec![
        format!("--promotion={}", ctx.instance),
        "--lifetime=reboot".into(),
    ];
    args.extend(node_args(ctx));
    args.push(format!("--update={score}"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    call("crm_attribute", &args, dl).map(drop)
}

/// Remove this instance's promotion score (no score: never promoted here).
pub fn delete_promotion_score(ctx: &Context, dl: &Deadline) -> Result<()> {
    let mut args = vec![
        format!("--promotion={}", ctx.instance),
        "--lifetime=reboot".into(),
    ];
    args.extend(node_args(ctx));
    args.push("--delete".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    call("crm_attribute", &args, dl).map(drop)
}

/// This instance's promotion score, `None` when there is none.
pub fn promotion_score(ctx: &Context, dl: &Deadline) -> Result<Option<i64>> {
    let mut args = vec![
        format!("--promotion={}", ctx.instance),
        "--lifetime=reboot".into(),
    ];
    args.extend(node_args(ctx));
    args.push("--query".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match call("crm_attribute", &args, dl) {
        Ok(xml) => Ok(attribute_value(&xml).and_then(|v| v.parse().ok())),
        Err(e) if no_such_object(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A permanent node attribute (`crm_attribute --type nodes`), `None` when unset.
/// The Xen agent reads a migration target's address this way.
pub fn node_attribute(node: &str, name: &str, dl: &Deadline) -> Result<Option<String>> {
    let (node, name) = (format!("--node={node}"), format!("--name={name}"));
    let args = ["--type=nodes", &node, &name, "--query"];
    match call("crm_attribute", &args, dl) {
        Ok(xml) => Ok(attribute_value(&xml)),
        Err(e) if no_such_object(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Set a permanent node attribute.
pub fn set_node_attribute(node: &str, name: &str, value: &str, dl: &Deadline) -> Result<()> {
    let (node, name) = (format!("--node={node}"), format!("--name={name}"));
    let value = format!("--update={value}");
    let args = ["--type=nodes", &node, &name, &value];
    call("crm_attribute", &args, dl).map(drop)
}

/// Set a resource meta attribute, e.g. `target-role=Stopped`.
pub fn set_resource_meta(resource: &str, name: &str, value: &str, dl: &Deadline) -> Result<()> {
    let args = [
        &format!("--resource={resource}"),
        "--meta",
        &format!("--set-parameter={name}"),
        &format!("--parameter-value={value}"),
    ];
    call("crm_resource", &args, dl).map(drop)
}

/// A resource utilization attribute, `None` when unset.
pub fn resource_utilization(resource: &str, name: &str, dl: &Deadline) -> Result<Option<String>> {
    let args = [
        &format!("--resource={resource}"),
        "--utilization",
        &format!("--get-parameter={name}"),
    ];
    match call("crm_resource", &args, dl) {
        // `<item name="cpu">2</item>`; a missing one is status 0 with no item.
        Ok(xml) => Ok(item_text(&xml, name)),
        Err(e) if no_such_object(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Set a resource utilization attribute.
pub fn set_resource_utilization(
    resource: &str,
    name: &str,
    value: &str,
    dl: &Deadline,
) -> Result<()> {
    let args = [
        &format!("--resource={resource}"),
        "--utilization",
        &format!("--set-parameter={name}"),
        &format!("--parameter-value={value}"),
    ];
    call("crm_resource", &args, dl).map(drop)
}

/// Remove the utilization attribute `name` of `resource` (crm_resource
/// answers 0 when it is not there either).
pub fn delete_resource_utilization(resource: &str, name: &str, dl: &Deadline) -> Result<()> {
    let args = [
        &format!("--resource={resource}"),
        "--utilization",
        &format!("--delete-parameter={name}"),
    ];
    call("crm_resource", &args, dl).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prop_assume;

    const FAIL: &str = r#"<pacemaker-result api-version="2.25" request="crm_attribute --output-as=xml -G">
  <status code="102" message="Not connected">
    <errors>
      <error>crm_attribute: Could not connect to the CIB: Transport endpoint is not connected</error>
    </errors>
  </status>
</pacemaker-result>"#;

    const QUERY: &str = r#"<pacemaker-result api-version="2.25" request="crm_attribute -G">
  <attribute name="master-d" value="1&amp;0&#x0A;" host="node1"/>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn statuses_and_errors() {
        let doc = xml::parse(FAIL).unwrap();
        let (code, msg) = xml::tool_status(&doc).unwrap();
        assert_eq!(code, 102);
        assert!(msg.contains("Could not connect"), "{msg}");
        let doc = xml::parse(QUERY).unwrap();
        assert_eq!(xml::tool_status(&doc), Some((0, "OK".to_string())));
    }

    /// Pacemaker 2.1.7+ writes control characters as `&#xNN;`.
    #[test]
    fn attribute_values_with_every_reference() {
        assert_eq!(attribute_value(QUERY).as_deref(), Some("1&0\n"));
        assert_eq!(attribute_value("garbage"), None);
        assert_eq!(attribute_value("<r><status code=\"0\"/></r>"), None);
    }

    /// `<items>` is not `<item>`, an empty item is not the next one's text.
    #[test]
    fn list_items() {
        let xml = r#"<pacemaker-result api-version="2.25">
  <list name="attributes" count="2">
    <items name="cpu">wrong</items>
    <item name="mem">1&amp;024</item>
    <item name="cpu">2</item>
  </list>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        assert_eq!(item_text(xml, "cpu").as_deref(), Some("2"));
        assert_eq!(item_text(xml, "mem").as_deref(), Some("1&024"));
        assert_eq!(item_text(xml, "disk"), None);
        assert_eq!(
            item_text("<l><item name=\"a\"/><item name=\"b\">x</item></l>", "a").as_deref(),
            Some("")
        );
    }

    fn escape(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '&' => "&amp;".to_string(),
                '"' => "&quot;".to_string(),
                '\'' => "&#39;".to_string(),
                '\n' => "&#10;".to_string(),
                '\t' => "&#x9;".to_string(),
                c => c.to_string(),
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any text: no panic, whatever is asked of it.
        #[test]
        fn readers_never_panic(text in "(<|>|/|=|\"|'|&|#|;|x|0|a|é|item|node|status| |\n|[ -~]){0,80}") {
            let _ = attribute_value(&text);
            let _ = item_text(&text, "a");
            let _ = xml::parse(&text).ok().and_then(|d| xml::tool_status(&d));
        }

        /// What libxml2 writes is read back as it was.
        #[test]
        fn escaped_values_round_trip(value in "\\PC{0,40}", name in "[a-z]{1,8}") {
            prop_assume!(!value.contains('\0') && !value.contains('\r') && value.trim() == value);
            let esc = escape(&value);
            let text = format!("<r><items/><item name=\"{}\">{esc}</item><attribute name=\"{}\" value=\"{esc}\"/></r>", escape(&name), escape(&name));
            proptest::prop_assert_eq!(item_text(&text, &name), Some(value.clone()));
            proptest::prop_assert_eq!(attribute_value(&text), Some(value));
        }
    }

    #[test]
    fn missing_tool_is_an_error_not_a_hang() {
        let e = call(
            "no-such-crm-tool",
            &[],
            &Deadline::after(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(e.0.contains("not found"), "{e}");
    }
}
