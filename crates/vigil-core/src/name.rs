//! Repository names per the OCI distribution spec grammar:
//! `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.

use std::fmt;
use std::str::FromStr;

/// Longest accepted repository name. The spec asks clients to keep `host/name` under 255 characters.
pub const MAX_NAME_LEN: usize = 255;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name is empty")]
    Empty,
    #[error("repository name is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("repository name {0:?} does not match the OCI name grammar (lowercase components separated by '/', joined by '.', '_', '__' or '-')")]
    Grammar(String),
}

impl RepoName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first path component: the user or organization that owns the repository.
    pub fn namespace(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }
}

/// Longest name of an account (user, organization, team), which is also the namespace it owns.
pub const MAX_ACCOUNT_NAME_LEN: usize = 64;

/// Whether `name` can name an account and so a namespace: one name component of at most 64 characters.
pub fn is_account_name(name: &str) -> bool {
    name.len() <= MAX_ACCOUNT_NAME_LEN && component_ok(name)
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-", always followed by an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

impl FromStr for RepoName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if !s.split('/').all(component_ok) {
            return Err(NameError::Grammar(s.to_owned()));
        }
        Ok(RepoName(s.to_owned()))
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in ["a", "library/alpine", "a/b/c/d/e", "my-org/my_app", "x__y", "a.b", "a---b", "0/1"] {
            assert!(ok.parse::<RepoName>().is_ok(), "{ok}");
        }
        assert_eq!("acme/app/web".parse::<RepoName>().unwrap().namespace(), "acme");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "A", "a//b", "/a", "a/", "a..b", "a___b", "-a", "a-", "..", "a/../b", "a b", "a:b", "_a"] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad:?}");
        }
        assert_eq!("a".repeat(256).parse::<RepoName>(), Err(NameError::TooLong));
    }
}
