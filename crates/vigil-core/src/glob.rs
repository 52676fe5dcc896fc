//! vigil's one glob dialect, used by sink filters in Rust and by audit queries in SQL: SQLite's `GLOB`.
//!
//! `*` matches any run of characters (`/` included), `?` exactly one character, `[abc]`, `[a-z]` one of a class
//! and `[^abc]` (or `[!abc]`) one character outside it; everything else, `{`, `}` and `\` included, is literal; a
//! pattern matches the whole string, case-sensitively. Matching in Rust is globset's, configured to that dialect,
//! so a pattern means the same in a sink filter and in `vigil audit query --repository 'acme/*'` (the store's
//! tests hold the two against each other). Grant patterns (`ns/*`) are not globs: they are a prefix grammar of
//! their own (`vigil_auth::scope`).

use globset::GlobBuilder;

/// The characters that make a value a pattern rather than a literal.
pub const WILDCARDS: [char; 3] = ['*', '?', '['];

/// Whether `value` holds a wildcard (and so is a pattern, not a name).
pub fn is_pattern(value: &str) -> bool {
    value.contains(WILDCARDS)
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    matcher: globset::GlobMatcher,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pattern == other.pattern
    }
}

/// The pattern in globset's syntax: braces and backslashes literal, `[^` as `[!`.
fn to_globset(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('!');
                }
                // A `]` right after the opening bracket is a member, as in SQLite.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push(']');
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' | '}' | '\\' if !in_class => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let glob = GlobBuilder::new(&to_globset(pattern))
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .map_err(|e| format!("bad pattern {pattern:?}: {e}"))?;
        Ok(Glob { pattern: pattern.to_owned(), matcher: glob.compile_matcher() })
    }

    pub fn matches(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn the_dialect() {
        assert!(glob("/v2/*", "/v2/acme/app/manifests/v1"), "* crosses slashes");
        assert!(glob("*manifests*", "/v2/a/manifests/x"));
        assert!(glob("Get?lob", "GetBlob") && !glob("Get?lob", "GetBlobs"));
        assert!(glob("*", ""));
        assert!(!glob("/v2/*/tags", "/v2/a/tags/list"), "whole strings only");
        assert!(glob("a*b*c", "aXXbYYc") && !glob("a*b*c", "aXXbYY"));
        assert!(glob("v[0-9]", "v7") && !glob("v[0-9]", "vx"));
        assert!(glob("v[^0-9]", "vx") && !glob("v[^0-9]", "v7") && glob("v[!0-9]", "vx"));
        assert!(glob("{a,b}", "{a,b}") && !glob("{a,b}", "a"), "braces are literal");
        assert!(glob(r"a\b", r"a\b"), "backslashes are literal");
        assert!(!glob("ABC", "abc"), "case-sensitive");
        assert!(Glob::new("[unclosed").is_err());
        assert!(is_pattern("acme/*") && !is_pattern("acme/app"));
    }
}
