//! What the agent reads from a libvirt domain XML file: the domain's name
//! and UUID (children of `<domain>`), and the virtual networks and storage
//! pools its devices use (for `start_resources`).
//!
//! Read with the library's XML reader ([`ocf::xml`]: roxmltree; entities,
//! character references in every spelling, CDATA, a DOCTYPE with an
//! internal subset, a byte-order mark). libvirt itself validates the rest
//! when the domain is defined.
//!
//! An error says what is wrong and on which line, and quotes nothing of the
//! document: with broken quoting, any piece of it (a tag name, an attribute
//! name, an entity) may be part of a password, and roxmltree's own messages
//! quote such pieces. So a refused document is looked at again for the
//! kind and place of the error alone ([`explain`]).

/// The facts taken from a domain XML.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainXml {
    pub name: String,
    pub uuid: Option<String>,
    pub networks: Vec<String>,
    pub pools: Vec<String>,
}

/// The text without a leading UTF-8 byte-order mark: editors on Windows
/// write one, and libvirt (libxml2) reads such a file like any other.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The text of a config file's bytes: UTF-8, with or without a byte-order
/// mark. A UTF-16 or UTF-32 file (a byte-order mark says so) or bytes that
/// are not UTF-8 are refused with a reason that quotes none of them.
pub fn decode(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    for (bom, what) in [
        (&b"\x00\x00\xfe\xff"[..], "UTF-32"),
        (&b"\xff\xfe\x00\x00"[..], "UTF-32"),
        (&b"\xfe\xff"[..], "UTF-16"),
        (&b"\xff\xfe"[..], "UTF-16"),
    ] {
        if bytes.starts_with(bom) {
            return Err(format!("is {what}: save it as UTF-8"));
        }
    }
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 (byte {} is not): save it as UTF-8",
            e.valid_up_to()
        )
    })
}

/// A config file's bytes as the agent reads them: [`decode`], then [`parse`].
pub fn parse_bytes(bytes: &[u8]) -> Result<DomainXml, String> {
    parse(decode(bytes)?)
}

/// Parse a domain XML document; `Err` says what is wrong and on which
/// line, quoting nothing of the document.
pub fn parse(text: &str) -> Result<DomainXml, String> {
    let doc = ocf::xml::parse(text).map_err(|_| explain(strip_bom(text)))?;
    let root = doc.root_element();
    if root.tag_name().name() != "domain" {
        return Err(format!(
            "line {}: the root element is not <domain>",
            line_of(strip_bom(text), root.range().start)
        ));
    }
    let name = ocf::xml::child_text(root, "name")
        .filter(|n| !n.is_empty())
        .ok_or("no <name> in <domain>")?;
    let mut out = DomainXml {
        name,
        uuid: ocf::xml::child_text(root, "uuid").filter(|u| !u.is_empty()),
        ..DomainXml::default()
    };
    for source in ocf::xml::elements(&doc, "source") {
        let parent = source.parent_element().map(|p| p.tag_name().name());
        match (
            parent,
            source.attribute("network"),
            source.attribute("pool"),
        ) {
            (Some("interface"), Some(n), _) => out.networks.push(n.to_string()),
            (Some("disk"), _, Some(p)) => out.pools.push(p.to_string()),
            _ => {}
        }
    }
    out.networks.dedup();
    out.pools.dedup();
    Ok(out)
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Attribute names of libvirt's domain XML that a refusal may name: a
/// fixed list of ours, so what is shown is never text of the document.
const KNOWN_ATTRIBUTES: &[&str] = &[
    "passwd", "password", "type", "name", "file", "dev", "bus", "unit", "model", "port", "address",
    "network", "pool", "volume", "mode", "path", "device", "uuid", "listen",
];

/// The options [`ocf::xml::parse`] reads with, for [`explain`].
fn options<'a>() -> roxmltree::ParsingOptions<'a> {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: 200_000,
        ..roxmltree::ParsingOptions::default()
    }
}

