//! The PostgreSQL probe: startup, authentication (trust, cleartext, md5,
//! SCRAM-SHA-256) and one simple query, on `postgres-protocol`'s message
//! codecs over a [`Conn`] whose every byte is bounded by one deadline. The
//! sync `postgres` crate cannot do this: its handshake has no timeout.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend, frontend};

use crate::conn::{Conn, Phase, ProbeError, ProbeErrorKind};

/// Who connects, to what, asking what.
pub struct Login<'a> {
    pub user: &'a str,
    pub password: Option<&'a str>,
    pub database: &'a str,
    pub query: &'a str,
    /// Server-side limit for the query (statement_timeout), in milliseconds.
    pub statement_timeout_ms: u64,
}

/// The first row's first column of `login.query`, as text ("" for NULL).
pub fn probe(conn: &mut Conn, login: &Login) -> Result<String, ProbeError> {
    let mut s = Session {
        conn,
        buf: BytesMut::with_capacity(1024),
    };
    s.startup(login)?;
    let row = s.query(login.query)?;
    s.terminate();
    row.ok_or(ProbeError::new(Phase::Query, ProbeErrorKind::NoRow))
}

struct Session<'c> {
    conn: &'c mut Conn,
    buf: BytesMut,
}

impl Session<'_> {
    fn send(&mut self, phase: Phase, out: &BytesMut) -> Result<(), ProbeError> {
        self.conn.send(out).map_err(|e| ProbeError::io(phase, &e))
    }

    fn next(&mut self, phase: Phase) -> Result<backend::Message, ProbeError> {
        loop {
            match backend::Message::parse(&mut self.buf) {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {}
                Err(e) => return Err(ProbeError::other(phase, format!("bad message: {e}"))),
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .conn
                .recv(&mut chunk)
                .map_err(|e| ProbeError::io(phase, &e))?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn startup(&mut self, login: &Login) -> Result<(), ProbeError> {
        let phase = Phase::Authentication;
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
        loop {
            let mut out = BytesMut::new();
            match self.next(phase)? {
                backend::Message::AuthenticationOk => {}
                backend::Message::AuthenticationCleartextPassword => {
                    let pw = need_password(login)?;
                    frontend::password_message(pw.as_bytes(), &mut out).map_err(io(phase))?;
                    self.send(phase, &out)?;
                }
                backend::Message::AuthenticationMd5Password(body) => {
                    let pw = need_password(login)?;
                    let hash = md5_hash(login.user.as_bytes(), pw.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut out).map_err(io(phase))?;
                    self.send(phase, &out)?;
                }
                backend::Message::AuthenticationSasl(body) => {
                    let pw = need_password(login)?;
                    let mechs: Vec<String> = body
                        .mechanisms()
                        .map(|m| Ok(m.to_string()))
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
                }
                backend::Message::ErrorResponse(body) => {
                    return Err(error_response(phase, &body));
                }
                backend::Message::ReadyForQuery(_) => return Ok(()),
                backend::Message::ParameterStatus(_)
                | backend::Message::BackendKeyData(_)
                | backend::Message::NoticeResponse(_) => {}
                _ => {
                    return Err(ProbeError::other(
                        phase,
                        "unsupported authentication method (only trust, password, md5, scram-sha-256)",
                    ));
                }
            }
        }
    }

    fn query(&mut self, sql: &str) -> Result<Option<String>, ProbeError> {
        let phase = Phase::Query;
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
                        Some(r) => String::from_utf8_lossy(&row.buffer()[r]).into_owned(),
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
        let value = String::from_utf8_lossy(f.value_bytes()).into_owned();
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
}
