//! Opaque paging tokens: the seq a page continues from, bound by an HMAC (a key kept in the data directory) to
//! the query it belongs to, so a client can neither forge nor edit one, nor replay it against another query.
//! The query is bound by its canonical text ([`canonical`]): only the fields it sets, by name, so a field added to
//! filters later leaves the cursors of queries that do not use it valid.

use std::fmt::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};

use vigil_store::index::EventFilter;

/// A filter's fields that are set, as `name=value;…` in a fixed order.
pub fn canonical(f: &EventFilter) -> String {
    // Every field named, so a new one cannot be forgotten here.
    let EventFilter {
        from_ms,
        to_ms,
        namespace,
        repository,
        user_name,
        kinds,
        actions,
        operations,
        outcomes,
        status,
        remote_addr,
        request_id,
    } = f;
    let mut out = String::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            let _ = write!(out, "{name}={v:?};");
        }
    };
    put("from_ms", from_ms.map(|v| v.to_string()));
    put("to_ms", to_ms.map(|v| v.to_string()));
    put("namespace", namespace.clone());
    put("repository", repository.clone());
    put("user_name", user_name.clone());
    for (name, list) in [("kinds", kinds), ("actions", actions), ("operations", operations), ("outcomes", outcomes)] {
        put(name, (!list.is_empty()).then(|| format!("{list:?}")));
    }
    put("status", status.map(|v| v.to_string()));
    put("remote_addr", remote_addr.clone());
    put("request_id", request_id.clone());
    out
}

fn mac(key: &[u8; 32], query: &str, seq: u64) -> Hmac<sha2::Sha256> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(format!("{seq}|{query}").as_bytes());
    m
}

/// A token for continuing `query` (its canonical text) from `seq`.
pub fn issue(key: &[u8; 32], query: &str, seq: u64) -> String {
    let tag = mac(key, query, seq).finalize().into_bytes();
    format!("{}.{}", B64URL.encode(seq.to_string()), B64URL.encode(tag))
}

/// The seq a token issued for `query` continues from.
pub fn read(key: &[u8; 32], query: &str, token: &str) -> Result<u64, &'static str> {
    const INVALID: &str = "is not a token this server issued for this query";
    let (seq, tag) = token.split_once('.').ok_or(INVALID)?;
    let seq = B64URL.decode(seq).map_err(|_| INVALID)?;
    let seq: u64 = std::str::from_utf8(&seq).ok().and_then(|s| s.parse().ok()).ok_or(INVALID)?;
    let tag = B64URL.decode(tag).map_err(|_| INVALID)?;
    mac(key, query, seq).verify_slice(&tag).map_err(|_| INVALID)?;
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_query() {
        let key = [7u8; 32];
        let filter = EventFilter { repository: Some("a/b".into()), from_ms: Some(1), ..EventFilter::default() };
        let f = canonical(&filter);
        assert_eq!(f, "from_ms=\"1\";repository=\"a/b\";", "only what is set, by name");
        let t = issue(&key, &f, 42);
        assert_eq!(read(&key, &f, &t), Ok(42));
        let other = canonical(&EventFilter { repository: Some("a/c".into()), ..filter.clone() });
        assert!(read(&key, &other, &t).is_err(), "replayed against another query");
        let kinds = canonical(&EventFilter { kinds: vec!["a".into(), "b".into()], ..filter.clone() });
        assert_ne!(kinds, canonical(&EventFilter { kinds: vec!["a,b".into()], ..filter }), "lists keep their items");
        let (_, tag) = t.split_once('.').unwrap();
        let forged = format!("{}.{tag}", B64URL.encode("41"));
        assert!(read(&key, &f, &forged).is_err(), "edited cursor");
        assert!(read(&[8u8; 32], &f, &t).is_err(), "another server's key");
        for junk in ["", "x", "x.y", "NDI.", "!!.!!"] {
            assert!(read(&key, &f, junk).is_err(), "{junk}");
        }
    }
}
