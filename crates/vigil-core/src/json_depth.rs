//! How deeply a JSON document nests, read without parsing it. serde ignores unknown fields without limiting how
//! deep they go, so a manifest with a million nested arrays in an annotation would be stored and then break
//! every client that parses it; every JSON body vigil accepts is checked against [`MAX_DEPTH`] first.

/// Deeper than any document a client of vigil's protocols sends (OCI manifests nest about 4 levels, npm
/// packuments about 6).
pub const MAX_DEPTH: usize = 64;

/// Whether `bytes` nests arrays and objects at most `max` deep. Brackets inside strings do not count; the
/// document is not otherwise checked (the parser after this does that).
pub fn within(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// [`within`] at [`MAX_DEPTH`], as an error message for the client.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    match within(bytes, MAX_DEPTH) {
        true => Ok(()),
        false => Err(format!("the JSON document nests deeper than {MAX_DEPTH} levels")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert!(within(br#"{"a":[1,{"b":[]}]}"#, 4));
        assert!(!within(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(within(br#"{"a":"[[[[[[[[\"[[[["}"#, 1), "brackets in strings, escaped quotes too");
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert!(check(deep.as_bytes()).is_err());
        assert!(check(br#"{"schemaVersion":2,"layers":[{"annotations":{"x":"y"}}]}"#).is_ok());
    }
}
