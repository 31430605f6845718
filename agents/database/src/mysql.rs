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

use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::conn::{
    MAX_AUTH_MESSAGES, MAX_MESSAGE, MAX_QUERY_MESSAGES, MAX_RECEIVED, Phase, ProbeError,
    ProbeErrorKind, Wire, server_text,
};

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

// Capability flags (protocol documentation, "Capabilities Flags").
const CLIENT_LONG_PASSWORD: u32 = 1;
const CLIENT_LONG_FLAG: u32 = 1 << 2;
const CLIENT_CONNECT_WITH_DB: u32 = 1 << 3;
const CLIENT_PROTOCOL_41: u32 = 1 << 9;
const CLIENT_TRANSACTIONS: u32 = 1 << 13;
const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;

const NATIVE: &str = "mysql_native_password";
const CACHING_SHA2: &str = "caching_sha2_password";
const UNIX_SOCKET: &str = "unix_socket";
const CLEAR: &str = "mysql_clear_password";

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

/// What the server's initial handshake packet (protocol 10) told us.
#[derive(Debug, PartialEq, Eq)]
pub struct Handshake {
    pub server_version: String,
    pub capabilities: u32,
    pub scramble: Vec<u8>,
    pub plugin: String,
}

fn proto(phase: Phase, what: &str) -> ProbeError {
    ProbeError::other(phase, format!("malformed server packet: {what}"))
}

/// Parse the initial handshake (or the error packet a server sends instead,
/// e.g. "Too many connections" or "Host is not allowed").
pub fn parse_handshake(p: &[u8]) -> Result<Handshake, ProbeError> {
    let ph = Phase::Authentication;
    match p.first() {
        Some(0xff) => return Err(err_packet(ph, p)),
        Some(10) => {}
        _ => return Err(proto(ph, "not a protocol 10 handshake")),
    }
    let mut r = Reader { p, at: 1 };
    let server_version = r.nul_str().ok_or_else(|| proto(ph, "version"))?;
    r.take(4).ok_or_else(|| proto(ph, "thread id"))?;
    let mut scramble = r.take(8).ok_or_else(|| proto(ph, "scramble"))?.to_vec();
    r.take(1).ok_or_else(|| proto(ph, "filler"))?;
    let cap_lo = r.u16().ok_or_else(|| proto(ph, "capabilities"))?;
    let mut capabilities = u32::from(cap_lo);
    let mut plugin = String::from(NATIVE);
    if r.take(1).is_some() {
        // charset(1) status(2) cap_hi(2) auth_len(1) reserved(10)
        r.take(2).ok_or_else(|| proto(ph, "status"))?;
        let cap_hi = r.u16().ok_or_else(|| proto(ph, "capabilities"))?;
        capabilities |= u32::from(cap_hi) << 16;
        let auth_len = r.take(1).ok_or_else(|| proto(ph, "auth length"))?[0] as usize;
        r.take(10).ok_or_else(|| proto(ph, "reserved"))?;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = auth_len.saturating_sub(8).max(13);
            let part2 = r.take(n).ok_or_else(|| proto(ph, "scramble part 2"))?;
            scramble.extend_from_slice(part2);
            if scramble.last() == Some(&0) {
                scramble.pop();
            }
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0
            && let Some(name) = r.nul_str().or_else(|| r.rest_str())
            && !name.is_empty()
        {
            plugin = name;
        }
    }
    Ok(Handshake {
        server_version,
        capabilities,
        scramble,
        plugin,
    })
}

/// The authentication data `plugin` sends for `password` and `scramble`.
pub fn auth_response(plugin: &str, password: &str, scramble: &[u8]) -> Option<Vec<u8>> {
    match plugin {
        NATIVE => Some(native_password(password, scramble)),
        CACHING_SHA2 => Some(caching_sha2(password, scramble)),
        UNIX_SOCKET => Some(Vec::new()),
        CLEAR => {
            let mut v = password.as_bytes().to_vec();
            v.push(0);
            Some(v)
        }
        _ => None,
    }
}

/// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for an
/// empty password.
pub fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password.as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut h = Sha1::new();
    h.update(&scramble[..scramble.len().min(20)]);
    h.update(stage2);
    let mix = h.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble).
/// caching_sha2_password's full authentication without TLS: the password
/// and its NUL, XORed with the scramble (repeated), RSA-OAEP encrypted
/// (SHA-1, as MySQL 8.0.5 and later decrypt it) with the server's key.
pub fn rsa_password(password: &str, scramble: &[u8], pem: &str) -> Result<Vec<u8>, String> {
    use rsa::pkcs8::DecodePublicKey;
    if scramble.is_empty() {
        return Err("empty scramble".into());
    }
    let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPublicKey;
            rsa::RsaPublicKey::from_pkcs1_pem(pem.trim())
        })
        .map_err(|e| format!("the server's public key is not an RSA public key: {e}"))?;
    let mut plain: Vec<u8> = password.bytes().chain([0]).collect();
    for (i, b) in plain.iter_mut().enumerate() {
        *b ^= scramble[i % scramble.len()];
    }
    key.encrypt(
        &mut rsa::rand_core::OsRng,
        rsa::Oaep::new::<sha1_10::Sha1>(),
        &plain,
    )
    .map_err(|e| format!("cannot encrypt the password: {e}"))
}