/// Why `text` (without its byte-order mark) is not a document we read:
/// the kind of error and its line, from roxmltree's typed error, never
/// its message (which quotes the document).
fn explain(text: &str) -> String {
    use roxmltree::Error as E;
    let e = match roxmltree::Document::parse_with_options(text, options()) {
        Ok(_) => return "not an XML document the reader accepts".into(),
        Err(e) => e,
    };
    let at = |why: &str| format!("line {}: {why}", e.pos().row);
    match &e {
        E::NoRootNode => "no <domain> element".into(),
        E::UnclosedRootNode => match unclosed_line(text) {
            Some(line) => format!("line {line}: this element is never closed"),
            None => "an element is never closed".into(),
        },
        E::UnexpectedEndOfStream => {
            "the document ends inside a tag, a comment or a declaration".into()
        }
        E::UnexpectedCloseTag(..) => at("an element is closed by another element's end tag"),
        E::UnknownEntityReference(..) => at("unknown entity or character reference"),
        E::MalformedEntityReference(_) => at("an '&' that starts no entity or character reference"),
        E::EntityReferenceLoop(_) => at("entity references nest too deep"),
        E::InvalidAttributeValue(_) => at("a '<' in an attribute value"),
        // Named as libvirt names it, when it is one of our own words.
        E::DuplicatedAttribute(name, _) => match KNOWN_ATTRIBUTES.iter().find(|k| *k == name) {
            Some(known) => at(&format!("attribute {known} redefined")),
            None => at("an attribute given twice"),
        },
        E::InvalidChar2("a quote", ..) => at("an unquoted attribute value"),
        E::NonXmlChar(..) => at("a character XML does not allow"),
        E::UnknownToken(pos) => {
            // After the root element only comments and whitespace may follow.
            let line = text.split('\n').nth(pos.row as usize - 1).unwrap_or("");
            match line.chars().nth(pos.col as usize - 1) {
                Some('<') => at("more than one root element"),
                _ => at("text outside the root element"),
            }
        }
        E::NodesLimitReached => "more elements than a domain has".into(),
        _ => at("not well-formed XML"),
    }
}

