//! `/proc/self/mountinfo` as the filesystem agent parses it (any bytes: the
//! kernel's table names whatever directories users made), and the `\NNN`
//! octal unescaping: no panic, paths survive an escape round trip, the
//! unmount order is finite and puts children first
//! (`filesystem::invariants`). The first bytes also build one line from
//! raw fields, which must parse back to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    filesystem::invariants::mountinfo_table(data);
    let _ = filesystem::mountinfo::decode(data);
    if let [a, b, rest @ ..] = data {
        let (a, b) = (*a as usize, *b as usize);
        let root = &rest[..a.min(rest.len())];
        let rest = &rest[root.len()..];
        let mp = &rest[..b.min(rest.len())];
        let source = &rest[mp.len()..];
        if !root.is_empty() && !mp.is_empty() {
            filesystem::invariants::mountinfo_line_round_trip(root, mp, source, a as u32);
        }
    }
});
