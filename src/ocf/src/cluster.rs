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
    find_tag_at(xml, name).map(|(at, tag)| &xml[at..at + tag])
}

/// Where the inside of the first `<name ...>` start (or empty) tag begins
/// in `xml`, and its length. The name must match whole (`<node` is not
/// `<nodes`), and a `>` inside a quoted attribute value does not end the
/// tag (libxml2 escapes it, other writers need not).
fn find_tag_at(xml: &str, name: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    loop {
        let at = from + xml[from..].find('<')? + 1;
        let len = tag_len(&xml[at..])?;
        let tag = &xml[at..at + len];
        let tag_name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if tag_name == name {
            return Some((at, len));
        }
        from = at + len;
    }
}

/// The length of a tag's inside up to its closing `>`, skipping quoted
/// values; None when it never closes.
fn tag_len(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '>') => return Some(i),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    None
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

/// XML's five named entities and numeric character references (`&#10;`,
/// `&#x0A;`: libxml2 writes a newline, tab or carriage return inside an
/// attribute that way), in one pass, so `&amp;lt;` stays `&lt;`. Anything
/// else (an unknown name, a reference to no character) is kept as written.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest
            .find(';')
            .filter(|end| *end <= 12)
            .and_then(|end| Some((entity(&rest[1..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "amp" => Some('&'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                    num.parse().ok()?
                }
                _ => return None,
            };
            char::from_u32(code).filter(|c| *c != '\0')
        }
    }
}

/// The text of `<item name="NAME">TEXT</item>` in a list result.
pub fn item_text(xml: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some((at, len)) = find_tag_at(&xml[from..], "item") {
        let tag = &xml[from + at..from + at + len];
        let after = from + at + len + 1;
        if attribute(tag, "name").as_deref() == Some(name) && !tag.ends_with('/') {
            let end = xml[after..].find("</item>")?;
            return Some(unescape(xml[after..after + end].trim()));
        }
        from = after;
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
    use proptest::prop_assume;

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

    /// The gaps of the first scanners: numeric references libxml2 writes
    /// in attributes were kept verbatim; `<items>` was taken for `<item>`
    /// (and the text after it cut at the wrong offset); a `>` inside a
    /// quoted value ended the tag.
    #[test]
    fn entities_whole_names_and_quoted_brackets() {
        assert_eq!(unescape("a&#x0A;b&#9;c&#39;d&#10;e&#X41;"), "a\nb\tc'd\neA");
        assert_eq!(unescape("&amp;lt; &lt;&gt;&quot;&apos;"), "&lt; <>\"'");
        for kept in [
            "&bogus;",
            "&#xD800;",
            "&#0;",
            "&#;",
            "&#x;",
            "& x;",
            "&",
            "a&b",
            "&#99999999999;",
        ] {
            assert_eq!(unescape(kept), kept);
        }
        let tag = find_tag(r#"<status code="1" message="a&#x0A;b"/>"#, "status").unwrap();
        assert_eq!(attribute(tag, "message").as_deref(), Some("a\nb"));

        let nodes = r#"<nodes resource="promoted"><node name="n1" role="x>y"/></nodes>"#;
        assert_eq!(
            find_tag(nodes, "node"),
            Some(r#"node name="n1" role="x>y"/"#)
        );
        assert_eq!(
            find_tag(nodes, "nodes"),
            Some(r#"nodes resource="promoted""#)
        );
        assert_eq!(find_tag(nodes, "nod"), None);

        let items = r#"<items name="cpu">wrong</items><item name="cpu">2</item>"#;
        assert_eq!(item_text(items, "cpu").as_deref(), Some("2"));
        let wrapped = "<list><itemsé/><item name=\"mem\">1&#x0A;</item></list>";
        assert_eq!(item_text(wrapped, "mem").as_deref(), Some("1\n"));
        assert_eq!(
            item_text("<item name=\"a\"/><item name=\"a\">x</item>", "a").as_deref(),
            Some("x")
        );
        assert_eq!(item_text("<item name=\"a\">never closed", "a"), None);
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

        /// Any text: no panic, whatever the scanners are asked.
        #[test]
        fn scanners_never_panic(xml in "(<|>|/|=|\"|'|&|#|;|x|0|a|é|item|node|status| |\n|[ -~]){0,80}") {
            let _ = status(&xml);
            let _ = element_text(&xml, "error");
            let _ = item_text(&xml, "a");
            let _ = find_tag(&xml, "node").map(|t| attribute(t, "name"));
            let _ = attribute(&xml, "a");
            let _ = unescape(&xml);
        }

        /// What libxml2 writes is read back as it was.
        #[test]
        fn escaped_values_round_trip(value in "\\PC{0,40}", name in "[a-z]{1,8}") {
            prop_assume!(!value.contains('\0') && value.trim() == value);
            let esc = escape(&value);
            proptest::prop_assert_eq!(unescape(&esc), value.clone());
            let xml = format!("<r><items/><item name=\"{}\">{esc}</item><attribute name=\"{}\" value=\"{esc}\"/></r>", escape(&name), escape(&name));
            proptest::prop_assert_eq!(item_text(&xml, &name), Some(value.clone()));
            let tag = find_tag(&xml, "attribute").unwrap();
            proptest::prop_assert_eq!(attribute(tag, "value"), Some(value));
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
