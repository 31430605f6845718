//! Bounded property tests of every parser of outside input in this agent
//! (the same invariants the fuzz targets check, on generated input), so CI
//! runs them with `cargo test`: a few hundred cases each, well under a
//! second.

use proptest::prelude::*;

use crate::invariants;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes that look like a mount table: digits, separators, escapes,
/// paths, and now and then anything at all (a name need not be UTF-8).
fn table() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        1u32..40,
        0u32..40,
        proptest::collection::vec(
            prop_oneof![
                Just(b"/".to_vec()),
                Just(b"\\040".to_vec()),
                Just(b"\\134".to_vec()),
                Just(b"\\9".to_vec()),
                Just(b"a".to_vec()),
                Just(vec![0xff]),
                Just(b" - ".to_vec()),
                any::<u8>().prop_map(|b| vec![b]),
            ],
            0..12,
        ),
    )
        .prop_map(|(id, parent, path)| {
            let p: Vec<u8> = path.concat();
            let mut l = format!("{id} {parent} 0:{id} / /m").into_bytes();
            l.extend(&p);
            l.extend_from_slice(b" rw - tmpfs src");
            l.extend(&p);
            l.extend_from_slice(b" rw");
            l
        });
    proptest::collection::vec(line, 0..12).prop_map(|ls| ls.join(&b'\n'))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mountinfo_tables(t in table()) {
        invariants::mountinfo_table(&t);
    }

    #[test]
    fn mountinfo_any_bytes(t in proptest::collection::vec(any::<u8>(), 0..400)) {
        invariants::mountinfo_table(&t);
    }

    #[test]
    fn mountinfo_lines_round_trip(
        root in proptest::collection::vec(any::<u8>(), 1..40),
        mp in proptest::collection::vec(any::<u8>(), 1..40),
        source in proptest::collection::vec(any::<u8>(), 0..40),
        id in any::<u32>(),
    ) {
        invariants::mountinfo_line_round_trip(&root, &mp, &source, id);
    }

    #[test]
    fn filesystem_input_any_bytes(d in proptest::collection::vec(any::<u8>(), 0..300)) {
        invariants::filesystem_input(&d);
    }

    #[test]
    fn filesystem_input_text(s in "[-a-zA-Z0-9=,:/\\\\ ()\n.]{0,80}") {
        invariants::filesystem_input(s.as_bytes());
    }

    #[test]
    fn proc_stat_with_any_comm(comm in proptest::collection::vec(any::<u8>(), 0..20), ppid in 0i32..100000) {
        let mut stat = b"123 (".to_vec();
        stat.extend(&comm);
        stat.extend(format!(") S {ppid} 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654").as_bytes());
        prop_assert_eq!(ocf::procfs::parse_stat(&stat).map(|s| s.ppid), Some(ppid));
    }
}

/// Found by the `mountinfo` fuzz target: a path field of `-` alone made
/// the text ` - ` that the parser took for the separator, so a well-formed
/// line did not parse.
#[test]
fn fuzz_crash_a_dash_as_a_path_field() {
    invariants::mountinfo_line_round_trip(b" 27 0:2hm rw", b"-", b"", 50);
    invariants::mountinfo_line_round_trip(b"-", b"-", b"-", 1);
}
