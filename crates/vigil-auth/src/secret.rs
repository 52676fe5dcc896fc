//! Secrets: argon2id for human passwords; random API tokens stored as SHA-256 (high-entropy secrets need no slow
//! hash, and verifying them must not cost an argon2 run per request).

use argon2::password_hash::PasswordHash;
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

/// A PHC-format argon2id hash (default parameters: 19 MiB, 2 iterations), computed in this thread's reused
/// work area.
pub fn hash_password(password: &str) -> String {
    use base64::Engine as _;
    let salt = random_bytes::<16>();
    let params = argon2::Params::default();
    let mut out = [0u8; 32];
    with_blocks(params.block_count(), |blocks| {
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            blocks,
        )
    })
    .expect("argon2 accepts any password with its default parameters");
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        b64.encode(salt),
        b64.encode(out)
    )
}

/// Runs `f` with `count` argon2 blocks of this thread's work area, kept for the next run.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BLOCKS.with_borrow_mut(|blocks| {
        // A larger area from earlier parameters is kept and sliced.
        if blocks.len() < count {
            blocks.resize(count, argon2::Block::default());
        }
        f(&mut blocks[..count])
    })
}

/// Checks `password` against a PHC argon2 hash, in memory this thread keeps for the next check: a burst of
/// logins reuses one work area per hashing thread instead of allocating ~19 MiB per attempt (which the allocator
/// kept resident: 19.5 MiB more after every failed login, measured).
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm) else { return false };
    let version = hash.version.and_then(|v| argon2::Version::try_from(v).ok()).unwrap_or_default();
    let Ok(params) = argon2::Params::try_from(&hash) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let hashed = with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    });
    hashed.is_ok() && ct_eq(&out, expected.as_bytes())
}

/// A hash of no password, with the default parameters: verifying against it costs what a real check costs.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$dmlnaWwtZHVtbXktc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
#[cfg(test)]
const DUMMY_FOR_TESTS: &str = DUMMY;

/// Spends the same time as a real verification, so an unknown user name is not distinguishable by timing.
pub fn verify_dummy(password: &str) {
    let _ = verify_password(DUMMY, password);
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
pub fn ct_eq(a: impl AsRef<[u8]>, b: impl AsRef<[u8]>) -> bool {
    let (a, b) = (a.as_ref(), b.as_ref());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    fn hashes_are_the_argon2_crates_own_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
        // Stored before vigil hashed in a reused work area: still verified.
        let salt = SaltString::encode_b64(&random_bytes::<16>()).unwrap();
        let theirs = Argon2::default().hash_password(b"old password", &salt).unwrap().to_string();
        assert!(verify_password(&theirs, "old password") && !verify_password(&theirs, "other"));
        // And vigil's hashes verify with the crate's verifier.
        let ours = hash_password("new password");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"new password", &parsed).is_ok());
    }

    #[test]
    fn the_dummy_hash_costs_a_real_check() {
        let params = argon2::Params::try_from(&PasswordHash::new(DUMMY_FOR_TESTS).unwrap()).unwrap();
        let costs = |p: &argon2::Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(costs(&params), costs(&argon2::Params::default()), "an unknown user costs what a known one does");
    }

    #[test]
    fn tokens_parse_and_hash() {
        let (id, full, hash) = new_token();
        let (pid, secret) = parse_token(&full).unwrap();
        assert_eq!(pid, id);
        assert!(ct_eq(hash_secret(secret), &hash));
        assert!(parse_token("vgt_short_x").is_none());
        assert!(parse_token("password").is_none());
        assert!(!ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }
}
