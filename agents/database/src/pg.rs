//! The PostgreSQL probe: startup, authentication (trust, cleartext, md5,
//! SCRAM-SHA-256) and one simple query, on `postgres-protocol`'s message
//! codecs over a [`Wire`] whose every byte is bounded by one deadline. The
//! sync `postgres` crate cannot do this: its handshake has no timeout.
//!
//! The password leaves only in a form the server cannot use elsewhere,
//! unless the server's identity was checked ([`Wire::verified`]: a unix
//! socket served by the service user): over TCP, anyone may listen on the
//! port of a server that is stopped on this node, so a cleartext password
//! request is refused, and an md5 one unless `allow_md5` (the hash is
//! cheap to crack offline). SCRAM proves the server knows the password too,
//! and its final signature is required before the login counts.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend, frontend};

use crate::conn::{
    MAX_AUTH_MESSAGES, MAX_MESSAGE, MAX_QUERY_MESSAGES, MAX_RECEIVED, MAX_SCRAM_ITERATIONS, Phase,
    ProbeError, ProbeErrorKind, Wire, server_text,
};

/// Who connects, to what, asking what.
pub struct Login<'a> {
    pub user: &'a str,
    pub password: Option<&'a str>,
    pub database: &'a str,
    pub query: &'a str,
    /// Server-side limit for the query (statement_timeout), in milliseconds.
    pub statement_timeout_ms: u64,
    /// Answer an md5 request from a server whose identity is not checked
    /// (TCP): the `monitor_allow_md5` parameter.
    pub allow_md5: bool,
}

/// The first row's first column of `login.query`, as text ("" for NULL).
pub fn probe<W: Wire>(conn: &mut W, login: &Login) -> Result<String, ProbeError> {
    let mut s = Session {
        conn,
        buf: BytesMut::with_capacity(1024),
        received: 0,
        messages: 0,
    };
    s.startup(login)?;
    let row = s.query(login.query)?;
    s.terminate();
    row.ok_or(ProbeError::new(Phase::Query, ProbeErrorKind::NoRow))
}

struct Session<'c, W: Wire> {
    conn: &'c mut W,
    buf: BytesMut,
    /// Bytes received in this session.
    received: usize,
    /// Messages received in the current phase.
    messages: usize,
}

fn refused(why: String) -> ProbeError {
    ProbeError::new(Phase::Authentication, ProbeErrorKind::Refused(why))
}

/// The iteration count of a SCRAM server-first message (`r=..,s=..,i=..`),
/// when it has one that parses.
pub fn scram_iterations(server_first: &[u8]) -> Option<u64> {
    std::str::from_utf8(server_first)
        .ok()?
        .split(',')
        .find_map(|a| a.strip_prefix("i="))?
        .parse()
        .ok()
}

