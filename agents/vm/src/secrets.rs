//! Secrets the library's `ocf::secret::redact` does not know: it masks
//! `password=value` forms, but a domain XML says `passwd='value'` (VNC and
//! SPICE) and `<cookie name='x'>value</cookie>` (network disks), and a URI
//! may say `qemu+tcp://user:value@host/`. libvirt quotes the offending line
//! of a domain XML it cannot parse in its error message (and so would our
//! exit reason), so every libvirt message and every URI we show passes
//! through [`redact`]. No domain XML text is ever logged whole.

use std::borrow::Cow;

/// Attribute names whose value is a secret in libvirt's XML.
const ATTRIBUTES: &[&str] = &["passwd", "password"];

/// Elements whose text is a secret.
const ELEMENTS: &[&str] = &["cookie", "secret"];

const MASK: &str = "***";

/// `text` with every secret above masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut spans = Vec::new();
    attribute_spans(text, &mut spans);
    element_spans(text, &mut spans);
    userinfo_spans(text, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        if s < at {
            at = at.max(e);
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(MASK);
        at = e;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

/// `passwd = 'value'` (either quote, spaces around `=`): the value's span.
/// A value cut off by the end of the text (libvirt shows one line) is
/// masked to the end of the text.
fn attribute_spans(text: &str, spans: &mut Vec<(usize, usize)>) {
    let lower = text.to_ascii_lowercase();
    let b = text.as_bytes();
    for name in ATTRIBUTES {
        let mut from = 0;
        while let Some(at) = lower[from..].find(name) {
            let start = from + at;
            from = start + name.len();
            if start > 0 && is_name_byte(b[start - 1]) {
                continue;
            }
            let mut i = start + name.len();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(&q) if q == b'\'' || q == b'"' => {
                    let v0 = i + 1;
                    let end = text[v0..].find(q as char).map_or(text.len(), |n| v0 + n);
                    if end > v0 {
                        spans.push((v0, end));
                    }
                }
                // Unquoted (not XML, but a message may show it so): to the
                // next space, quote or tag end.
                Some(_) => {
                    let end = text[i..]
                        .find(|c: char| c.is_whitespace() || "'\"<>/,".contains(c))
                        .map_or(text.len(), |n| i + n);
                    if end > i {
                        spans.push((i, end));
                    }
                }
                None => {}
            }
        }
    }
}

/// `<cookie ...>value</cookie>`: the text's span (to the end of the text
/// when the end tag is not there).
fn element_spans(text: &str, spans: &mut Vec<(usize, usize)>) {
    let lower = text.to_ascii_lowercase();
    for name in ELEMENTS {
        let open = format!("<{name}");
        let mut from = 0;
        while let Some(at) = lower[from..].find(&open) {
            let start = from + at;
            from = start + open.len();
            let after = lower.as_bytes().get(from).copied();
            if !matches!(after, Some(b'>') | Some(b' ') | Some(b'\t') | Some(b'\n')) {
                continue;
            }
            let Some(gt) = text[from..].find('>') else {
                continue;
            };
            if text[..from + gt].ends_with('/') {
                continue; // <secret .../>: no text
            }
            let v0 = from + gt + 1;
            let end = lower[v0..].find('<').map_or(text.len(), |n| v0 + n);
            if end > v0 {
                spans.push((v0, end));
            }
        }
    }
}

/// `scheme://user:value@host`: the password's span.
fn userinfo_spans(text: &str, spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(at) = text[from..].find("://") {
        let auth0 = from + at + 3;
        from = auth0;
        let auth_end = text[auth0..]
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '\'')
            .map_or(text.len(), |n| auth0 + n);
        let auth = &text[auth0..auth_end];
        if let Some(atsign) = auth.rfind('@')
            && let Some(colon) = auth[..atsign].find(':')
            && atsign > colon + 1
        {
            spans.push((auth0 + colon + 1, auth0 + atsign));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_passwords_cookies_and_uri_passwords_are_masked() {
        let cases = [
            (
                "(domain_definition):6: Attribute passwd redefined\n    <graphics type='vnc' passwd='S3cret' passwd='again'/>",
                "(domain_definition):6: Attribute passwd redefined\n    <graphics type='vnc' passwd='***' passwd='***'/>",
            ),
            (
                "<graphics type=\"spice\" passwd = \"a b\" />",
                "<graphics type=\"spice\" passwd = \"***\" />",
            ),
            ("<graphics passwd='cut off", "<graphics passwd='***"),
            (
                "<cookies><cookie name='s'>tok3n</cookie></cookies>",
                "<cookies><cookie name='s'>***</cookie></cookies>",
            ),
            (
                "cannot connect to qemu+tcp://bob:hunter2@node2/system",
                "cannot connect to qemu+tcp://bob:***@node2/system",
            ),
            ("password=x", "password=***"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    /// Found by the domain_xml fuzz target: overlapping spans (an element's
    /// text holding a URI's user part). Masked, no panic; masking twice
    /// may mask more, which is no harm.
    #[test]
    fn overlapping_secrets() {
        let input = b"\xef|<secret <s\x14c@\xe6ret\xdd g <=/://\x00\x04\x00\x00\x00\x00FFFFFF\x00zI\x00\x00z:ssiiii@>$cgg <=gggggggggg\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0ggggggggggggDDgg=gD@cc\n\n~\xef\xbb\xbf";
        let text = String::from_utf8_lossy(input);
        let once = redact(&text);
        assert!(once.contains("***") && !once.contains("ssiiii"), "{once}");
        let _ = redact(&once);
    }

    #[test]
    fn other_text_is_left_alone() {
        for t in [
            "qemu+ssh://root@node2/system",
            "tcp://node2-mig:49152",
            "<graphics type='vnc' port='-1'/>",
            "mypasswd='x'",
            "<secret type='ceph' uuid='u'/>",
            "passwd",
        ] {
            assert!(matches!(redact(t), Cow::Borrowed(_)), "{t}");
        }
    }
}
