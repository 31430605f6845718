//! The MySQL/MariaDB packets the database agent's monitor and stop parse
//! (initial handshake, auth switch, AuthMoreData of caching_sha2, OK/ERR/
//! EOF, column definitions and rows): the fuzz input is everything a
//! server sends, played to the very client session the monitor runs
//! (`database::mysql::probe`, or `execute` as stop's SHUTDOWN does, over a
//! `conn::Replay`). The first byte picks the connection: bit 0 a unix
//! socket whose server was checked, else TCP; bit 1 `execute`. It must
//! never panic, and over TCP the password never leaves in clear.
#![no_main]

use std::path::Path;

use database::conn::Replay;
use database::mysql;
use libfuzzer_sys::fuzz_target;

const PW: &str = "fuzz,pw-14";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, server)) = data.split_first() else {
        return;
    };
    let verified = mode & 1 != 0;
    let login = mysql::Login {
        user: "mon",
        password: Some(PW),
        database: Some("mysql"),
        query: "SELECT 1",
        statement_timeout_ms: 1000,
        server_public_key: Path::new("/nonexistent/ocf-rs-fuzz/public_key.pem"),
        key_owners: &[0],
    };
    let mut wire = Replay::new(server, verified);
    if mode & 2 == 0 {
        let _ = mysql::probe(&mut wire, &login);
    } else {
        let _ = mysql::execute(&mut wire, &login);
    }
    if !verified {
        assert!(
            !wire.sent.windows(PW.len()).any(|w| w == PW.as_bytes()),
            "the password went to an unchecked server"
        );
    }
});
