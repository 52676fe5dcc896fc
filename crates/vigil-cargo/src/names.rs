//! Crate names as Cargo and every registry agree on them: what a valid name is, the one key a crate is stored
//! under (so `Foo_Bar` and `foo-bar` cannot both exist), and where its file sits in the sparse index.

const MAX_NAME: usize = 64;

/// Names Windows cannot hold as files (a crate's directory is its name).
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// A valid crate name: 1 to 64 ASCII letters, digits, `-` and `_`, starting with a letter.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a crate name is 1 to {MAX_NAME} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("invalid crate name {name:?}: it must start with a letter"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("invalid crate name {name:?}: only letters, digits, '-' and '_' are allowed"));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("invalid crate name {name:?}: the name is reserved"));
    }
    Ok(())
}

/// The key a crate is stored under: lower case, `_` as `-`.
pub fn key(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The crate's file in the sparse index, below `index/` (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`), lower case.
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_index_paths() {
        valid_name("serde_json").unwrap();
        valid_name("a").unwrap();
        for bad in ["", "1abc", "-a", "a b", "a/b", "..", "ünicode", "CON", "nul"] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
        assert!(valid_name(&"a".repeat(65)).is_err());
        assert_eq!(key("Serde_JSON"), "serde-json");
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde"), "se/rd/serde");
    }
}
