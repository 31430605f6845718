//! What the drbd agent reads from the DRBD tools: `drbdsetup events2 --now`
//! lines (DRBD 9, one resource and `all`), `drbdsetup sh-status` (8.4),
//! `drbdadm sh-minor` and `sh-mod-parms`, /proc/drbd and `drbdadm
//! --version`; every parsed state then goes through the promotion-score
//! rules. No panic; a word handed to modprobe never reads as an option.
#![no_main]

use drbd::score::{self, PeerPrimary, Scores};
use drbd::state;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The resource asked for: the first name: in the text, or r0.
    let name = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name:"))
        .unwrap_or("r0");
    let scores = Scores::default();
    for st in [
        state::parse_events2(&text, name),
        state::parse_events2(&text, "r0"),
        state::parse_sh_status(&text),
    ] {
        for policy in [
            PeerPrimary::Keep,
            PeerPrimary::Remove,
            PeerPrimary::RemoveIfUnexpected,
        ] {
            let _ = score::decide(&st, &scores, policy, 1, &mut || false);
            let _ = score::decide(&st, &scores, policy, 2, &mut || true);
        }
        let _ = st.standalone_peers();
    }
    let _ = state::minors_by_resource(&text);
    let _ = state::version_code(&text);
    let _ = state::version_from_proc(&text);
    let _ = state::version_from_drbdadm(&text);
    let minors = drbd::parse_minors(&text);
    assert!(minors.windows(2).all(|m| m[0] < m[1]));
    for w in text.split_whitespace() {
        if drbd::is_module_parameter(w) {
            assert!(!w.starts_with('-'));
        }
    }
});
