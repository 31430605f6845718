//! The filesystem agent's other parsers of outside input, fed any bytes:
//! `/proc/<pid>/stat`, `status` and `maps` text and link targets (the
//! holder scan), sysfs backing files, signal lists, device and source
//! spellings, CIFS option lists, the record in HA_RSCTMP, the status-file
//! prefix (`filesystem::invariants::filesystem_input`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    filesystem::invariants::filesystem_input(data);
});
