//! The MySQL session against scripted servers (real sockets) and played
//! back server bytes (`conn::Replay`): logins, the password's fate over a
//! checked socket and over TCP, and the caps.

use super::packets::tests::{SCRAMBLE, handshake_bytes};
use super::packets::*;
use super::*;

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
