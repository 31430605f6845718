//! What start (or migrate_from, or promote) started on this node, kept in
//! `HA_RSCTMP` (a tmpfs: gone after a reboot, when nothing runs any more).
//!
//! Stop and probe fall back on it when the configuration no longer
//! validates: Pacemaker must never be told "stopped" while something of the
//! resource runs here. A record holds the identity that cannot change under
//! us (domain UUID, mount ID and device number, address and interface, server
//! pid and data directory), as `key=value` lines.
//!
//! The agent writes it *before* it acts (an intent: "about to mount X on Y")
//! and completes it after, so a start that fails half-way still leaves what
//! stop needs. The driver removes it after a successful stop.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::env::Context;
use crate::files::{TrustedDir, instance_file_name};

/// Records are small; anything larger is not ours.
const LIMIT: u64 = 64 * 1024;

/// The identity of what one resource instance started here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    fields: BTreeMap<String, Vec<u8>>,
}

impl Record {
    pub fn new() -> Record {
        Record::default()
    }

    /// Set `key` (a plain word) to `value`.
    pub fn set(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut Record {
        assert!(
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "record key {key:?} must be a plain word"
        );
        self.fields
            .insert(key.to_string(), value.as_ref().as_bytes().to_vec());
        self
    }

    pub fn with(mut self, key: &str, value: impl AsRef<OsStr>) -> Record {
        self.set(key, value);
        self
    }

    pub fn remove(&mut self, key: &str) {
        self.fields.remove(key);
    }

    /// The value of `key` as text (None when absent or not UTF-8).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The value of `key` as bytes (paths need not be UTF-8).
    pub fn get_os(&self, key: &str) -> Option<OsString> {
        self.fields.get(key).map(|v| OsString::from_vec(v.clone()))
    }

    /// `key` parsed as a number.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.trim().parse().ok()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The file's text: `key=value` lines, each value percent-encoded
    /// where it is not printable ASCII (and for `%` itself).
    pub fn to_text(&self) -> String {
        let mut out = String::from("# ocf-rs: what start started here (removed by stop)\n");
        for (k, v) in &self.fields {
            out.push_str(k);
            out.push('=');
            for &b in v {
                if b.is_ascii_graphic() && b != b'%' || b == b' ' {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out.push('\n');
        }
        out
    }

    /// Parse [`Record::to_text`]'s output; lines that do not parse are skipped.
    pub fn from_text(text: &str) -> Record {
        let mut r = Record::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            if let Some(bytes) = unescape(v) {
                r.fields.insert(k.to_string(), bytes);
            }
        }
        r
    }

    /// Write this record for `ctx`'s agent and instance (replacing any).
    /// A failure is logged: the action itself goes on.
    pub fn save(&self, ctx: &Context) {
        let result = dir(ctx, true)
            .and_then(|d| d.replace(&file_name(ctx), self.to_text().as_bytes(), 0o600));
        if let Err(e) = result {
            crate::warn!(
                "cannot record what {} started in {}: {e}",
                ctx.instance,
                ctx.rsc_tmp.display()
            );
        }
    }

    /// The record `ctx`'s agent and instance left here, if any.
    pub fn load(ctx: &Context) -> Option<Record> {
        let d = dir(ctx, false).ok()?;
        let bytes = d.read(&file_name(ctx), LIMIT).ok()?;
        let r = Record::from_text(&String::from_utf8_lossy(&bytes));
        (!r.is_empty()).then_some(r)
    }

    /// Remove the record (after a stop that left nothing running).
    pub fn forget(ctx: &Context) {
        if let Ok(d) = dir(ctx, false)
            && let Err(e) = d.remove(&file_name(ctx))
        {
            crate::warn!("cannot remove the record of {}: {e}", ctx.instance);
        }
    }
}

fn dir(ctx: &Context, create: bool) -> std::io::Result<TrustedDir> {
    TrustedDir::open(&ctx.rsc_tmp, create.then_some(0o755))
}

/// `ocf-rs-<agent>-<instance>.record`.
pub fn file_name(ctx: &Context) -> String {
    format!(
        "{}.record",
        instance_file_name(&["ocf-rs", &ctx.agent, &ctx.instance])
    )
}

fn unescape(v: &str) -> Option<Vec<u8>> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn ctx(dir: &Path) -> Context {
        Context::from_vars(
            "vm",
            "start",
            [
                ("HA_RSCTMP".to_string(), dir.display().to_string()),
                ("OCF_RESOURCE_INSTANCE".to_string(), "web/1:0".to_string()),
            ],
        )
    }

    #[test]
    fn text_round_trip_keeps_every_byte() {
        let odd = OsString::from_vec(b"/srv/a b%=\n\xff".to_vec());
        let r = Record::new()
            .with("name", "web1")
            .with("dir", &odd)
            .with("uuid", "e2e0e2e0-0000-4000-8000-000000000001");
        let text = r.to_text();
        assert_eq!(text.lines().count(), 4, "{text}");
        let back = Record::from_text(&text);
        assert_eq!(back, r);
        assert_eq!(back.get_os("dir").unwrap(), odd);
        assert_eq!(back.get("name"), Some("web1"));
        assert_eq!(back.get("dir"), None, "not UTF-8");
        // junk lines are skipped, not fatal
        let r = Record::from_text("garbage\n=x\nbad key=1\nok=%zz\nn=7\n");
        assert_eq!(r.get_u64("n"), Some(7));
        assert_eq!(r.fields.len(), 1);
    }

    #[test]
    fn save_load_forget() {
        let d = std::env::temp_dir().join(format!("ocf-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let c = ctx(&d);
        assert_eq!(Record::load(&c), None);
        Record::new().with("name", "web1").save(&c);
        assert_eq!(Record::load(&c).unwrap().get("name"), Some("web1"));
        assert!(d.join("ocf-rs-vm-web_1:0.record").is_file());
        Record::forget(&c);
        assert_eq!(Record::load(&c), None);
        // a planted link in place of the record is neither read nor followed
        let victim = d.join("victim");
        std::fs::write(&victim, "name=evil\n").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("ocf-rs-vm-web_1:0.record")).unwrap();
        assert_eq!(Record::load(&c), None);
        Record::new().with("name", "web1").save(&c);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "name=evil\n");
        assert_eq!(Record::load(&c).unwrap().get("name"), Some("web1"));
        let _ = std::fs::remove_dir_all(&d);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Every key a record may hold and every byte string as a value
        /// come back from the file's text unchanged.
        #[test]
        fn any_record_round_trips(
            fields in proptest::collection::btree_map(
                "[A-Za-z0-9_]{1,12}",
                proptest::collection::vec(proptest::num::u8::ANY, 0..48),
                0..8,
            )
        ) {
            let mut r = Record::new();
            for (k, v) in &fields {
                r.set(k, OsStr::from_bytes(v));
            }
            let text = r.to_text();
            proptest::prop_assert!(text.is_ascii(), "{text:?}");
            let back = Record::from_text(&text);
            proptest::prop_assert_eq!(&back, &r);
            for (k, v) in &fields {
                let got = back.get_os(k).unwrap();
                proptest::prop_assert_eq!(got.as_bytes(), v.as_slice());
            }
        }

        /// Any text (a damaged or planted file) parses without a panic into
        /// a record whose own text parses back to it.
        #[test]
        fn any_text_parses_to_a_stable_record(text in "(\\PC|\n|%|=|#|\r){0,200}") {
            let r = Record::from_text(&text);
            proptest::prop_assert_eq!(Record::from_text(&r.to_text()), r);
        }
    }
}
