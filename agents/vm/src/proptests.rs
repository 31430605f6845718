//! Bounded property tests (run in CI with cargo test) of every parser of
//! outside input in this crate, the same ones the cargo-fuzz target
//! `domain_xml` drives for longer: no panic on any input, and round trips
//! where they exist. The xl parsers' are in the xen crate.

use proptest::prelude::*;

use crate::domxml::{self, DomainXml};
use crate::secrets;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Text that escapes into any XML attribute or element content.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.:'\"<>&\\-\u{e9}\u{4e2d}]{1,16}"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A domain XML written from the facts, in the shapes libvirt writes.
fn document(d: &DomainXml, bom: bool, graphics_password: &str) -> String {
    let mut x = String::new();
    if bom {
        x.push('\u{feff}');
    }
    x.push_str("<?xml version='1.0' encoding='UTF-8'?>\n<!-- written by a test -->\n");
    x.push_str(&format!(
        "<domain type='kvm'>\n  <name>{}</name>\n",
        escape(&d.name)
    ));
    if let Some(u) = &d.uuid {
        x.push_str(&format!("  <uuid>{}</uuid>\n", escape(u)));
    }
    x.push_str("  <metadata><app><name>not-the-name</name></app></metadata>\n  <devices>\n");
    for n in &d.networks {
        x.push_str(&format!(
            "    <interface type='network'><source network=\"{}\"/></interface>\n",
            escape(n)
        ));
    }
    for p in &d.pools {
        x.push_str(&format!(
            "    <disk type='volume'><source pool='{}' volume='v'/></disk>\n",
            escape(p)
        ));
    }
    x.push_str(&format!(
        "    <graphics type='vnc' passwd='{}'/>\n  </devices>\n</domain>\n",
        escape(graphics_password)
    ));
    x
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes: an answer, never a panic; what parses has a name.
    #[test]
    fn domain_xml_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        match domxml::parse_bytes(&data) {
            Ok(d) => prop_assert!(!d.name.is_empty()),
            Err(e) => prop_assert!(!e.is_empty()),
        }
        let _ = secrets::redact(&String::from_utf8_lossy(&data));
    }

    /// Markup-like text around a secret: the reader's errors never quote it.
    #[test]
    fn domain_xml_errors_never_quote_a_password(
        before in "[<>/='\" a-z]{0,12}",
        after in "[<>/='\" a-z&;]{0,12}",
    ) {
        let doc = format!("<domain><graphics passwd='{before}ZqXw9Pk7{after}");
        if let Err(e) = domxml::parse(&doc) {
            prop_assert!(!e.contains("ZqXw9Pk7"), "{}", e);
        }
        let masked = secrets::redact(&doc);
        prop_assert!(!masked.contains("ZqXw9Pk7") || before.contains('\'') || before.contains('"'),
            "{}", masked);
    }

    /// Facts written as a document (escaped, with or without a BOM) read back.
    #[test]
    fn domain_xml_round_trip(
        name in text(),
        uuid in proptest::option::of("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}"),
        networks in proptest::collection::vec(text(), 0..3),
        pools in proptest::collection::vec(text(), 0..3),
        bom in any::<bool>(),
        password in "[!-~]{1,8}",
    ) {
        let name = name.trim().to_string();
        prop_assume!(!name.is_empty());
        let mut want = DomainXml { name, uuid, networks, pools };
        want.networks.dedup();
        want.pools.dedup();
        let doc = document(&want, bom, &password);
        prop_assert_eq!(domxml::parse_bytes(doc.as_bytes()), Ok(want));
        // libvirt's message quoting that line shows no password.
        let line = doc.lines().find(|l| l.contains("<graphics")).unwrap();
        prop_assert!(secrets::redact(line).contains("passwd='***'"), "{}", line);
    }
}
