//! Keeping secrets out of what we show. A CIFS `password=` in `options`, a
//! `credentials=` file, a `secret=` key: whatever carries one is masked in
//! every command line we log or put in an exit reason, and every log line
//! and exit reason passes through [`redact`] on its way out.

use std::borrow::Cow;

/// Option names whose value is a secret (`name=value`, case-insensitive).
const KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "credentials",
    "cred",
];

/// `text` with the value of every `password=`, `passwd=`, `pass=`,
/// `secret=`, `credentials=`, `cred=` replaced by `***`. A key counts when
/// it starts the text or follows a separator (`,` ` ` `-` `:` `;` `(` `"`
/// `'`), so `mypass=` elsewhere in a word is left alone; the value runs to
/// the next `,` or whitespace (or quote).
pub fn redact(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for key in KEYS {
        let pat = format!("{key}=");
        let mut from = 0;
        while let Some(at) = lower[from..].find(&pat) {
            let start = from + at;
            from = start + pat.len();
            let boundary = start == 0
                || matches!(
                    bytes[start - 1],
                    b',' | b' ' | b'-' | b':' | b';' | b'(' | b'"' | b'\'' | b'\t'
                );
            if !boundary {
                continue;
            }
            let v0 = start + pat.len();
            let len = text[v0..]
                .find(|c: char| c == ',' || c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(text.len() - v0);
            if len > 0 {
                spans.push((v0, v0 + len));
            }
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        if s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str("***");
        at = e;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_option_lists_are_masked() {
        let cases = [
            (
                "mount -t cifs -o user=bob,password=s3cr:t,vers=3 //srv/x /mnt",
                "mount -t cifs -o user=bob,password=***,vers=3 //srv/x /mnt",
            ),
            ("-o pass=x", "-o pass=***"),
            (
                "secret=abc credentials=/etc/c",
                "secret=*** credentials=***",
            ),
            ("PASSWORD=Hunter2", "PASSWORD=***"),
            ("\"mount -o password=a\"", "\"mount -o password=***\""),
            ("cred=/root/.smb,uid=0", "cred=***,uid=0"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        for t in [
            "mount -o ro,noatime /dev/sda1 /mnt",
            "bypass=1 compass=north",
            "password",
            "password=",
        ] {
            assert!(matches!(redact(t), Cow::Borrowed(_)), "{t}");
        }
    }
}
