//! The MySQL/MariaDB probe: the handshake, authentication
//! (`mysql_native_password`, `unix_socket`, `caching_sha2_password`, and
//! `mysql_clear_password` over a unix socket) and one text query, written
//! against the documented client/server protocol with sha1/sha2 as the only
//! helpers, and the `rsa` crate for caching_sha2_password's full
//! authentication over TCP.
//!
//! The password itself (mysql_clear_password, caching_sha2's full
//! authentication in clear) goes only to a server whose identity was
//! checked ([`Wire::verified`]: a unix socket served by the service user).
//! Over TCP, without TLS, the full authentication sends it RSA-encrypted
//! with a public key from a local file owned by the service user or root,
//! never with a key the server sends: whoever listens on the port of a
//! stopped server would send their own and decrypt the password.
//!
//! [`packets`] reads what the server sends, [`auth`] computes what the
//! client answers; the session here ties them together under the limits
//! of [`crate::conn`].
//!
//! Why not `mysql_common` (measured for issue 15): the session, the caps
//! and the password rules would stay ours anyway (it has no client session
//! and no per-session limits), and for the ~150 lines of parsing and
//! scrambles it would replace it brings 23 more crates (regex, serde and a
//! proc-macro stack, flate2, uuid), ~2.3 MB of binary, and a handshake
//! parser that panics in a debug build (and silently misreads in release)
//! on an auth-data length byte of 128 or more.

pub mod auth;
pub mod packets;
#[cfg(test)]
mod tests;

use std::path::Path;

use crate::conn::{
    MAX_AUTH_MESSAGES, MAX_MESSAGE, MAX_QUERY_MESSAGES, MAX_RECEIVED, Phase, ProbeError,
    ProbeErrorKind, Wire, server_text,
};

pub use auth::{auth_response, caching_sha2, native_password, read_key_file, rsa_password};
use packets::*;
pub use packets::{Handshake, first_text_cell, parse_handshake, with_statement_timeout};

/// Who connects, to what, asking what.
pub struct Login<'a> {
    pub user: &'a str,
    pub password: Option<&'a str>,
    pub database: Option<&'a str>,
    pub query: &'a str,
    /// Server-side limit for the query, in milliseconds.
    pub statement_timeout_ms: u64,
    /// The server's RSA public key (PEM), read only for a full
    /// caching_sha2_password authentication over TCP.
    pub server_public_key: &'a Path,
    /// Who may own that key file (the service user, root).
    pub key_owners: &'a [u32],
}

/// The first row's first column of the query as text ("" for NULL), and
/// the server's version string.
pub fn probe<W: Wire>(conn: &mut W, login: &Login) -> Result<(String, String), ProbeError> {
    let mut s = Session::new(conn);
    let hello = s.read_packet(Phase::Authentication)?;
    let hs = parse_handshake(&hello)?;
    s.authenticate(&hs, login)?;
    let sql = with_statement_timeout(&hs.server_version, login.query, login.statement_timeout_ms);
    let row = s.query(&sql)?;
    s.quit();
    Ok((row, hs.server_version))
}

/// Run a statement that returns no rows (e.g. `SHUTDOWN`). A server that
/// closes the connection right after accepting it counts as done.
pub fn execute<W: Wire>(conn: &mut W, login: &Login) -> Result<(), ProbeError> {
    let mut s = Session::new(conn);
    let hello = s.read_packet(Phase::Authentication)?;
    let hs = parse_handshake(&hello)?;
    s.authenticate(&hs, login)?;
    s.seq = 0;
    s.packets = 0;
    let mut p = vec![0x03];
    p.extend_from_slice(login.query.as_bytes());
    s.write_packet(Phase::Query, &p)?;
    match s.read_packet(Phase::Query) {
        Ok(r) if r.first() == Some(&0xff) => Err(err_packet(Phase::Query, &r)),
        Ok(_) => Ok(()),
        Err(e) if matches!(&e.kind, ProbeErrorKind::Other(m) if m.contains("closed")) => Ok(()),
        Err(e) => Err(e),
    }
}

struct Session<'c, W: Wire> {
    conn: &'c mut W,
    seq: u8,
    /// Bytes received in this session.
    received: usize,
    /// Packets received in the current phase.
    packets: usize,
}

