//! Reading XML: Pacemaker tools' `--output-as=xml`, libvirt domain XML,
//! crm_mon. One well-kept parser (roxmltree: a read-only tree, no work at
//! start-up, entities and character references decoded the way the spec
//! says, `&#x0A;` as well as `&#10;`) behind a few small helpers, so no agent
//! scans XML text by hand (`find("<node")` also matches `<nodes`).
//!
//! Writing XML (the meta-data) stays in [`crate::metadata`].

pub use roxmltree::{Document, Node};

/// Why a text is not XML we can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

/// Parse `text`. A UTF-8 byte-order mark is skipped and a DOCTYPE (with an
/// internal subset) is allowed, as libvirt and xmllint allow them; the
/// input's size is bounded by the caller (tool output is capped by
/// [`crate::exec`], files are read with a limit).
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        // Well below roxmltree's default (about 1 M nodes): what we read is
        // a domain, a CIB query or one tool's answer, never megabytes.
        nodes_limit: 200_000,
        // No external entities: nothing is ever read from elsewhere.
        ..roxmltree::ParsingOptions::default()
    };
    Document::parse_with_options(text, opts).map_err(|e| XmlError(e.to_string()))
}

/// Every element named `name` in the document, in document order.
pub fn elements<'a, 'input>(
    doc: &'a Document<'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    doc.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

/// The first element named `name`.
pub fn first<'a, 'input>(doc: &'a Document<'input>, name: &str) -> Option<Node<'a, 'input>> {
    doc.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The direct children of `node` named `name`.
pub fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

/// The first direct child of `node` named `name`.
pub fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The text of `node` (all its text children, joined), trimmed.
pub fn text(node: Node<'_, '_>) -> String {
    node.children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// The text of `node`'s first direct child named `name`.
pub fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).map(text)
}

/// Follow a path of direct children from `node` (`["os", "type"]`).
pub fn path<'a, 'input>(node: Node<'a, 'input>, names: &[&str]) -> Option<Node<'a, 'input>> {
    names.iter().try_fold(node, |n, name| child(n, name))
}

/// The `<status code="N" message="..."/>` Pacemaker's tools end their XML
/// output with: the code and the message (or the first error's text).
pub fn tool_status(doc: &Document<'_>) -> Option<(i32, String)> {
    let st = first(doc, "status")?;
    let code = st.attribute("code")?.trim().parse().ok()?;
    let mut message = st.attribute("message").unwrap_or_default().to_string();
    if let Some(e) = first(doc, "error") {
        let t = text(e);
        if !t.is_empty() {
            message = t;
        }
    }
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_references_in_every_spelling() {
        let doc =
            parse("<r><a v=\"x&#10;y&#x0A;z&#9;&#39;q&apos;&quot;&lt;\"/><t>a&#x41;&amp;</t></r>")
                .unwrap();
        let a = first(&doc, "a").unwrap();
        assert_eq!(a.attribute("v"), Some("x\ny\nz\t'q'\"<"));
        assert_eq!(text(first(&doc, "t").unwrap()), "aA&");
    }

    #[test]
    fn element_names_are_whole_names() {
        let doc = parse(
            r#"<crm_mon><nodes><node name="n1"/></nodes><items/><item id="master">x</item></crm_mon>"#,
        )
        .unwrap();
        let nodes: Vec<_> = elements(&doc, "node")
            .map(|n| n.attribute("name").unwrap())
            .collect();
        assert_eq!(nodes, ["n1"]);
        assert_eq!(elements(&doc, "item").count(), 1);
        assert_eq!(child_text(doc.root_element(), "item").as_deref(), Some("x"));
    }

    #[test]
    fn bom_and_an_internal_dtd_subset_are_read() {
        let xml = "\u{feff}<?xml version=\"1.0\"?>\n<!DOCTYPE domain [\n<!ENTITY n \"web1\">\n]>\n<domain><name>&n;</name><os><type arch=\"x86_64\">hvm</type></os></domain>";
        let doc = parse(xml).unwrap();
        let root = doc.root_element();
        assert_eq!(child_text(root, "name").as_deref(), Some("web1"));
        assert_eq!(
            path(root, &["os", "type"]).and_then(|t| t.attribute("arch")),
            Some("x86_64")
        );
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn pacemaker_tool_status() {
        let doc = parse(
            r#"<pacemaker-result api-version="2.25" request="crm_attribute"><status code="105" message="No such object"><errors><error>crm_attribute: Error performing operation: No such device or address</error></errors></status></pacemaker-result>"#,
        )
        .unwrap();
        let (code, msg) = tool_status(&doc).unwrap();
        assert_eq!(code, 105);
        assert!(msg.contains("No such device"), "{msg}");
    }
}
