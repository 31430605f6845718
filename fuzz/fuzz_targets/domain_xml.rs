//! The vm agent's domain XML reader, fed a config file's bytes as the agent
//! reads them (UTF-8 with or without a byte-order mark; UTF-16/32 and other
//! bytes refused), and the masking of libvirt's messages that quote such
//! XML. Nothing may panic; what parses has a name; the same document
//! behind a byte-order mark reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match vm::domxml::parse_bytes(data) {
        Ok(d) => assert!(!d.name.is_empty()),
        Err(e) => assert!(!e.is_empty()),
    }
    let text = String::from_utf8_lossy(data);
    let masked = vm::secrets::redact(&text);
    // Masking only ever replaces text by `***`.
    if masked != text {
        assert!(masked.contains("***"));
    }
    // The same document behind a byte-order mark reads the same.
    if let Ok(t) = std::str::from_utf8(data)
        && !t.starts_with('\u{feff}')
    {
        let with_bom = format!("\u{feff}{t}");
        assert_eq!(
            vm::domxml::parse(&with_bom).ok(),
            vm::domxml::parse(t).ok()
        );
    }
});