impl<'c, W: Wire> Session<'c, W> {
    fn new(conn: &'c mut W) -> Self {
        Session {
            conn,
            seq: 0,
            received: 0,
            packets: 0,
        }
    }

    /// One logical packet (continuation packets joined), within the limits
    /// of [`crate::conn`]: its size checked before anything is allocated.
    fn read_packet(&mut self, phase: Phase) -> Result<Vec<u8>, ProbeError> {
        let most = match phase {
            Phase::Query => MAX_QUERY_MESSAGES,
            _ => MAX_AUTH_MESSAGES,
        };
        self.packets += 1;
        if self.packets > most {
            return Err(ProbeError::other(
                phase,
                format!("the server sent more than {most} packets"),
            ));
        }
        let mut payload = Vec::new();
        loop {
            let mut head = [0u8; 4];
            self.conn
                .recv_exact(&mut head)
                .map_err(|e| ProbeError::io(phase, &e))?;
            let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
            self.seq = head[3].wrapping_add(1);
            let at = payload.len();
            if at + len > MAX_MESSAGE {
                return Err(ProbeError::other(
                    phase,
                    format!(
                        "the server sent a packet of more than {MAX_MESSAGE} bytes ({})",
                        at + len
                    ),
                ));
            }
            self.received += 4 + len;
            if self.received > MAX_RECEIVED {
                return Err(ProbeError::other(
                    phase,
                    format!("the server sent more than {MAX_RECEIVED} bytes"),
                ));
            }
            payload.resize(at + len, 0);
            self.conn
                .recv_exact(&mut payload[at..])
                .map_err(|e| ProbeError::io(phase, &e))?;
            if len < 0xff_ffff {
                return Ok(payload);
            }
        }
    }

    fn write_packet(&mut self, phase: Phase, payload: &[u8]) -> Result<(), ProbeError> {
        let mut out = Vec::with_capacity(payload.len() + 4);
        let len = payload.len() as u32;
        out.extend_from_slice(&len.to_le_bytes()[..3]);
        out.push(self.seq);
        out.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.conn.send(&out).map_err(|e| ProbeError::io(phase, &e))
    }

    fn authenticate(&mut self, hs: &Handshake, login: &Login) -> Result<(), ProbeError> {
        let ph = Phase::Authentication;
        let password = login.password.unwrap_or("");
        let mut plugin = hs.plugin.clone();
        if plugin == CLEAR && !self.conn.verified() {
            plugin = NATIVE.into(); // never send a cleartext password to an unchecked server
        }
        let mut data = auth_response(&plugin, password, &hs.scramble).unwrap_or_else(|| {
            plugin = NATIVE.into();
            native_password(password, &hs.scramble)
        });
        if data.len() > 250 {
            // Its length goes in one byte here: a long cleartext password
            // would overflow into the fields after it. The server's switch
            // to cleartext, whose data has no length byte, carries it.
            plugin = NATIVE.into();
            data = native_password(password, &hs.scramble);
        }
        let mut caps = CLIENT_LONG_PASSWORD
            | CLIENT_LONG_FLAG
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH;
        if login.database.is_some() {
            caps |= CLIENT_CONNECT_WITH_DB;
        }
        caps &= hs.capabilities | CLIENT_LONG_PASSWORD;
        let mut p = Vec::with_capacity(128);
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&(16u32 << 20).to_le_bytes());
        p.push(45); // utf8mb4_general_ci
        p.extend_from_slice(&[0u8; 23]);
        p.extend_from_slice(login.user.as_bytes());
        p.push(0);
        p.push(data.len() as u8);
        p.extend_from_slice(&data);
        if let Some(db) = login.database
            && caps & CLIENT_CONNECT_WITH_DB != 0
        {
            p.extend_from_slice(db.as_bytes());
            p.push(0);
        }
        p.extend_from_slice(plugin.as_bytes());
        p.push(0);
        self.write_packet(ph, &p)?;

