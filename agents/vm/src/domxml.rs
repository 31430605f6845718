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

/// Parse a domain XML document; `Err` says what is wrong and on which
/// line, quoting nothing of the document: with broken quoting, any piece
/// of it (a tag name, an attribute name) may be part of a password.
pub fn parse(text: &str) -> Result<DomainXml, String> {
    let text = strip_bom(text);
    parse_at(text).map_err(|(at, why)| match at {
        Some(at) => format!("line {}: {why}", line_of(text, at)),
        None => why,
    })
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// An error and where (a byte offset) it is, if anywhere.
type Located<T> = Result<T, (Option<usize>, String)>;

fn parse_at(text: &str) -> Located<DomainXml> {
    let mut out = DomainXml::default();
    // Open elements: (name, where its start tag begins).
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut text_buf = String::new();
    let mut root_seen = false;
    let mut name: Option<String> = None;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let at = i;
        let here = move |why: &str| (Some(at), why.to_string());
        if b[i] != b'<' {
            let end = text[i..].find('<').map_or(b.len(), |n| i + n);
            let chunk = &text[i..end];
            if stack.is_empty() {
                if !chunk.trim().is_empty() {
                    return Err(here("text outside the root element"));
                }
            } else {
                text_buf.push_str(&unescape(chunk).map_err(|e| here(&e))?);
            }
            i = end;
            continue;
        }
        let rest = &text[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            i += 4 + r.find("-->").ok_or_else(|| here("unterminated comment"))? + 3;
        } else if let Some(r) = rest.strip_prefix("<?") {
            i += 2
                + r.find("?>")
                    .ok_or_else(|| here("unterminated processing instruction"))?
                + 2;
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let n = r
                .find("]]>")
                .ok_or_else(|| here("unterminated CDATA section"))?;
            text_buf.push_str(&r[..n]);
            i += 9 + n + 3;
        } else if rest.starts_with("<!") {
            i += rest
                .find('>')
                .ok_or_else(|| here("unterminated declaration"))?
                + 1;
        } else if let Some(r) = rest.strip_prefix("</") {
            let n = r.find('>').ok_or_else(|| here("unterminated end tag"))?;
            let tag = r[..n].trim();
            let (open, opened) = stack
                .pop()
                .ok_or_else(|| here("an end tag with no element open"))?;
            if open != tag {
                return Err(here(&format!(
                    "the element opened on line {} is closed by another element's end tag",
                    line_of(text, opened)
                )));
            }
            if stack.len() == 1 && stack[0].0 == "domain" {
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
            let (tag, attrs, empty, len) = start_tag(rest).map_err(|e| here(&e))?;
            if stack.is_empty() {
                if root_seen {
                    return Err(here("more than one root element"));
                }
                if tag != "domain" {
                    return Err(here("the root element is not <domain>"));
                }
                root_seen = true;
            }
            if tag == "source" {
                let parent = stack.last().map(|(t, _)| t.as_str());
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
                stack.push((tag, i));
            }
            i += len;
        }
    }
    if let Some((_, opened)) = stack.last() {
        return Err((Some(*opened), "this element is never closed".into()));
    }
    if !root_seen {
        return Err((None, "no <domain> element".into()));
    }
    out.name = name
        .filter(|n| !n.is_empty())
        .ok_or((None, "no <name> in <domain>".to_string()))?;
    out.networks.dedup();
    out.pools.dedup();
    Ok(out)
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
    i = name_end;
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err("an unterminated start tag".into()),
            Some(b'>') => return Ok((name, attrs, false, i + 1)),
            Some(b'/') if b.get(i + 1) == Some(&b'>') => return Ok((name, attrs, true, i + 2)),
            _ => {}
        }
        let eq = s[i..]
            .find('=')
            .map(|n| i + n)
            .ok_or("an attribute without a value")?;
        let key = s[i..eq].trim().to_string();
        let mut j = eq + 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let quote = *b
            .get(j)
            .filter(|q| **q == b'"' || **q == b'\'')
            .ok_or("an unquoted attribute value")?;
        let close = s[j + 1..]
            .find(quote as char)
            .map(|n| j + 1 + n)
            .ok_or("an unterminated attribute value")?;
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
