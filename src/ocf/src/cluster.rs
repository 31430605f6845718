//! Bounded, best-effort calls to Pacemaker's tools: promotion scores, node
//! attributes, resource meta and utilization attributes.
//!
//! Every call runs `crm_attribute`/`crm_resource` by argv with
//! `--output-as=xml` (never the human text, which changed from "Master" to
//! "Promoted" once and broke drbd), under the caller's deadline capped at
//! [`CALL_CAP`]: an IPC hang here must not become a monitor timeout.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::env::Context;
use crate::exec::{self, Cmd};

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

/// Run one tool with `--output-as=xml`; the XML on success.
fn call(tool: &str, args: &[&str], dl: &Deadline) -> Result<String> {
    let cmd = Cmd::new(tool).arg("--output-as=xml").args(args);
    let out = exec::run(&cmd, &dl.cap(CALL_CAP)).map_err(|e| ClusterError(e.to_string()))?;
    let xml = out.stdout_str();
    match status(&xml) {
        Some((0, _)) => Ok(xml),
        Some((code, message)) => {
            let detail = element_text(&xml, "error").unwrap_or_default();
            Err(ClusterError(
                format!("{tool} failed ({code} {message}) {detail}")
                    .trim()
                    .to_string(),
            ))
        }
        None => Err(ClusterError(format!(
            "{tool}: no result status ({})",
            out.describe()
        ))),
    }
}

/// `<status code="N" message="M">` of a pacemaker-result document.
pub fn status(xml: &str) -> Option<(i32, String)> {
    let tag = find_tag(xml, "status")?;
    let code = attribute(tag, "code")?.parse().ok()?;
    Some((code, attribute(tag, "message").unwrap_or_default()))
}

/// The text of the first `<name>...</name>` element, unescaped.
pub fn element_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(unescape(xml[start..end].trim()))
}

/// The inside of the first `<name ...>` start tag.
pub fn find_tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = xml;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let tag_name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if tag_name == name {
            return Some(tag);
        }
        rest = &rest[end..];
    }
}

/// The unescaped value of attribute `name` inside a start tag.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].split_whitespace().last().unwrap_or("");
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let close = after[1..].find(quote)? + 1;
        if key == name {
            return Some(unescape(&after[1..close]));
        }
        rest = &after[close + 1..];
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

/// The text of `<item name="NAME">TEXT</item>` in a list result.
pub fn item_text(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(at) = rest.find("<item") {
        rest = &rest[at..];
        let tag = find_tag(rest, "item")?;
        let after = &rest[tag.len() + 2..];
        if attribute(tag, "name").as_deref() == Some(name) && !tag.ends_with('/') {
            let end = after.find("</item>")?;
            return Some(unescape(after[..end].trim()));
        }
        rest = after;
    }
    None
}

/// The `value` of the first `<attribute>` in a query result, if any.
fn attribute_value(xml: &str) -> Option<String> {
    find_tag(xml, "attribute").and_then(|t| attribute(t, "value"))
}

fn node_args(ctx: &Context) -> Vec<String> {
    ctx.on_node()
        .map(|n| vec!["--node".to_string(), n.to_string()])
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
        // 105 = "No such object": the attribute does not exist.
        Err(e) if e.0.contains("(105 ") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A permanent node attribute (`crm_attribute --type nodes`), `None` when unset.
/// The Xen agent reads a migration target's address this way.
pub fn node_attribute(node: &str, name: &str, dl: &Deadline) -> Result<Option<String>> {
    let args = ["--type", "nodes", "--node", node, "--name", name, "--query"];
    match call("crm_attribute", &args, dl) {
        Ok(xml) => Ok(attribute_value(&xml)),
        Err(e) if e.0.contains("(105 ") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Set a permanent node attribute.
pub fn set_node_attribute(node: &str, name: &str, value: &str, dl: &Deadline) -> Result<()> {
    let args = [
        "--type", "nodes", "--node", node, "--name", name, "--update", value,
    ];
    call("crm_attribute", &args, dl).map(drop)
}

/// Set a resource meta attribute, e.g. `target-role=Stopped`.
pub fn set_resource_meta(resource: &str, name: &str, value: &str, dl: &Deadline) -> Result<()> {
    let args = [
        "--resource",
        resource,
        "--meta",
        "--set-parameter",
        name,
        "--parameter-value",
        value,
    ];
    call("crm_resource", &args, dl).map(drop)
}

/// A resource utilization attribute, `None` when unset.
pub fn resource_utilization(resource: &str, name: &str, dl: &Deadline) -> Result<Option<String>> {
    let args = [
        "--resource",
        resource,
        "--utilization",
        "--get-parameter",
        name,
    ];
    match call("crm_resource", &args, dl) {
        // `<item name="cpu">2</item>`; a missing one is status 0 with no item.
        Ok(xml) => Ok(item_text(&xml, name)),
        Err(e) if e.0.contains("(105 ") => Ok(None),
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
        "--resource",
        resource,
        "--utilization",
        "--set-parameter",
        name,
        "--parameter-value",
        value,
    ];
    call("crm_resource", &args, dl).map(drop)
}

/// Remove the utilization attribute `name` of `resource` (crm_resource
/// answers 0 when it is not there either).
pub fn delete_resource_utilization(resource: &str, name: &str, dl: &Deadline) -> Result<()> {
    let args = [
        "--resource",
        resource,
        "--utilization",
        "--delete-parameter",
        name,
    ];
    call("crm_resource", &args, dl).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: &str = r#"<pacemaker-result api-version="2.25" request="crm_attribute --output-as=xml -G">
  <status code="102" message="Not connected">
    <errors>
      <error>crm_attribute: Could not connect to the CIB: Transport endpoint is not connected</error>
    </errors>
  </status>
</pacemaker-result>"#;

    const QUERY: &str = r#"<pacemaker-result api-version="2.25" request="crm_attribute -G">
  <attribute name="master-d" value="1&amp;0" host="node1"/>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn parses_status_and_errors() {
        assert_eq!(status(FAIL), Some((102, "Not connected".to_string())));
        assert!(
            element_text(FAIL, "error")
                .unwrap()
                .contains("Could not connect")
        );
        assert_eq!(status(QUERY), Some((0, "OK".to_string())));
        assert_eq!(status("garbage"), None);
    }

    #[test]
    fn parses_attribute_values() {
        assert_eq!(attribute_value(QUERY).as_deref(), Some("1&0"));
        let tag = find_tag(QUERY, "attribute").unwrap();
        assert_eq!(attribute(tag, "host").as_deref(), Some("node1"));
        assert_eq!(attribute(tag, "nope"), None);
        assert_eq!(attribute("x a='q' b=\"r\"", "b").as_deref(), Some("r"));
    }

    #[test]
    fn parses_list_items() {
        let xml = r#"<pacemaker-result api-version="2.25">
  <list name="attributes" count="2">
    <item name="mem">1&amp;024</item>
    <item name="cpu">2</item>
  </list>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        assert_eq!(item_text(xml, "cpu").as_deref(), Some("2"));
        assert_eq!(item_text(xml, "mem").as_deref(), Some("1&024"));
        assert_eq!(item_text(xml, "disk"), None);
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