impl<W: Wire> Session<'_, W> {
    fn send(&mut self, phase: Phase, out: &BytesMut) -> Result<(), ProbeError> {
        self.conn.send(out).map_err(|e| ProbeError::io(phase, &e))
    }

    fn next(&mut self, phase: Phase) -> Result<backend::Message, ProbeError> {
        let most = match phase {
            Phase::Query => MAX_QUERY_MESSAGES,
            _ => MAX_AUTH_MESSAGES,
        };
        loop {
            // type(1) length(4, counting itself): refuse a huge message
            // before buffering it.
            if let Some(head) = self.buf.get(1..5) {
                let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                if len > MAX_MESSAGE {
                    return Err(ProbeError::other(
                        phase,
                        format!("the server sent a message of {len} bytes (limit {MAX_MESSAGE})"),
                    ));
                }
            }
            match backend::Message::parse(&mut self.buf) {
                Ok(Some(m)) => {
                    self.messages += 1;
                    if self.messages > most {
                        return Err(ProbeError::other(
                            phase,
                            format!("the server sent more than {most} messages"),
                        ));
                    }
                    return Ok(m);
                }
                Ok(None) => {}
                Err(e) => return Err(ProbeError::other(phase, format!("bad message: {e}"))),
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .conn
                .recv(&mut chunk)
                .map_err(|e| ProbeError::io(phase, &e))?;
            self.received += n;
            if self.received > MAX_RECEIVED {
                return Err(ProbeError::other(
                    phase,
                    format!("the server sent more than {MAX_RECEIVED} bytes"),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn startup(&mut self, login: &Login) -> Result<(), ProbeError> {
        let phase = Phase::Authentication;
        self.messages = 0;
        let timeout = login.statement_timeout_ms.max(1).to_string();
        let mut out = BytesMut::new();
        frontend::startup_message(
            [
                ("user", login.user),
                ("database", login.database),
                ("application_name", "ocf-rs-database"),
                ("statement_timeout", timeout.as_str()),
            ],
            &mut out,
        )
        .map_err(|e| ProbeError::other(phase, e.to_string()))?;
        self.send(phase, &out)?;
        let mut scram: Option<sasl::ScramSha256> = None;
        // SCRAM's server signature checked: the server knows the password.
        let mut scram_proven = false;
        loop {
            let mut out = BytesMut::new();
            match self.next(phase)? {
                backend::Message::AuthenticationOk => {
                    if scram.is_some() && !scram_proven {
                        return Err(refused(
                            "the server ended SCRAM authentication without proving it knows \
                             the password"
                                .into(),
                        ));
                    }
                }
                backend::Message::AuthenticationCleartextPassword => {
                    if !self.conn.verified() {
                        return Err(refused(
                            "the server asks for the password in clear text over TCP, where \
                             anyone may listen on its port: not sent (use scram-sha-256 in \
                             pg_hba.conf, or the unix socket)"
                                .into(),
                        ));
                    }
                    let pw = need_password(login)?;
                    frontend::password_message(pw.as_bytes(), &mut out).map_err(io(phase))?;
                    self.send(phase, &out)?;
                }
                backend::Message::AuthenticationMd5Password(body) => {
                    if !self.conn.verified() && !login.allow_md5 {
                        return Err(refused(
                            "the server asks for an md5 password hash over TCP, which whoever \
                             listens on its port can crack offline: not sent (use \
                             scram-sha-256 in pg_hba.conf, or set monitor_allow_md5=true)"
                                .into(),
                        ));
                    }
                    let pw = need_password(login)?;
                    let hash = md5_hash(login.user.as_bytes(), pw.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut out).map_err(io(phase))?;
                    self.send(phase, &out)?;
                }
                backend::Message::AuthenticationSasl(body) => {
                    if scram.is_some() {
                        return Err(ProbeError::other(phase, "SASL started twice"));
                    }
                    let pw = need_password(login)?;
                    let mechs: Vec<String> = body
                        .mechanisms()
                        .take(16)
                        .map(|m| Ok(server_text(m.as_bytes())))
                        .collect()
                        .map_err(io(phase))?;
                    if !mechs.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                        return Err(ProbeError::other(
                            phase,
                            format!("no supported SASL mechanism in {mechs:?}"),
                        ));
                    }
                    let s =
                        sasl::ScramSha256::new(pw.as_bytes(), sasl::ChannelBinding::unsupported());
                    frontend::sasl_initial_response(sasl::SCRAM_SHA_256, s.message(), &mut out)
                        .map_err(io(phase))?;
                    self.send(phase, &out)?;
                    scram = Some(s);
                }
                backend::Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| ProbeError::other(phase, "SASL continue before start"))?;
                    if let Some(i) = scram_iterations(body.data())
                        && i > u64::from(MAX_SCRAM_ITERATIONS)
                    {
                        return Err(ProbeError::other(
                            phase,
                            format!(
                                "the server asks for {i} SCRAM iterations (limit \
                                 {MAX_SCRAM_ITERATIONS})"
                            ),
                        ));
                    }
                    s.update(body.data()).map_err(io(phase))?;
                    frontend::sasl_response(s.message(), &mut out).map_err(io(phase))?;
                    self.send(phase, &out)?;
                }
                backend::Message::AuthenticationSaslFinal(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| ProbeError::other(phase, "SASL final before start"))?;
                    s.finish(body.data()).map_err(|e| {
                        ProbeError::other(phase, format!("server signature rejected: {e}"))
                    })?;
                    scram_proven = true;
                }
                backend::Message::ErrorResponse(body) => {
                    return Err(error_response(phase, &body));
                }
                backend::Message::ReadyForQuery(_) => {
                    if scram.is_some() && !scram_proven {
                        return Err(refused(
                            "the server skipped SCRAM's final step: its identity is unproven"
                                .into(),
                        ));
                    }
                    return Ok(());
                }
                backend::Message::ParameterStatus(_)
                | backend::Message::BackendKeyData(_)
                | backend::Message::NoticeResponse(_) => {}
                _ => {
                    return Err(ProbeError::other(
                        phase,
                        "unsupported authentication method (only trust, peer, password, md5, \
                         scram-sha-256)",
                    ));
                }
            }
        }
    }

    fn query(&mut self, sql: &str) -> Result<Option<String>, ProbeError> {
        let phase = Phase::Query;
        self.messages = 0;
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(io(phase))?;
        self.send(phase, &out)?;
        let mut first: Option<String> = None;
        let mut error = None;
        loop {
            match self.next(phase)? {
                backend::Message::DataRow(row) if first.is_none() => {
                    let mut ranges = row.ranges();
                    let cell = ranges.next().map_err(io(phase))?;
                    first = Some(match cell.flatten() {
                        Some(r) => String::from_utf8_lossy(
                            row.buffer()
                                .get(r)
                                .ok_or_else(|| ProbeError::other(phase, "bad data row"))?,
                        )
                        .into_owned(),
                        None => String::new(),
                    });
                }
                backend::Message::ErrorResponse(body) => {
                    error = Some(error_response(phase, &body));
                }
                backend::Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(first),
        }
    }

    fn terminate(&mut self) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.conn.send(&out);
    }
}

fn io(phase: Phase) -> impl Fn(std::io::Error) -> ProbeError {
    move |e| ProbeError::other(phase, e.to_string())
}

fn need_password<'a>(login: &Login<'a>) -> Result<&'a str, ProbeError> {
    login.password.ok_or_else(|| {
        ProbeError::new(
            Phase::Authentication,
            ProbeErrorKind::Credentials(format!(
                "the server asks a password for user \"{}\" and monitor_password is not set",
                login.user
            )),
        )
    })
}

