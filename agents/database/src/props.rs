//! Bounded property tests (they run with `cargo test`, a few seconds) of
//! every parser of outside input in this crate: the PostgreSQL and MySQL
//! wire clients driven by arbitrary and by well-formed-but-hostile server
//! bytes (the fuzz targets `pg_messages` and `mysql_packets` do the same
//! for longer), and the small parsers of files others write (pid files,
//! /proc stat, postgresql.conf, the server's log).

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::conn::{Replay, server_text};
use crate::{mysql, pg, process};

/// No SCRAM nonce can contain a comma: the client cannot be made to echo it.
const PW: &str = "prop,pw-14";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

// ---- PostgreSQL ----

fn pg_msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A backend message the client may meet, with hostile contents.
fn pg_message() -> impl Strategy<Value = Vec<u8>> {
    let body = vec(any::<u8>(), 0..64);
    prop_oneof![
        (
            prop::sample::select(vec![0u32, 3, 5, 7, 10, 11, 12, 99]),
            body.clone()
        )
            .prop_map(|(code, extra)| {
                let mut b = code.to_be_bytes().to_vec();
                b.extend_from_slice(&extra);
                pg_msg(b'R', &b)
            }),
        Just(pg_msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0")),
        Just(pg_msg(b'R', b"\0\0\0\x05salt")),
        Just(pg_msg(b'R', b"\0\0\0\x03")),
        Just(pg_msg(b'Z', b"I")),
        (prop::sample::select(b"SKZTDCENtv12".to_vec()), body.clone())
            .prop_map(|(t, b)| pg_msg(t, &b)),
        vec(any::<u8>(), 0..16).prop_map(|v| {
            let mut b = 1u16.to_be_bytes().to_vec();
            b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            b.extend_from_slice(&v);
            pg_msg(b'D', &b)
        }),
        body,
    ]
}

/// Frontend messages after the startup message: (tag, body).
fn pg_sent(sent: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = u32::from_be_bytes([sent[0], sent[1], sent[2], sent[3]]) as usize;
    while let Some(head) = sent.get(at..at + 5) {
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        out.push((head[0], sent[at + 5..at + 1 + len].to_vec()));
        at += 1 + len;
    }
    assert_eq!(at, sent.len(), "whole messages");
    out
}

/// Play `server` to the monitor's client; check what it sent.
fn pg_play(server: &[u8], verified: bool, allow_md5: bool) {
    let login = pg::Login {
        user: "mon",
        password: Some(PW),
        database: "postgres",
        query: "SELECT 1",
        statement_timeout_ms: 1000,
        allow_md5,
    };
    let mut w = Replay::new(server, verified);
    let r = pg::probe(&mut w, &login);
    if let Err(e) = &r {
        let text = e.to_string();
        assert!(!text.contains(PW), "{text}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    if !verified {
        assert!(!contains(&w.sent, PW.as_bytes()), "password sent: {r:?}");
        if !allow_md5 {
            for (tag, body) in pg_sent(&w.sent) {
                assert!(!(tag == b'p' && body.starts_with(b"md5")), "md5 sent");
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pg_any_bytes(server in vec(any::<u8>(), 0..2048), verified: bool, md5: bool) {
        pg_play(&server, verified, md5);
    }

    #[test]
    fn pg_hostile_message_sequences(
        msgs in vec(pg_message(), 0..12), verified: bool, md5: bool
    ) {
        pg_play(&msgs.concat(), verified, md5);
    }

    #[test]
    fn scram_iterations_round_trip(i: u32, nonce in "[!-+.-~]{1,20}") {
        let first = format!("r={nonce},s=c2FsdA==,i={i}");
        prop_assert_eq!(pg::scram_iterations(first.as_bytes()), Some(u64::from(i)));
    }
}

// ---- MySQL ----

fn my_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    v.push(seq);
    v.extend_from_slice(payload);
    v
}

/// A protocol-10 handshake: version, 20-byte scramble (no NUL), plugin.
fn handshake(version: &str, scramble: &[u8], plugin: &str) -> Vec<u8> {
    let caps: u32 = 0xf7ff | (1 << 19) | (1 << 16) | (1 << 17);
    let mut p = vec![10];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&scramble[..8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(&scramble[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

fn plugin() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mysql_native_password".to_string()),
        Just("caching_sha2_password".to_string()),
        Just("mysql_clear_password".to_string()),
        Just("unix_socket".to_string()),
        "[a-z_]{0,20}",
    ]
}

/// A packet the client may meet after the handshake, hostile contents.
fn my_reply() -> impl Strategy<Value = Vec<u8>> {
    let body = vec(any::<u8>(), 0..48);
    prop_oneof![
        Just(vec![0, 0, 0, 2, 0, 0, 0]),
        Just(vec![0x01, 0x03]),
        Just(vec![0x01, 0x04]),
        Just(vec![0xfe, 0, 0, 2, 0]),
        plugin().prop_map(|p| {
            let mut v = vec![0xfe];
            v.extend_from_slice(p.as_bytes());
            v.push(0);
            v.extend_from_slice(b"ABCDEFGHIJKLMNOPQRST\0");
            v
        }),
        (
            prop::sample::select(vec![0u8, 1, 2, 0xfb, 0xfc, 0xfe, 0xff]),
            body.clone()
        )
            .prop_map(|(b, mut rest)| {
                rest.insert(0, b);
                rest
            }),
        body,
    ]
}

fn my_play(server: &[u8], verified: bool, execute: bool) {
    let login = mysql::Login {
        user: "mon",
        password: Some(PW),
        database: Some("mysql"),
        query: "SELECT 1",
        statement_timeout_ms: 1000,
        server_public_key: Path::new("/nonexistent/ocf-rs-prop/public_key.pem"),
        key_owners: &[0],
    };
    let mut w = Replay::new(server, verified);
    let r = if execute {
        mysql::execute(&mut w, &login).map(|()| (String::new(), String::new()))
    } else {
        mysql::probe(&mut w, &login)
    };
    if let Err(e) = &r {
        let text = e.to_string();
        assert!(!text.contains(PW), "{text}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    if !verified {
        assert!(!contains(&w.sent, PW.as_bytes()), "password sent: {r:?}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mysql_any_bytes(server in vec(any::<u8>(), 0..2048), verified: bool, execute: bool) {
        my_play(&server, verified, execute);
    }

    #[test]
    fn mysql_hostile_exchanges(
        version in "[ -~]{0,30}",
        scramble in vec(1u8..=255, 20),
        first in plugin(),
        replies in vec(my_reply(), 0..10),
        verified: bool,
        execute: bool,
    ) {
        let mut server = my_packet(0, &handshake(&version, &scramble, &first));
        for (i, r) in replies.iter().enumerate() {
            server.extend(my_packet(i as u8 + 2, r));
        }
        my_play(&server, verified, execute);
    }

    #[test]
    fn handshake_round_trip(
        version in "[ -~]{0,30}",
        scramble in vec(1u8..=255, 20),
        plugin in "[a-z_]{1,30}",
    ) {
        let hs = mysql::parse_handshake(&handshake(&version, &scramble, &plugin)).unwrap();
        prop_assert_eq!(hs.server_version, version);
        prop_assert_eq!(hs.scramble, scramble);
        prop_assert_eq!(hs.plugin, plugin);
    }

    #[test]
    fn text_cells_round_trip(
        cell in prop_oneof![vec(any::<u8>(), 0..300), vec(any::<u8>(), 65_530..65_560)]
    ) {
        let n = cell.len();
        let mut p = match n {
            0..=250 => vec![n as u8],
            251..=0xffff => {
                let mut v = vec![0xfc];
                v.extend_from_slice(&(n as u16).to_le_bytes());
                v
            }
            _ => {
                let mut v = vec![0xfd];
                v.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
                v
            }
        };
        p.extend_from_slice(&cell);
        prop_assert_eq!(
            mysql::first_text_cell(&p),
            Some(String::from_utf8_lossy(&cell).into_owned())
        );
        // Cut short: no cell, no panic.
        if n > 0 {
            prop_assert_eq!(mysql::first_text_cell(&p[..p.len() - 1]), None);
        }
    }

    #[test]
    fn statement_timeout_never_panics(q in "\\PC{0,40}", ms: u64) {
        let maria = mysql::with_statement_timeout("10.11.6-MariaDB", &q, ms);
        prop_assert!(maria.ends_with(q.as_str()));
        let mysql8 = mysql::with_statement_timeout("8.0.36", &q, ms);
        prop_assert!(mysql8 == q || mysql8.starts_with("SELECT /*+ MAX_EXECUTION_TIME("));
    }
}

// ---- Files and text others write ----

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pid_files(text in "\\PC{0,80}", pid in 1i32..=i32::MAX, rest in "[ -~\n]{0,80}") {
        let _ = process::parse_pid(&text);
        let written = format!("{pid}\n{rest}");
        prop_assert_eq!(process::parse_pid(&written), Some(pid));
    }

    #[test]
    fn proc_stat(comm in vec(any::<u8>(), 0..20), state in "[RSDZTX]", ppid in 0i32..=i32::MAX, noise in vec(any::<u8>(), 0..64)) {
        // The agent reads /proc/<pid>/stat through ocf::procfs.
        let _ = ocf::procfs::parse_stat(&noise);
        let mut stat = b"42 (".to_vec();
        stat.extend_from_slice(&comm);
        stat.extend_from_slice(format!(") {state} {ppid} 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1").as_bytes());
        let f = ocf::procfs::parse_stat(&stat).unwrap();
        prop_assert_eq!(f.state.to_string(), state);
        prop_assert_eq!(f.ppid, ppid);
    }

    #[test]
    fn postgresql_conf(noise in "\\PC{0,200}", dir in "/[a-z0-9/_.-]{1,40}", comment in "[ -~]{0,20}") {
        let _ = crate::engine::postgresql::data_directory(&noise);
        let conf = format!("{noise}\ndata_directory = '{dir}'\t# {comment}\n");
        prop_assert_eq!(crate::engine::postgresql::data_directory(&conf), Some(std::path::PathBuf::from(&dir)));
    }

    #[test]
    fn log_tails_and_server_text(tail in "\\PC{0,600}", raw in vec(any::<u8>(), 0..600)) {
        for line in [process::telling_line(&tail), Some(server_text(&raw))].into_iter().flatten() {
            prop_assert!(line.chars().count() <= 303);
            prop_assert!(!line.chars().any(char::is_control));
        }
    }
}
