//! The library's readers of Pacemaker's `--output-as=xml` answers
//! (`ocf::cluster`): status, element and item text, start tags and their
//! attributes, entity decoding. Any text, any name asked for: no panic, and
//! what they return is a slice of the input or decoded from one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf::cluster;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line names what is asked for, the rest is the answer.
    let (name, xml) = text.split_once('\n').unwrap_or(("item", &text));
    let _ = cluster::status(xml);
    let _ = cluster::element_text(xml, name);
    let _ = cluster::item_text(xml, name);
    for tag_name in [name, "status", "attribute", "item", "node"] {
        if let Some(tag) = cluster::find_tag(xml, tag_name) {
            assert!(xml.contains(tag));
            for attr in ["name", "value", "code", "message", name] {
                let _ = cluster::attribute(tag, attr);
            }
        }
    }
    let once = cluster::unescape(xml);
    assert!(once.len() <= xml.len());
});
