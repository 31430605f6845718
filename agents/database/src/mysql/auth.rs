//! What the client answers each authentication plugin: the scrambles of
//! `mysql_native_password` and `caching_sha2_password` (sha1/sha2), the
//! RSA-OAEP sealed password of caching_sha2's full authentication (the
//! `rsa` crate, with a key from a local file only), and the reading of
//! that file.

use std::path::Path;

use rustix::fs::OFlags;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::packets::{CACHING_SHA2, CLEAR, NATIVE, UNIX_SOCKET};

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

/// Read a PEM key file that the service user or root owns.
pub fn read_key_file(path: &Path, owners: &[u32]) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::packets::tests::SCRAMBLE;

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
    fn rsa_password_refuses_what_is_not_a_key() {
        let e = rsa_password("pw", SCRAMBLE, "not a key").unwrap_err();
        assert!(e.contains("not an RSA public key"), "{e}");
    }
}