pub fn caching_sha2(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha256::digest(password.as_bytes());
    let stage2 = Sha256::digest(stage1);
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(&scramble[..scramble.len().min(20)]);
    let mix = h.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// Wrap the query in the server's own per-statement time limit.
pub fn with_statement_timeout(server_version: &str, query: &str, ms: u64) -> String {
    let ms = ms.max(1);
    if server_version.contains("MariaDB") {
        format!(
            "SET STATEMENT max_statement_time={}.{:03} FOR {query}",
            ms / 1000,
            ms % 1000
        )
    } else {
        // `get`, not `[..6]`: byte 6 may fall inside a character
        // (`/* prüfung */ SELECT 1`).
        let trimmed = query.trim_start();
        match (trimmed.get(..6), trimmed.get(6..)) {
            (Some(head), Some(rest)) if head.eq_ignore_ascii_case("select") => {
                format!("SELECT /*+ MAX_EXECUTION_TIME({ms}) */{rest}")
            }
            _ => query.to_string(),
        }
    }
}

/// `ERROR code (state): message`, classified: 1045 access denied, 1698
/// (unix_socket: the OS user does not match), 1044 no access to the database
/// and 1251 unsupported plugin are credential problems.
fn err_packet(phase: Phase, p: &[u8]) -> ProbeError {
    let code = p.get(1..3).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let mut msg = p.get(3..).unwrap_or(&[]);
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    let text = format!("ERROR {}: {}", code.unwrap_or(0), server_text(msg));
    let kind = match code {
        Some(1045 | 1698 | 1044 | 1251) => ProbeErrorKind::Credentials(text),
        Some(1040 | 1129 | 1130) => ProbeErrorKind::Server(text),
        // ER_SERVER_SHUTDOWN
        Some(1053) => ProbeErrorKind::NotReady(text),
        _ => ProbeErrorKind::Server(text),
    };
    ProbeError { phase, kind }
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

/// Read a PEM key file that the service user or root owns.
pub fn read_key_file(path: &Path, owners: &[u32]) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot be opened ({e}; a link is refused)"))?;
    let m = f.metadata().map_err(|e| e.to_string())?;
    if !m.file_type().is_file() {
        return Err("is not a regular file".into());
    }
    if !owners.contains(&m.uid()) {
        return Err(format!(
            "is owned by uid {}, not by the service user or root",
            m.uid()
        ));
    }
    let mut pem = String::new();
    f.take(16 * 1024)
        .read_to_string(&mut pem)
        .map_err(|e| format!("cannot be read: {e}"))?;
    Ok(pem)
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// The first cell of a text-protocol row: a length-encoded string, or
/// 0xfb for NULL.
pub fn first_text_cell(p: &[u8]) -> Option<String> {
    let mut r = Reader { p, at: 0 };
    if p.first() == Some(&0xfb) {
        return Some(String::new());
    }
    let n = r.lenenc()? as usize;
    Some(String::from_utf8_lossy(r.take(n)?).into_owned())
}

struct Reader<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.p.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn nul_str(&mut self) -> Option<String> {
        let rest = self.p.get(self.at..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        self.at += end + 1;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = self.p.get(self.at..).unwrap_or(&[]);
        self.at = self.p.len();
        r
    }
    fn rest_str(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(self.rest()).into_owned())
    }
    fn lenenc(&mut self) -> Option<u64> {
        let b = *self.take(1)?.first()?;
        Some(match b {
            0..=0xfa => u64::from(b),
            0xfc => u64::from(self.u16()?),
            0xfd => {
                let t = self.take(3)?;
                u64::from(u32::from_le_bytes([t[0], t[1], t[2], 0]))
            }
            0xfe => u64::from_le_bytes(self.take(8)?.try_into().ok()?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 initial handshake as the server sends it (payload
    /// only), built field by field from the protocol documentation.
    fn handshake_bytes(version: &str, plugin: &str, scramble: &[u8; 20]) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(version.as_bytes());
        p.push(0);
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&scramble[..8]);
        p.push(0);
        let caps: u32 = 0xf7fe | CLIENT_PLUGIN_AUTH | (1 << 16) | (1 << 17);
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

    const SCRAMBLE: &[u8; 20] = b"abcdefghijklmnopqrst";

    #[test]
    fn handshake_is_parsed() {
        let hs = parse_handshake(&handshake_bytes(
            "5.5.5-10.11.19-MariaDB-0+deb12u1",
            NATIVE,
            SCRAMBLE,
        ))
        .unwrap();
        assert_eq!(hs.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
        assert_eq!(hs.scramble, SCRAMBLE.to_vec());
        assert_eq!(hs.plugin, NATIVE);
        assert!(hs.capabilities & CLIENT_PROTOCOL_41 != 0);
        let mysql8 = parse_handshake(&handshake_bytes("8.0.36", CACHING_SHA2, SCRAMBLE)).unwrap();
        assert_eq!(mysql8.plugin, CACHING_SHA2);
    }

    #[test]
    fn error_packet_instead_of_handshake() {
        let mut p = vec![0xff];
        p.extend_from_slice(&1040u16.to_le_bytes());
        p.extend_from_slice(b"Too many connections");
        let e = parse_handshake(&p).unwrap_err();
        assert_eq!(
            e.kind,
            ProbeErrorKind::Server("ERROR 1040: Too many connections".into())
        );
        let mut denied = vec![0xff];
        denied.extend_from_slice(&1045u16.to_le_bytes());
        denied.extend_from_slice(b"#28000Access denied for user 'm'@'localhost'");
        assert_eq!(
            err_packet(Phase::Authentication, &denied).kind,
            ProbeErrorKind::Credentials(
                "ERROR 1045: Access denied for user 'm'@'localhost'".into()
            )
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Reference values computed independently (Python hashlib) from the
    /// documented formulas:
    /// native:  sha1(p) ^ sha1(scramble + sha1(sha1(p)))
    /// sha2:    sha256(p) ^ sha256(sha256(sha256(p)) + scramble)
    #[test]
    fn scrambles_match_reference_values() {
        assert_eq!(
            hex(&native_password("secret", SCRAMBLE)),
            "8817c50fa779daef010ee7577825b0847df9842e"
        );
        assert_eq!(
            hex(&caching_sha2("secret", SCRAMBLE)),
            "c76e2898612a4cf042c77fa8c4702c4c64c0c2c557c53c4d75595aaa6abae809"
        );
        assert!(native_password("", SCRAMBLE).is_empty());
        assert!(caching_sha2("", SCRAMBLE).is_empty());
        assert_eq!(auth_response(UNIX_SOCKET, "x", SCRAMBLE), Some(vec![]));
        assert_eq!(auth_response(CLEAR, "pw", SCRAMBLE), Some(b"pw\0".to_vec()));
        assert_eq!(auth_response("client_ed25519", "pw", SCRAMBLE), None);
    }

    #[test]
    fn statement_timeouts_per_flavour() {
        assert_eq!(
            with_statement_timeout("10.11.19-MariaDB", "SELECT 1", 2500),
            "SET STATEMENT max_statement_time=2.500 FOR SELECT 1"
        );
        assert_eq!(
            with_statement_timeout("8.0.36", "select 1", 900),
            "SELECT /*+ MAX_EXECUTION_TIME(900) */ 1"
        );
        assert_eq!(
            with_statement_timeout("8.0.36", "SHOW STATUS", 900),
            "SHOW STATUS"
        );
    }

    /// Byte 6 inside a character: the MySQL 8 rewrite must not slice there.
    #[test]
    fn statement_timeout_never_slices_inside_a_character() {
        for q in [
            "/* prüfung */ SELECT 1",
            "sélect 1",
            "SELECä",
            "ab",
            "日本語のクエリ",
        ] {
            assert_eq!(with_statement_timeout("8.0.36", q, 900), q);
        }
        assert_eq!(
            with_statement_timeout("8.0.36", "  SELECT 'ü'", 5),
            "SELECT /*+ MAX_EXECUTION_TIME(5) */ 'ü'"
        );
    }

    #[test]
    fn rows_and_lenenc() {
        assert_eq!(first_text_cell(&[1, b'1']), Some("1".into()));
        assert_eq!(first_text_cell(&[0xfb]), Some(String::new()));
        let mut long = vec![0xfc, 0x2c, 0x01];
        long.extend(std::iter::repeat_n(b'x', 300));
        assert_eq!(first_text_cell(&long).unwrap().len(), 300);
        assert_eq!(first_text_cell(&[5, b'a']), None, "truncated");
        assert!(is_eof(&[0xfe, 0, 0, 2, 0]));
        assert!(!is_eof(&[0xfe; 12]));
    }
    // ---- A scripted server speaking constructed protocol bytes, for what
    // MariaDB cannot show: MySQL 8's caching_sha2_password. ----

    use crate::conn::{Conn, Target};
    use ocf::Deadline;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        v.push(seq);
        v.extend_from_slice(payload);
        v
    }

    fn read_pkt(s: &mut impl Read) -> (u8, Vec<u8>) {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).unwrap();
        (h[3], p)
    }

    /// The auth data and user name in a HandshakeResponse41.
    fn response_fields(p: &[u8]) -> (String, Vec<u8>, String) {
        let mut r = Reader { p, at: 32 };
        let user = r.nul_str().unwrap();
        let n = r.take(1).unwrap()[0] as usize;
        let data = r.take(n).unwrap().to_vec();
        let plugin = r.nul_str().unwrap();
        (user, data, plugin)
    }

    /// Answer one COM_QUERY with a one-column, one-row result "1".
    fn serve_select_1(s: &mut (impl Read + Write)) {
        let (seq, q) = read_pkt(s);
        assert_eq!(seq, 0);
        assert_eq!(q[0], 0x03);
        let mut out = vec![];
        for (n, payload) in (1u8..).zip([
            vec![1u8],                                                            // column count
            b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0".to_vec(), // column def
            vec![0xfe, 0, 0, 2, 0],                                               // EOF
            vec![1, b'1'],                                                        // row
            vec![0xfe, 0, 0, 2, 0],                                               // EOF
        ]) {
            out.extend(packet(n, &payload));
        }
        s.write_all(&out).unwrap();
    }

    enum Script {
        /// caching_sha2 scramble accepted from the cache: 0x01 0x03, OK.
        FastPath,
        /// Not cached: 0x01 0x04, the client must send the password.
        FullAuth,
        /// Handshake says native, the account switches to caching_sha2.
        SwitchToSha2,
    }

    fn scripted(script: Script, s: &mut (impl Read + Write), unix: bool) -> Option<Vec<u8>> {
        let first = if matches!(script, Script::SwitchToSha2) {
            NATIVE
        } else {
            CACHING_SHA2
        };
        s.write_all(&packet(0, &handshake_bytes("8.0.36", first, SCRAMBLE)))
            .unwrap();
        let (_, resp) = read_pkt(s);
        let (user, data, plugin) = response_fields(&resp);
        assert_eq!(user, "mon");
        assert_eq!(plugin, first);
        match script {
            Script::FastPath => {
                assert_eq!(data, caching_sha2("pw", SCRAMBLE));
                s.write_all(&packet(2, &[0x01, 0x03])).unwrap();
                s.write_all(&packet(3, &[0, 0, 0, 2, 0, 0, 0])).unwrap();
            }
            Script::FullAuth => {
                assert_eq!(data, caching_sha2("pw", SCRAMBLE));
                s.write_all(&packet(2, &[0x01, 0x04])).unwrap();
                if !unix {
                    return None; // the client must give up, not send the password
                }
                let (_, clear) = read_pkt(s);
                s.write_all(&packet(4, &[0, 0, 0, 2, 0, 0, 0])).unwrap();
                serve_select_1(s);
                return Some(clear);
            }
            Script::SwitchToSha2 => {
                assert_eq!(data, native_password("pw", SCRAMBLE));
                let fresh = b"ABCDEFGHIJKLMNOPQRST";
                let mut sw = vec![0xfe];
                sw.extend_from_slice(CACHING_SHA2.as_bytes());
                sw.push(0);
                sw.extend_from_slice(fresh);
                sw.push(0);
                s.write_all(&packet(2, &sw)).unwrap();
                let (_, d) = read_pkt(s);
                assert_eq!(d, caching_sha2("pw", fresh));
                s.write_all(&packet(4, &[0x01, 0x03])).unwrap();
                s.write_all(&packet(5, &[0, 0, 0, 2, 0, 0, 0])).unwrap();
            }
        }
        serve_select_1(s);
        None
    }

    fn login() -> Login<'static> {
        Login {
            user: "mon",
            password: Some("pw"),
            database: None,
            query: "SELECT 1",
            statement_timeout_ms: 1000,
            server_public_key: Path::new("/nonexistent/public_key.pem"),
            key_owners: &[0],
        }
    }

    type Probed = Result<(String, String), ProbeError>;

    fn over_unix(script: Script) -> (Probed, Option<Vec<u8>>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dba-mysql-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            scripted(script, &mut s, true)
        });
        let dl = Deadline::after(Duration::from_secs(5));
        let mut c = Conn::connect(&Target::Unix(sock), dl, None).unwrap();
        // This test process (root) serves the socket.
        c.check_peer(&[0]).unwrap();
        let r = probe(&mut c, &login());
        let seen = server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (r, seen)
    }

    #[test]
    fn caching_sha2_fast_path() {
        let (r, _) = over_unix(Script::FastPath);
        assert_eq!(r.unwrap(), ("1".to_string(), "8.0.36".to_string()));
    }

    #[test]
    fn caching_sha2_full_auth_over_the_unix_socket() {
        let (r, clear) = over_unix(Script::FullAuth);
        assert_eq!(r.unwrap().0, "1");
        assert_eq!(clear.unwrap(), b"pw\0".to_vec());
    }

    #[test]
    fn auth_switch_to_caching_sha2_uses_the_new_scramble() {
        let (r, _) = over_unix(Script::SwitchToSha2);
        assert_eq!(r.unwrap().0, "1");
    }

    /// An RSA key pair made by OpenSSL (not by the crate under test), in a
    /// directory removed on drop; the decryption is OpenSSL's too, with the
    /// padding MySQL 8 uses (RSA_PKCS1_OAEP_PADDING: OAEP, SHA-1, MGF1-SHA-1).
    struct OpensslKey(std::path::PathBuf);

    impl OpensslKey {
        fn new() -> OpensslKey {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "dba-rsa-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let key = dir.join("key.pem");
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                key.to_str().unwrap(),
            ]);
            openssl(&[
                "pkey",
                "-in",
                key.to_str().unwrap(),
                "-pubout",
                "-out",
                dir.join("public_key.pem").to_str().unwrap(),
            ]);
            OpensslKey(dir)
        }
        fn public_path(&self) -> std::path::PathBuf {
            self.0.join("public_key.pem")
        }
        fn public_pem(&self) -> String {
            std::fs::read_to_string(self.public_path()).unwrap()
        }
        fn decrypt(&self, sealed: &[u8]) -> Vec<u8> {
            let ct = self.0.join("ct.bin");
            std::fs::write(&ct, sealed).unwrap();
            openssl(&[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                self.0.join("key.pem").to_str().unwrap(),
                "-in",
                ct.to_str().unwrap(),
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha1",
                "-pkeyopt",
                "rsa_mgf1_md:sha1",
            ])
        }
    }

    impl Drop for OpensslKey {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn openssl(args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (scripts/install-deps.sh installs it)");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
        out.stdout
    }

    /// What the server side of a full caching_sha2 login over TCP saw.
    struct Seen {
        asked_for_key: bool,
        /// The decrypted response, XORed back with the scramble.
        password: Vec<u8>,
    }

    /// Fast auth misses (0x01 0x04); the client either asks for the key
    /// (0x02, answered with the PEM) or sends the sealed password at once.
    fn full_auth_over_tcp(s: &mut std::net::TcpStream, key: &OpensslKey) -> Seen {
        s.write_all(&packet(
            0,
            &handshake_bytes("8.0.36", CACHING_SHA2, SCRAMBLE),
        ))
        .unwrap();
        let (_, resp) = read_pkt(s);
        assert_eq!(response_fields(&resp).1, caching_sha2("pw", SCRAMBLE));
        s.write_all(&packet(2, &[0x01, 0x04])).unwrap();
        let (mut seq, mut p) = read_pkt(s);
        let asked_for_key = p == [0x02];
        if asked_for_key {
            let mut more = vec![0x01];
            more.extend_from_slice(key.public_pem().as_bytes());
            s.write_all(&packet(seq + 1, &more)).unwrap();
            (seq, p) = read_pkt(s);
        }
        assert_eq!(p.len(), 256, "one RSA-2048 block");
        let mut password = key.decrypt(&p);
        for (i, b) in password.iter_mut().enumerate() {
            *b ^= SCRAMBLE[i % SCRAMBLE.len()];
        }
        s.write_all(&packet(seq + 1, &[0, 0, 0, 2, 0, 0, 0]))
            .unwrap();
        serve_select_1(s);
        Seen {
            asked_for_key,
            password,
        }
    }

    fn tcp_login(addr: &str, key_file: &Path, key: OpensslKey) -> (Probed, Option<Seen>) {
        let l = std::net::TcpListener::bind((addr, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // A failed check here ends the connection; the client then fails too.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                full_auth_over_tcp(&mut s, &key)
            }))
            .ok()
        });
        let dl = Deadline::after(Duration::from_secs(10));
        let t = Target::Tcp {
            host: addr.into(),
            port,
        };
        let mut c = Conn::connect(&t, dl, None).unwrap();
        let mut l = login();
        l.server_public_key = key_file;
        let r = probe(&mut c, &l);
        drop(c);
        (r, server.join().unwrap())
    }

    #[test]
    fn caching_sha2_full_auth_over_tcp_with_the_key_file() {
        let key = OpensslKey::new();
        let file = key.public_path();
        let (r, seen) = tcp_login("127.0.0.1", &file, key);
        assert_eq!(r.unwrap().0, "1");
        let seen = seen.expect("the server saw a full login");
        assert!(!seen.asked_for_key, "the local file is used, nothing asked");
        assert_eq!(seen.password, b"pw\0".to_vec());
    }

    /// Loopback is no better than the network: anyone may listen on a
    /// stopped server's port. Without a key file, nothing is asked and
    /// nothing sent.
    #[test]
    fn caching_sha2_full_auth_over_loopback_never_asks_the_server_for_its_key() {
        let key = OpensslKey::new();
        let (r, seen) = tcp_login("127.0.0.1", Path::new("/nonexistent/key.pem"), key);
        let e = r.unwrap_err();
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("server_public_key")),
            "{e:?}"
        );
        assert!(
            seen.is_none(),
            "the server never got a key request or a password"
        );
    }

    /// A key file the service user or root does not own (or a link) is
    /// not used: whoever wrote it could hold the private key.
    #[test]
    fn a_key_file_of_another_owner_or_a_link_is_refused() {
        let key = OpensslKey::new();
        let file = key.public_path();
        assert!(read_key_file(&file, &[0]).is_ok());
        let e = read_key_file(&file, &[12345]).unwrap_err();
        assert!(e.contains("owned by uid 0"), "{e}");
        let link = key.0.join("link.pem");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_key_file(&link, &[0]).unwrap_err().contains("link"));
        assert!(
            read_key_file(Path::new("/dev/zero"), &[0])
                .unwrap_err()
                .contains("regular")
        );
    }

    /// This host's address on its default route (not loopback).
    fn routed_address() -> String {
        let u = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        u.connect("192.0.2.1:9")
            .expect("a default route (the test needs a non-loopback address)");
        let ip = u.local_addr().unwrap().ip();
        assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        ip.to_string()
    }

    #[test]
    fn caching_sha2_full_auth_over_a_network_without_a_key_file_is_refused() {
        let addr = routed_address();
        let l = std::net::TcpListener::bind((addr.as_str(), 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            scripted(Script::FullAuth, &mut s, false);
            // Whatever the client sends now must be neither the password
            // nor a request for a key anyone in between could forge.
            let mut rest = vec![];
            let _ = s.read_to_end(&mut rest);
            rest
        });
        let dl = Deadline::after(Duration::from_secs(5));
        let t = Target::Tcp { host: addr, port };
        let mut c = Conn::connect(&t, dl, None).unwrap();
        let e = probe(&mut c, &login()).unwrap_err();
        drop(c);
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("server_public_key")),
            "{e:?}"
        );
        let rest = server.join().unwrap();
        assert!(!rest.windows(2).any(|w| w == b"pw"), "{rest:?}");
        assert!(rest.len() < 5 || rest[4..] != [0x02], "{rest:?}");
    }

    // ---- Server bytes played back (conn::Replay) over a checked unix
    // socket or unchecked TCP: what the client sent. ----

    use crate::conn::Replay;

    const MPW: &str = "s3cret,pw";
    const OK: [u8; 7] = [0, 0, 0, 2, 0, 0, 0];

    fn select_1_packets() -> Vec<u8> {
        [
            packet(1, &[1]),
            packet(
                2,
                b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
            ),
            packet(3, &[0xfe, 0, 0, 2, 0]),
            packet(4, &[1, b'1']),
            packet(5, &[0xfe, 0, 0, 2, 0]),
        ]
        .concat()
    }

    pub(crate) fn replay(server: &[u8], verified: bool) -> (Probed, Vec<u8>) {
        let mut w = Replay::new(server, verified);
        let mut l = login();
        l.password = Some(MPW);
        let r = probe(&mut w, &l);
        (r, w.sent)
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_cleartext_handshake_over_tcp_gets_a_scramble_only() {
        let server = [
            packet(0, &handshake_bytes("8.0.36", CLEAR, SCRAMBLE)),
            packet(2, &OK),
            select_1_packets(),
        ]
        .concat();
        let (r, sent) = replay(&server, false);
        assert_eq!(r.unwrap().0, "1");
        assert!(!contains(&sent, MPW.as_bytes()), "{sent:?}");
        assert!(contains(&sent, &native_password(MPW, SCRAMBLE)));
        let (r, sent) = replay(&server, true);
        assert_eq!(r.unwrap().0, "1");
        assert!(contains(&sent, MPW.as_bytes()), "a checked socket gets it");
    }

    /// A cleartext password longer than a length byte holds goes in the
    /// switch response, never as a mangled handshake response.
    #[test]
    fn a_long_cleartext_password_waits_for_the_switch() {
        let long = "p".repeat(300);
        let server = [
            packet(0, &handshake_bytes("8.0.36", CLEAR, SCRAMBLE)),
            packet(2, b"\xfemysql_clear_password\0"),
            packet(4, &OK),
            select_1_packets(),
        ]
        .concat();
        let mut w = Replay::new(&server, true);
        let mut l = login();
        l.password = Some(&long);
        assert_eq!(probe(&mut w, &l).unwrap().0, "1");
        let first = u32::from_le_bytes([w.sent[0], w.sent[1], w.sent[2], 0]) as usize + 4;
        let (_, data, plugin) = response_fields(&w.sent[4..first]);
        assert_eq!((data.len(), plugin.as_str()), (20, NATIVE));
        let rest = &w.sent[first..];
        let n = u32::from_le_bytes([rest[0], rest[1], rest[2], 0]) as usize;
        assert_eq!(&rest[4..4 + n], format!("{long}\0").as_bytes());
    }

    #[test]
    fn a_switch_to_cleartext_over_tcp_is_refused() {
        let mut sw = vec![0xfe];
        sw.extend_from_slice(CLEAR.as_bytes());
        sw.push(0);
        let server = [
            packet(0, &handshake_bytes("8.0.36", NATIVE, SCRAMBLE)),
            packet(2, &sw),
            packet(4, &OK),
            select_1_packets(),
        ]
        .concat();
        let (r, sent) = replay(&server, false);
        let e = r.unwrap_err();
        assert!(
            matches!(&e.kind, ProbeErrorKind::Refused(m) if m.contains("clear text")),
            "{e:?}"
        );
        assert!(!contains(&sent, MPW.as_bytes()));
        let (r, sent) = replay(&server, true);
        assert_eq!(r.unwrap().0, "1");
        assert!(contains(&sent, MPW.as_bytes()));
    }

    #[test]
    fn caching_sha2_full_auth_sends_the_password_only_to_a_checked_server() {
        let server = [
            packet(0, &handshake_bytes("8.0.36", CACHING_SHA2, SCRAMBLE)),
            packet(2, &[0x01, 0x04]),
            packet(4, &OK),
            select_1_packets(),
        ]
        .concat();
        let (r, sent) = replay(&server, false);
        let e = r.unwrap_err();
        assert!(matches!(&e.kind, ProbeErrorKind::Refused(_)), "{e:?}");
        // One packet only: the handshake response; no key request (0x02).
        let first = u32::from_le_bytes([sent[0], sent[1], sent[2], 0]) as usize + 4;
        assert_eq!(sent.len(), first, "{sent:?}");
        let (r, sent) = replay(&server, true);
        assert_eq!(r.unwrap().0, "1");
        assert!(contains(&sent, MPW.as_bytes()));
    }

    #[test]
    fn packet_sizes_and_counts_are_capped() {
        let e = replay(&[0xff, 0xff, 0xff, 0, 10], false).0.unwrap_err();
        assert!(e.to_string().contains("more than 1048576 bytes"), "{e}");
        let mut server = packet(0, &handshake_bytes("8.0.36", CACHING_SHA2, SCRAMBLE));
        for i in 0..300u32 {
            server.extend(packet(i as u8, &[0x01, 0x03]));
        }
        let e = replay(&server, false).0.unwrap_err();
        assert!(e.to_string().contains("more than 256 packets"), "{e}");
        // Column definitions forever.
        let mut server = [
            packet(0, &handshake_bytes("10.11.6-MariaDB", NATIVE, SCRAMBLE)),
            packet(2, &OK),
            packet(1, &[1]),
        ]
        .concat();
        for i in 0..(MAX_QUERY_MESSAGES as u32) {
            server.extend(packet(i as u8, b"\x03def"));
        }
        let e = replay(&server, false).0.unwrap_err();
        assert!(e.to_string().contains("packets"), "{e}");
    }

    #[test]
    fn rsa_password_refuses_what_is_not_a_key() {
        let e = rsa_password("pw", SCRAMBLE, "not a key").unwrap_err();
        assert!(e.contains("not an RSA public key"), "{e}");
    }
}
