//! The drbd agent's reader of `crm_resource --locate --output-as=xml`
//! (`promoted_elsewhere`): any text, with and without a node name of our
//! own, answers without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (me, xml) = text.split_once('\n').unwrap_or(("node1", &text));
    let _ = drbd::promoted_elsewhere(xml, Some(me));
    let _ = drbd::promoted_elsewhere(xml, None);
});
