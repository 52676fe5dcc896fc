//! What a client presents as a credential or a scope: registry token scopes, API token scopes, `vgt_` tokens,
//! registry JWTs (signed with a key the fuzzer does not have) and signed page tokens.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_auth::jwt::JwtKeys;

fn keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| JwtKeys::from_secret(b"a fixed key for fuzzing only, 32+ bytes long", "vigil"))
}

// Input: `token or scope[\nregistry host\npage query]`.
fuzz_target!(|input: &str| {
    let mut lines = input.splitn(3, '\n');
    let s = lines.next().unwrap_or_default();
    let host = lines.next().filter(|h| !h.is_empty());
    let query = lines.next().unwrap_or_default();
    let _ = vigil_auth::scope::parse_request_scope(s, host);
    let _ = vigil_auth::scope::TokenScope::parse(s);
    let _ = vigil_auth::secret::parse_token(s);
    // No input may verify: the fuzzer cannot sign with the key.
    assert!(keys().verify(s).is_err(), "an unsigned token verified: {s:?}");
    // Nor may a page token: its tag is an HMAC under the server's key.
    assert!(vigil_api::page_token::read(&[7u8; 32], query, s).is_err(), "a forged page token was read: {s:?}");
});
