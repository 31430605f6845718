//! Bounded property tests (run in CI with cargo test) of every parser of
//! outside input in this crate, the same ones the cargo-fuzz targets
//! `xl_json` and `xl_list` drive for longer: no panic on any input, and
//! round trips where they exist.

use proptest::prelude::*;

use crate::xl::{self, State};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

proptest! {
    #![proptest_config(config())]

    /// Any text as `xl list -l` output: no panic; a domain found by name
    /// is one of the identities listed.
    #[test]
    fn xl_json_never_panics(text in "[\\[\\]{}\":,0-9a-z \\n]{0,256}") {
        let ids = xl::parse_identities(&text);
        let _ = xl::parse_long(&text, "a");
        if let Ok(ids) = ids {
            for (n, _) in &ids {
                let _ = xl::parse_long(&text, n);
            }
        }
    }

    /// A listing written as xl writes it reads back: identities, vCPUs,
    /// memory, UUID.
    #[test]
    fn xl_json_round_trip(
        doms in proptest::collection::vec(
            ("[a-zA-Z0-9 ._\"\\\\-]{1,20}", "[0-9a-f-]{36}", 1u64..64, 1u64..(1 << 30)),
            1..4,
        ),
    ) {
        let entries: Vec<serde_json::Value> = doms
            .iter()
            .enumerate()
            .map(|(i, (name, uuid, vcpus, memkb))| {
                serde_json::json!({
                    "domid": i + 1,
                    "config": {
                        "c_info": { "type": "pv", "name": name, "uuid": uuid },
                        "b_info": { "max_vcpus": vcpus, "max_memkb": memkb },
                    }
                })
            })
            .collect();
        let json = serde_json::to_string_pretty(&entries).unwrap();
        let ids = xl::parse_identities(&json).unwrap();
        let want: Vec<(String, String)> =
            doms.iter().map(|(n, u, _, _)| (n.clone(), u.clone())).collect();
        prop_assert_eq!(ids, want);
        let (name, uuid, vcpus, memkb) = &doms[0];
        let d = xl::parse_long(&json, name).unwrap();
        prop_assert_eq!((d.vcpus, d.max_memkb, d.uuid), (*vcpus, *memkb, Some(uuid.clone())));
    }

    /// Any text as the `xl list` table, `xl info` or an xl config file: no
    /// panic; every running guest is found by name.
    #[test]
    fn xl_text_never_panics(text in "[ -~\\t\\n\u{e9}]{0,256}") {
        let running = xl::parse_running(&text);
        for n in &running {
            prop_assert!(xl::parse_list(&text, n).is_some());
        }
        let _ = xl::parse_total_memory(&text);
        let _ = xl::config_name(&text);
        let _ = xl::migration_host(&text);
    }

    /// Rows written as xl_info.c writes them read back, names with spaces
    /// included; `xl info` and the config file's name likewise.
    #[test]
    fn xl_table_round_trip(
        rows in proptest::collection::vec(
            ("[a-zA-Z0-9._-][a-zA-Z0-9 ._-]{0,30}[a-zA-Z0-9._-]", 1u32..100_000, "[r-][b-][p-][s-][c-][d-]"),
            1..5,
        ),
        total in 0u64..(1 << 40),
        cfg_name in "[a-zA-Z0-9 #;=._-]{1,20}",
    ) {
        let mut table = String::from("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
        table.push_str("Domain-0                                     0  1024     2     r-----      42.0\n");
        for (name, id, flags) in &rows {
            table.push_str(&format!("{name:<40} {id:>5} {:>5} {:>5}     {flags}  {:>8.1}\n", 512, 1, 3.5));
        }
        for (name, id, flags) in &rows {
            // The first row of that name answers (names may repeat).
            let first = rows.iter().find(|(n, _, _)| n == name).unwrap();
            let got = xl::parse_list(&table, name);
            prop_assert_eq!(got, Some((first.1, State::from_flags(&first.2).unwrap())));
            let _ = (id, flags);
        }
        let info = format!("host                   : node1\ntotal_memory           : {total}\n");
        prop_assert_eq!(xl::parse_total_memory(&info), Some(total));
        let cfg = format!("# comment\nname = \"{cfg_name}\" # the name\nmemory = 128\n");
        prop_assert_eq!(xl::config_name(&cfg), Some(cfg_name));
    }

    /// Hosts that pass are plain: nothing a shell or ssh would act on.
    #[test]
    fn migration_hosts_that_pass_are_plain(host in "[ -~]{0,40}") {
        if xl::migration_host(&host).is_ok() {
            prop_assert!(!host.starts_with('-'));
            prop_assert!(host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':'));
        }
    }
}
