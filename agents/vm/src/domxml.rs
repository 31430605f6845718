//! What the agent reads from a libvirt domain XML file: the domain's name
//! and UUID (children of `<domain>`), and the virtual networks and storage
//! pools its devices use (for `start_resources`).
//!
//! A small well-formedness-checking reader is enough for that: elements,
//! attributes (either quote), text with the five entities and character
//! references, comments, processing instructions, CDATA and a DOCTYPE.
//! libvirt itself validates the rest when the domain is defined.

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

/// Parse a domain XML document; `Err` says what is wrong.
pub fn parse(text: &str) -> Result<DomainXml, String> {
    let text = strip_bom(text);
    let mut out = DomainXml::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut root_seen = false;
    let mut name: Option<String> = None;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let end = text[i..].find('<').map_or(b.len(), |n| i + n);
            let chunk = &text[i..end];
            if stack.is_empty() {
                if !chunk.trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            } else {
                text_buf.push_str(&unescape(chunk)?);
            }
            i = end;
            continue;
        }
        let rest = &text[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            i += 4 + r.find("-->").ok_or("unterminated comment")? + 3;
        } else if let Some(r) = rest.strip_prefix("<?") {
            i += 2 + r.find("?>").ok_or("unterminated processing instruction")? + 2;
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let n = r.find("]]>").ok_or("unterminated CDATA section")?;
            text_buf.push_str(&r[..n]);
            i += 9 + n + 3;
        } else if rest.starts_with("<!") {
            i += rest.find('>').ok_or("unterminated declaration")? + 1;
        } else if let Some(r) = rest.strip_prefix("</") {
            let n = r.find('>').ok_or("unterminated end tag")?;
            let tag = r[..n].trim();
            let open = stack
                .pop()
                .ok_or_else(|| format!("unexpected </{}>", shown(tag)))?;
            if open != tag {
                return Err(format!("<{}> closed by </{}>", shown(&open), shown(tag)));
            }
            if stack.len() == 1 && stack[0] == "domain" {
                let value = text_buf.trim().to_string();
                match tag {
                    "name" => name = Some(value),
                    "uuid" if !value.is_empty() => out.uuid = Some(value),
                    _ => {}
                }
            }
            text_buf.clear();
            i += 2 + n + 1;
        } else {
            let (tag, attrs, empty, len) = start_tag(rest)?;
            if stack.is_empty() {
                if root_seen {
                    return Err("more than one root element".into());
                }
                if tag != "domain" {
                    return Err(format!(
                        "the root element is <{}>, not <domain>",
                        shown(&tag)
                    ));
                }
                root_seen = true;
            }
            if tag == "source" {
                let parent = stack.last().map(String::as_str);
                for (k, v) in &attrs {
                    match (parent, k.as_str()) {
                        (Some("interface"), "network") => out.networks.push(v.clone()),
                        (Some("disk"), "pool") => out.pools.push(v.clone()),
                        _ => {}
                    }
                }
            }
            text_buf.clear();
            if !empty {
                stack.push(tag);
            }
            i += len;
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", shown(open)));
    }
    if !root_seen {
        return Err("no <domain> element".into());
    }
    out.name = name
        .filter(|n| !n.is_empty())
        .ok_or("no <name> in <domain>")?;
    out.networks.dedup();
    out.pools.dedup();
    Ok(out)
}

/// A name from the document as an error message may show it: only a plain
/// XML name of sensible length; anything else could be a piece of an
/// attribute value (a password) that our reader took for a name.
fn shown(name: &str) -> &str {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if plain { name } else { "(not shown)" }
}

/// One start tag at the beginning of `s`: (name, attributes, self-closing, bytes).
#[allow(clippy::type_complexity)]
fn start_tag(s: &str) -> Result<(String, Vec<(String, String)>, bool, usize), String> {
    let b = s.as_bytes();
    let mut i = 1;
    let name_end = s[i..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .map_or(b.len(), |n| i + n);
    let name = s[i..name_end].to_string();
    if name.is_empty() {
        return Err("a '<' that starts no element".into());
    }
    let shown_name = shown(&name);
    i = name_end;
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(format!("unterminated <{shown_name}>")),
            Some(b'>') => return Ok((name, attrs, false, i + 1)),
            Some(b'/') if b.get(i + 1) == Some(&b'>') => return Ok((name, attrs, true, i + 2)),
            _ => {}
        }
        let eq = s[i..]
            .find('=')
            .map(|n| i + n)
            .ok_or_else(|| format!("attribute without a value in <{shown_name}>"))?;
        let key = s[i..eq].trim().to_string();
        let mut j = eq + 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let quote = *b
            .get(j)
            .filter(|q| **q == b'"' || **q == b'\'')
            .ok_or_else(|| format!("unquoted attribute {} in <{shown_name}>", shown(&key)))?;
        let close = s[j + 1..]
            .find(quote as char)
            .map(|n| j + 1 + n)
            .ok_or_else(|| format!("unterminated attribute {} in <{shown_name}>", shown(&key)))?;
        attrs.push((key, unescape(&s[j + 1..close])?));
        i = close + 1;
    }
}

/// Replace XML entities and character references.
fn unescape(s: &str) -> Result<String, String> {
    if !s.contains('&') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let semi = after.find(';').ok_or("an '&' without ';'")?;
        let ent = &after[..semi];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                // Not quoted: the text around it may be a password.
                n.and_then(char::from_u32)
                    .ok_or("unknown entity or character reference")?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
            "<domain><a></a passwd='Pw0rdXyz'></domain>",
            "<Pw0rdXyz-passwd='1'/>",
        ] {
            let e = parse(x).unwrap_err();
            assert!(!e.contains("Pw0rdXyz"), "{x}: {e}");
        }
    }

    #[test]
    fn cdata_and_self_closing_root_children() {
        let d = parse("<domain><name><![CDATA[a<b]]></name><uuid/></domain>").unwrap();
        assert_eq!(d.name, "a<b");
        assert_eq!(d.uuid, None);
    }
}