/// `SQLSTATE: message`, classified: class 28 is about credentials, 57P03
/// is a server that is starting or stopping.
fn error_response(phase: Phase, body: &backend::ErrorResponseBody) -> ProbeError {
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        let value = server_text(f.value_bytes());
        match f.type_() {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    classify(phase, &code, &message)
}

fn classify(phase: Phase, code: &str, message: &str) -> ProbeError {
    let text = format!("{code}: {message}");
    let kind = if code.starts_with("28") {
        ProbeErrorKind::Credentials(text)
    } else if code == "57P03" {
        ProbeErrorKind::NotReady(text)
    } else {
        ProbeErrorKind::Server(text)
    };
    ProbeError { phase, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_classes_are_sorted() {
        assert!(matches!(
            classify(
                Phase::Authentication,
                "28P01",
                "password authentication failed"
            )
            .kind,
            ProbeErrorKind::Credentials(_)
        ));
        assert!(matches!(
            classify(Phase::Authentication, "28000", "no pg_hba.conf entry").kind,
            ProbeErrorKind::Credentials(_)
        ));
        assert!(matches!(
            classify(
                Phase::Authentication,
                "57P03",
                "the database system is starting up"
            )
            .kind,
            ProbeErrorKind::NotReady(_)
        ));
        let e = classify(
            Phase::Query,
            "57014",
            "canceling statement due to statement timeout",
        );
        assert_eq!(
            e.to_string(),
            "server error during query: 57014: canceling statement due to statement timeout"
        );
    }

    #[test]
    fn md5_matches_the_documented_construction() {
        // md5(md5(password || user) || salt), hex, prefixed with "md5".
        let h = md5_hash(b"u", b"p", [1, 2, 3, 4]);
        assert!(h.starts_with("md5") && h.len() == 35, "{h}");
    }

    // ---- A server's bytes played back (conn::Replay): what the client
    // does with them, and what it sent. ----

    use crate::conn::Replay;

    /// A password no server byte can make the client echo: a comma never
    /// appears in a SCRAM nonce.
    const PW: &str = "s3cret,pw";

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
        let mut b = code.to_be_bytes().to_vec();
        b.extend_from_slice(extra);
        msg(b'R', &b)
    }

    fn ready() -> Vec<u8> {
        msg(b'Z', b"I")
    }

    /// A one-column row holding `v`.
    fn row(v: &[u8]) -> Vec<u8> {
        let mut b = 1u16.to_be_bytes().to_vec();
        b.extend_from_slice(&(v.len() as u32).to_be_bytes());
        b.extend_from_slice(v);
        msg(b'D', &b)
    }

    /// Login accepted, then `SELECT 1` answered.
    fn logged_in_and_answered() -> Vec<u8> {
        [
            auth(0, &[]),
            ready(),
            row(b"1"),
            msg(b'C', b"SELECT 1\0"),
            ready(),
        ]
        .concat()
    }

    fn login(allow_md5: bool) -> Login<'static> {
        Login {
            user: "mon",
            password: Some(PW),
            database: "postgres",
            query: "SELECT 1",
            statement_timeout_ms: 1000,
            allow_md5,
        }
    }

    /// Play `server` over a verified (unix, peer checked) or unverified
    /// (TCP) connection: the result and every byte the client sent.
    pub(crate) fn replay(
        server: &[u8],
        verified: bool,
        allow_md5: bool,
    ) -> (Result<String, ProbeError>, Vec<u8>) {
        let mut w = Replay::new(server, verified);
        let r = probe(&mut w, &login(allow_md5));
        (r, w.sent)
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Only the startup message left: its length is its first 4 bytes.
    fn only_startup(sent: &[u8]) -> bool {
        let n = u32::from_be_bytes([sent[0], sent[1], sent[2], sent[3]]) as usize;
        sent.len() == n
    }

    #[test]
    fn cleartext_is_refused_over_tcp_and_answered_on_a_checked_socket() {
        let server = [auth(3, &[]), logged_in_and_answered()].concat();
        let (r, sent) = replay(&server, false, true);
        let e = r.unwrap_err();
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("clear text")),
            "{e:?}"
        );
        assert!(!contains(&sent, PW.as_bytes()));
        assert!(only_startup(&sent), "{sent:?}");
        let (r, sent) = replay(&server, true, false);
        assert_eq!(r.unwrap(), "1");
        assert!(contains(&sent, PW.as_bytes()), "the checked server gets it");
    }

    #[test]
    fn md5_over_tcp_only_with_the_opt_in() {
        let server = [auth(5, b"salt"), logged_in_and_answered()].concat();
        let (r, sent) = replay(&server, false, false);
        let e = r.unwrap_err();
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("monitor_allow_md5")),
            "{e:?}"
        );
        assert!(only_startup(&sent), "no hash sent: {sent:?}");
        let hash = md5_hash(b"mon", PW.as_bytes(), *b"salt");
        let (r, sent) = replay(&server, false, true);
        assert_eq!(r.unwrap(), "1");
        assert!(contains(&sent, hash.as_bytes()));
        assert!(!contains(&sent, PW.as_bytes()));
        let (r, _) = replay(&server, true, false);
        assert_eq!(r.unwrap(), "1", "md5 on a checked socket needs no opt-in");
    }

    #[test]
    fn a_huge_message_is_refused_before_it_is_buffered() {
        let mut server = vec![b'N', 0x7f, 0xff, 0xff, 0xff];
        server.extend_from_slice(&[b'x'; 100]);
        let (r, _) = replay(&server, false, false);
        let e = r.unwrap_err();
        assert!(e.to_string().contains("bytes (limit"), "{e}");
    }

    #[test]
    fn message_counts_and_total_bytes_are_capped() {
        // Notices forever during authentication.
        let notice = msg(b'N', b"Mhello\0\0");
        let server: Vec<u8> = std::iter::repeat_n(notice, 300).flatten().collect();
        let e = replay(&server, false, false).0.unwrap_err();
        assert!(e.to_string().contains("more than 256 messages"), "{e}");
        // Rows forever in answer to the query.
        let rows: Vec<u8> = std::iter::repeat_n(row(b"1"), MAX_QUERY_MESSAGES + 1)
            .flatten()
            .collect();
        let server = [auth(0, &[]), ready(), rows].concat();
        let e = replay(&server, false, false).0.unwrap_err();
        assert!(e.to_string().contains("messages"), "{e}");
        // Big rows: the bytes run out first.
        let big = row(&vec![b'x'; MAX_MESSAGE - 64]);
        let rows: Vec<u8> = std::iter::repeat_n(big, 17).flatten().collect();
        let server = [auth(0, &[]), ready(), rows].concat();
        let e = replay(&server, false, false).0.unwrap_err();
        assert!(e.to_string().contains("bytes"), "{e}");
    }

    #[test]
    fn scram_must_end_with_the_servers_signature() {
        let sasl = auth(10, b"SCRAM-SHA-256\0\0");
        let server = [sasl.clone(), logged_in_and_answered()].concat();
        let e = replay(&server, false, false).0.unwrap_err();
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("proving")),
            "{e:?}"
        );
        let server = [sasl, ready()].concat();
        let e = replay(&server, false, false).0.unwrap_err();
        assert!(matches!(&e.kind, ProbeErrorKind::Refused(_)), "{e:?}");
    }

    #[test]
    fn scram_iteration_counts_parse() {
        assert_eq!(scram_iterations(b"r=abc,s=c2FsdA==,i=4096"), Some(4096));
        assert_eq!(scram_iterations(b"r=abc,s=c2FsdA=="), None);
        assert_eq!(scram_iterations(b"\xff,i=7"), None);
    }

    /// A real socket: the server echoes the client's nonce (which a replay
    /// cannot), so without a cap the client would run PBKDF2 for
    /// 50 000 000 iterations, seconds of CPU no deadline can cut short.
    /// (postgres-protocol 0.6.12 refuses above 100 000 too; ours does not
    /// depend on the version and names the limit.)
    #[test]
    fn a_huge_scram_iteration_count_is_refused_at_once() {
        use crate::conn::{Conn, Target};
        use ocf::Deadline;
        use std::io::{Read, Write};
        use std::time::{Duration, Instant};
        let dir = std::env::temp_dir().join(format!("dba-pg-scram-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut startup).unwrap();
            s.write_all(&auth(10, b"SCRAM-SHA-256\0\0")).unwrap();
            let mut head = [0u8; 5];
            s.read_exact(&mut head).unwrap();
            let mut body =
                vec![0u8; u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize - 4];
            s.read_exact(&mut body).unwrap();
            let text = String::from_utf8_lossy(&body).into_owned();
            let nonce = text.split("r=").nth(1).unwrap().to_string();
            let first = format!("r={nonce}srv,s=c2FsdHNhbHQ=,i=50000000");
            s.write_all(&auth(11, first.as_bytes())).unwrap();
            let mut rest = vec![];
            let _ = s.read_to_end(&mut rest);
        });
        let t = Target::Unix(sock);
        let mut c = Conn::connect(&t, Deadline::after(Duration::from_secs(5)), None).unwrap();
        let started = Instant::now();
        let e = probe(&mut c, &login(false)).unwrap_err();
        drop(c);
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.to_string().contains("50000000 SCRAM iterations"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
