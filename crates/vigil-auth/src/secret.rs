//! Secrets: argon2id for human passwords; random API tokens stored as SHA-256 (high-entropy secrets need no slow
//! hash, and verifying them must not cost an argon2 run per request).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest as _, Sha256};

/// Prefix that marks an API token (so it is recognisable in a password field and in leaked-secret scanners).
pub const TOKEN_PREFIX: &str = "vgt_";

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

/// A server secret of at least 32 bytes kept in `path`, created at random (mode 0600, fsynced) on first use. A
/// file that is too short is an error, never silently replaced: tokens signed with it would stop verifying.
pub fn load_or_create_key(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    match std::fs::read(path) {
        Ok(k) if k.len() >= 32 => Ok(k),
        Ok(_) => Err(std::io::Error::other(format!("{} is shorter than 32 bytes", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<32>().to_vec();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(path)?;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// A PHC-format argon2id hash (default parameters: 19 MiB, 2 iterations).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt length");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 accepts any password").to_string()
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Spends the same time as a real verification, so an unknown user name is not distinguishable by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("vigil-dummy-password"));
    let _ = verify_password(phc, password);
}

/// A new API token: `(token id, full token to show once, hash of its secret to store)`.
pub fn new_token() -> (String, String, String) {
    let id = hex::encode(random_bytes::<8>());
    let secret = hex::encode(random_bytes::<24>());
    let full = format!("{TOKEN_PREFIX}{id}_{secret}");
    (id, full, hash_secret(&secret))
}

/// Splits `vgt_<id>_<secret>`; `None` if it is not shaped like one.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(id, 16) && hexy(secret, 48)).then_some((id, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two strings of public length.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a phc string", "x"));
    }

    #[test]
    fn tokens_parse_and_hash() {
        let (id, full, hash) = new_token();
        let (pid, secret) = parse_token(&full).unwrap();
        assert_eq!(pid, id);
        assert!(ct_eq(&hash_secret(secret), &hash));
        assert!(parse_token("vgt_short_x").is_none());
        assert!(parse_token("password").is_none());
        assert!(!ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }
}