        let mut scramble = hs.scramble.clone();
        let mut switches = 0;
        loop {
            let reply = self.read_packet(ph)?;
            match reply.first() {
                Some(0x00) => return Ok(()),
                Some(0xff) => return Err(err_packet(ph, &reply)),
                Some(0xfe) => {
                    // AuthSwitchRequest: plugin name NUL, then its data.
                    switches += 1;
                    if switches > 3 {
                        return Err(proto(ph, "authentication switch loop"));
                    }
                    let mut r = Reader { p: &reply, at: 1 };
                    let name = r.nul_str().ok_or_else(|| proto(ph, "switch plugin"))?;
                    let mut data = r.rest().to_vec();
                    if data.last() == Some(&0) {
                        data.pop();
                    }
                    if !data.is_empty() {
                        scramble = data;
                    }
                    if name == CLEAR && !self.conn.verified() {
                        return Err(ProbeError::new(
                            ph,
                            ProbeErrorKind::Refused(
                                "the server asks for the password in clear text \
                                 (mysql_clear_password) over TCP, where anyone may listen on \
                                 its port: not sent (use the unix socket)"
                                    .into(),
                            ),
                        ));
                    }
                    let resp = auth_response(&name, password, &scramble).ok_or_else(|| {
                        ProbeError::new(
                            ph,
                            ProbeErrorKind::Credentials(format!(
                                "the account of monitor_user \"{}\" uses the authentication \
                                 plugin {}, which this agent does not support",
                                login.user,
                                server_text(name.as_bytes())
                            )),
                        )
                    })?;
                    plugin = name;
                    self.write_packet(ph, &resp)?;
                }
                Some(0x01) if plugin == CACHING_SHA2 => {
                    // AuthMoreData: 3 = fast auth done (OK follows), 4 = full auth.
                    match reply.get(1) {
                        Some(3) => {}
                        Some(4) if self.conn.verified() => {
                            let mut pw = password.as_bytes().to_vec();
                            pw.push(0);
                            self.write_packet(ph, &pw)?;
                        }
                        Some(4) => {
                            let pem = server_key(login)?;
                            let sealed = rsa_password(password, &scramble, &pem)
                                .map_err(|why| ProbeError::other(ph, why))?;
                            self.write_packet(ph, &sealed)?;
                        }
                        _ => return Err(proto(ph, "caching_sha2_password state")),
                    }
                }
                _ => return Err(proto(ph, "unexpected authentication reply")),
            }
        }
    }

    /// COM_QUERY; the first column of the first row.
    fn query(&mut self, sql: &str) -> Result<String, ProbeError> {
        let ph = Phase::Query;
        self.seq = 0;
        self.packets = 0;
        let mut p = Vec::with_capacity(sql.len() + 1);
        p.push(0x03);
        p.extend_from_slice(sql.as_bytes());
        self.write_packet(ph, &p)?;
        let head = self.read_packet(ph)?;
        match head.first() {
            Some(0xff) => return Err(err_packet(ph, &head)),
            Some(0x00) => return Err(ProbeError::new(ph, ProbeErrorKind::NoRow)),
            _ => {}
        }
        // Column definitions until EOF, then rows until EOF (no DEPRECATE_EOF).
        loop {
            let p = self.read_packet(ph)?;
            if is_eof(&p) {
                break;
            }
            if p.first() == Some(&0xff) {
                return Err(err_packet(ph, &p));
            }
        }
        let mut first: Option<String> = None;
        loop {
            let p = self.read_packet(ph)?;
            if is_eof(&p) {
                break;
            }
            if p.first() == Some(&0xff) {
                return Err(err_packet(ph, &p));
            }
            if first.is_none() {
                first = Some(first_text_cell(&p).ok_or_else(|| proto(ph, "row"))?);
            }
        }
        first.ok_or(ProbeError::new(ph, ProbeErrorKind::NoRow))
    }

    fn quit(&mut self) {
        self.seq = 0;
        let _ = self.write_packet(Phase::Query, &[0x01]);
    }
}

/// The server's RSA public key for a full caching_sha2_password login over
/// TCP: the local file, and only a regular file (no link, FIFO or device)
/// of the service user or root, of at most 16 KiB. Never a key the server
/// sends: a request for it answered by whoever listens on the port would
/// hand them the password (which is why MySQL's own client refuses by
/// default).
fn server_key(login: &Login) -> Result<String, ProbeError> {
    read_key_file(login.server_public_key, login.key_owners).map_err(|why| {
        ProbeError::new(
            Phase::Authentication,
            ProbeErrorKind::Refused(format!(
                "caching_sha2_password full authentication over TCP needs the server's RSA \
                 public key from a local file, and {}: {why} (set server_public_key, or \
                 connect over the unix socket)",
                login.server_public_key.display()
            )),
        )
    })
}
