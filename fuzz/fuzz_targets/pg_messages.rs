//! The PostgreSQL backend messages the database agent's monitor parses
//! (authentication requests, SCRAM server-first/final, row descriptions,
//! data rows, errors, notices): the fuzz input is everything a server
//! sends, played to the very client session the monitor runs
//! (`database::pg::probe` over a `conn::Replay`). The first byte picks the
//! connection: bit 0 a unix socket whose server was checked, else TCP;
//! bit 1 `monitor_allow_md5`. It must never panic, and over TCP the
//! password never leaves in clear, nor as md5 without the opt-in.
#![no_main]

use database::conn::Replay;
use database::pg;
use libfuzzer_sys::fuzz_target;

/// A comma never appears in a SCRAM nonce, so the client cannot be made
/// to echo this back.
const PW: &str = "fuzz,pw-14";

/// Frontend messages after the startup message: (tag, body).
fn messages(sent: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let Some(first) = sent.get(..4) else {
        return out;
    };
    let mut at = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize;
    while let Some(head) = sent.get(at..at + 5) {
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let body = sent.get(at + 5..at + 1 + len).expect("a whole message");
        out.push((head[0], body));
        at += 1 + len;
    }
    assert_eq!(at, sent.len(), "the client writes whole messages");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, server)) = data.split_first() else {
        return;
    };
    let verified = mode & 1 != 0;
    let allow_md5 = mode & 2 != 0;
    let login = pg::Login {
        user: "mon",
        password: Some(PW),
        database: "postgres",
        query: "SELECT 1",
        statement_timeout_ms: 1000,
        allow_md5,
    };
    let mut wire = Replay::new(server, verified);
    let _ = pg::probe(&mut wire, &login);
    if !verified {
        assert!(
            !wire.sent.windows(PW.len()).any(|w| w == PW.as_bytes()),
            "the password went to an unchecked server"
        );
        if !allow_md5 {
            for (tag, body) in messages(&wire.sent) {
                assert!(
                    !(tag == b'p' && body.starts_with(b"md5")),
                    "an md5 hash went to an unchecked server"
                );
            }
        }
    }
});
