//! The packets a MySQL/MariaDB server sends the monitor, read by hand
//! from the documented protocol: the initial handshake (protocol 10), ERR,
//! EOF and text rows; nothing is trusted, every read is bounded by the
//! packet it reads from.

use crate::conn::{Phase, ProbeError, ProbeErrorKind, server_text};

// Capability flags (protocol documentation, "Capabilities Flags").
pub(crate) const CLIENT_LONG_PASSWORD: u32 = 1;
pub(crate) const CLIENT_LONG_FLAG: u32 = 1 << 2;
pub(crate) const CLIENT_CONNECT_WITH_DB: u32 = 1 << 3;
pub(crate) const CLIENT_PROTOCOL_41: u32 = 1 << 9;
pub(crate) const CLIENT_TRANSACTIONS: u32 = 1 << 13;
pub(crate) const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
pub(crate) const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;

pub(crate) const NATIVE: &str = "mysql_native_password";
pub(crate) const CACHING_SHA2: &str = "caching_sha2_password";
pub(crate) const UNIX_SOCKET: &str = "unix_socket";
pub(crate) const CLEAR: &str = "mysql_clear_password";

/// What the server's initial handshake packet (protocol 10) told us.
#[derive(Debug, PartialEq, Eq)]
pub struct Handshake {
    pub server_version: String,
    pub capabilities: u32,
    pub scramble: Vec<u8>,
    pub plugin: String,
}

pub(crate) fn proto(phase: Phase, what: &str) -> ProbeError {
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
pub(crate) fn err_packet(phase: Phase, p: &[u8]) -> ProbeError {
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

pub(crate) fn is_eof(p: &[u8]) -> bool {
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

pub(crate) struct Reader<'a> {
    pub(crate) p: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.p.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn nul_str(&mut self) -> Option<String> {
        let rest = self.p.get(self.at..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        self.at += end + 1;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let r = self.p.get(self.at..).unwrap_or(&[]);
        self.at = self.p.len();
        r
    }
    pub(crate) fn rest_str(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(self.rest()).into_owned())
    }
    pub(crate) fn lenenc(&mut self) -> Option<u64> {
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
pub(crate) mod tests {
    use super::*;

    /// A MariaDB 10.11 initial handshake as the server sends it (payload
    /// only), built field by field from the protocol documentation.
    pub(crate) fn handshake_bytes(version: &str, plugin: &str, scramble: &[u8; 20]) -> Vec<u8> {
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

    pub(crate) const SCRAMBLE: &[u8; 20] = b"abcdefghijklmnopqrst";

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
}
