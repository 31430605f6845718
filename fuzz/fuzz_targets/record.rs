//! What start left in HA_RSCTMP (`ocf::Record`): any file content parses
//! without a panic into a record whose own text parses back to it, and
//! whose text has one line per field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf::Record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = Record::from_text(&text);
    let again = r.to_text();
    assert!(again.is_ascii());
    assert_eq!(Record::from_text(&again), r);
    for key in ["state", "resource", "minors", "ip", "ifindex", "netns"] {
        let _ = r.get_u64(key);
        let _ = r.get_os(key);
    }
});
