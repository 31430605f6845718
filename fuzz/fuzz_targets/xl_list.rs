//! The xl outputs read as text: the `xl list` table (one domain's ID and
//! state flags, the running guests), `xl info`'s `key : value` lines, and
//! the `name = "..."` setting of an xl domain configuration file. Nothing
//! may panic; a domain found by name is one the table lists alive or not,
//! and the running guests never include Domain-0.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let running = xen::xl::parse_running(&text);
    assert!(running.iter().all(|n| n != "Domain-0" && !n.is_empty()));
    for name in running.iter().take(4) {
        assert!(xen::xl::parse_list(&text, name).is_some(), "{name}");
    }
    let _ = xen::xl::parse_list(&text, "sentinel");
    let _ = xen::xl::parse_total_memory(&text);
    if let Some(n) = xen::xl::config_name(&text) {
        assert!(!n.contains('\n'));
    }
    let _ = xen::xl::migration_host(&text);
});