/// The line of the innermost element still open at the end of `text`:
/// the open elements are closed one by one (a close tag no element has
/// makes the parser name the one it expects), and the completed document
/// tells where the element the first close tag ended starts. Bounded: a
/// document of at most 1 MiB, at most 32 elements open.
fn unclosed_line(text: &str) -> Option<usize> {
    const PROBE: &str = "</ocf-rs-no-such-element>";
    if text.len() > 1 << 20 {
        return None;
    }
    let mut closed = text.to_string();
    let mut innermost_end = None;
    for _ in 0..32 {
        match roxmltree::Document::parse_with_options(&closed, options()) {
            Ok(doc) => {
                let end = innermost_end?;
                let node = doc
                    .descendants()
                    .find(|n| n.is_element() && n.range().end == end)?;
                return Some(line_of(text, node.range().start));
            }
            Err(roxmltree::Error::UnclosedRootNode) => {
                let probe = format!("{closed}{PROBE}");
                let Err(roxmltree::Error::UnexpectedCloseTag(open, ..)) =
                    roxmltree::Document::parse_with_options(&probe, options())
                else {
                    return None;
                };
                closed.push_str(&format!("</{open}>"));
                innermost_end.get_or_insert(closed.len());
            }
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_uuid_networks_and_pools() {
        let x = r#"<?xml version="1.0"?>
<!-- a comment with <name>fake</name> -->
<domain type='qemu'>
  <name>vm-&quot;q&apos;&amp;&#x41;</name>
  <uuid> 6a2c3d4e-0000-4000-8000-000000000001 </uuid>
  <metadata><app><name>not-this</name></app></metadata>
  <devices>
    <disk type='volume' device='disk'><source pool="p1" volume='v'/></disk>
    <interface type='network'><source network='n1'/></interface>
    <interface type='network'><source network="a&gt;b"/></interface>
    <serial type='file'><source path='/x'/></serial>
  </devices>
</domain>
"#;
        let d = parse(x).unwrap();
        assert_eq!(d.name, "vm-\"q'&A");
        assert_eq!(
            d.uuid.as_deref(),
            Some("6a2c3d4e-0000-4000-8000-000000000001")
        );
        assert_eq!(d.networks, vec!["n1", "a>b"]);
        assert_eq!(d.pools, vec!["p1"]);
    }

    #[test]
    fn broken_documents_are_refused_with_a_reason() {
        for (x, why) in [
            ("", "no <domain>"),
            ("<domain><name>a</name>", "never closed"),
            ("<domain><name>a</nam></domain>", "closed by"),
            ("<network><name>a</name></network>", "not <domain>"),
            (
                "<domain>\n<name>a</name>\n<os>\n",
                "line 3: this element is never closed",
            ),
            ("<domain><uuid>1</uuid></domain>", "no <name>"),
            (
                "<domain><name>a &bogus; b</name></domain>",
                "unknown entity",
            ),
            ("<domain a=b><name>a</name></domain>", "unquoted"),
            ("<domain><name>a</name></domain><domain/>", "more than one"),
            ("garbage", "outside the root"),
        ] {
            let e = parse(x).unwrap_err();
            assert!(e.contains(why), "{x:?}: {e}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_read_as_libvirt_reads_it() {
        let d = parse("\u{feff}<?xml version='1.0'?>\n<domain><name>vma-bom</name></domain>\n")
            .unwrap();
        assert_eq!(d.name, "vma-bom");
        assert_eq!(strip_bom("\u{feff}<domain/>"), "<domain/>");
        // Only at the very start: anywhere else it is text outside the root.
        assert!(parse("<domain><name>a</name></domain>\u{feff}x").is_err());
    }

    #[test]
    fn encodings_other_than_utf8_are_refused_plainly() {
        let ok = b"\xef\xbb\xbf<domain><name>a</name></domain>";
        assert_eq!(parse_bytes(ok).unwrap().name, "a");
        let utf16: Vec<u8> = "\u{feff}<domain><name>a</name></domain>"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(parse_bytes(&utf16).unwrap_err().contains("UTF-16"));
        let latin1 = b"<domain><name>caf\xe9</name></domain>";
        let e = parse_bytes(latin1).unwrap_err();
        assert!(e.contains("not UTF-8") && !e.contains("caf"), "{e}");
    }

    /// No piece of the document is quoted in an error: it may be a password.
    #[test]
    fn errors_quote_no_document_text() {
        for x in [
            "<domain><graphics passwd='a&Pw0rdXyz;'/></domain>",
            "<domain><graphics Pw0rdXyz passwd='x'/></domain>",
            "<domain><graphics passwd=Pw0rdXyz/></domain>",
            "<domain><graphics passwd='Pw0rdXyz",
            // Found by the property test: broken quoting makes a piece of
            // the value look like the next attribute's name.
            "<domain><graphics passwd=''Pw0rdXyz=;",
            "<domain><graphics passwd=''><Pw0rdXyz></domain>",
            "<domain><a></a passwd='Pw0rdXyz'></domain>",
            "<Pw0rdXyz-passwd='1'/>",
            "<domain><graphics Pw0rdXyz='1' Pw0rdXyz='2'/></domain>",
        ] {
            let e = parse(x).unwrap_err();
            assert!(!e.contains("Pw0rdXyz"), "{x}: {e}");
        }
    }

    /// libvirt says "Attribute passwd redefined"; so do we, naming only
    /// attributes of our own list.
    #[test]
    fn a_known_attribute_given_twice_is_named() {
        let e = parse("<domain>\n<graphics passwd='a' passwd='b'/></domain>").unwrap_err();
        assert_eq!(e, "line 2: attribute passwd redefined");
    }

    #[test]
    fn cdata_and_self_closing_root_children() {
        let d = parse("<domain><name><![CDATA[a<b]]></name><uuid/></domain>").unwrap();
        assert_eq!(d.name, "a<b");
        assert_eq!(d.uuid, None);
    }
}
