//! The library's readers of Pacemaker's `--output-as=xml` answers
//! (`ocf::xml` and what `ocf::cluster` reads with it): any text, any name
//! asked for: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf::{cluster, xml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line names what is asked for, the rest is the answer.
    let (name, body) = text.split_once('\n').unwrap_or(("item", &text));
    let _ = cluster::attribute_value(body);
    let _ = cluster::item_text(body, name);
    if let Ok(doc) = xml::parse(body) {
        let _ = xml::tool_status(&doc);
        for n in xml::elements(&doc, name) {
            let _ = xml::text(n);
            let _ = xml::child_text(n, name);
            let _ = n.attribute("name");
        }
        let _ = xml::path(doc.root_element(), &[name, name]);
    }
});
