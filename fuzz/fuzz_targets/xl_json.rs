//! `xl list -l` output (a JSON array of domain configurations) read by the
//! xen agent and ocf:rust:vm's xmfile backend: the whole listing (name and
//! UUID of every domain) and one domain's vCPUs, memory and UUID. Nothing
//! may panic; an identity found is one the listing has.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ids) = xen::xl::parse_identities(&text) {
        for (name, _) in ids.iter().take(4) {
            let d = xen::xl::parse_long(&text, name);
            if let Ok(d) = d {
                assert!(d.uuid.as_deref().is_none_or(|u| !u.is_empty()));
            }
        }
    }
    let _ = xen::xl::parse_long(&text, "sentinel");
});
