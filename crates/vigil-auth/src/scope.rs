//! Scopes: what the Docker token service is asked for (`repository:acme/app:pull,push`, `registry:catalog:*`)
//! and what an API token is limited to (`acme/*:pull`).

use serde::{Deserialize, Serialize};
use vigil_core::{Action, RepoName};

/// Longest scope string accepted.
pub const MAX_SCOPE_LEN: usize = 512;

/// One entry of a registry JWT's `access` claim (the Docker token format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceAccess {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl ResourceAccess {
    pub fn allows(&self, repo: &RepoName, action: Action) -> bool {
        self.kind == "repository"
            && self.name == repo.as_str()
            && self.actions.iter().any(|a| a == action.as_str() || a == "*")
    }

    /// `repository:name:actions`, as a challenge's `scope` parameter writes it.
    pub fn to_scope_string(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is longer than {MAX_SCOPE_LEN} characters")]
    TooLong,
    #[error("scope {0:?} is not of the form type:name:actions")]
    Malformed(String),
    #[error("scope {0:?}: unknown resource type (use repository or registry)")]
    UnknownType(String),
    #[error("scope {scope:?}: invalid repository name: {reason}")]
    BadName { scope: String, reason: String },
    #[error("scope {0:?}: unknown action (use pull, push, delete or *)")]
    BadAction(String),
}

/// Parses one token-service scope. A repository name that starts with the registry's own host (`own_host`, as DTR
/// clients write `repository:dtr.example.org/library/app:pull` or `repository:127.0.0.1:5000/alice/app:pull`) is
/// the repository without it; any other host stays part of the name.
pub fn parse_request_scope(s: &str, own_host: Option<&str>) -> Result<ResourceAccess, ScopeError> {
    if s.len() > MAX_SCOPE_LEN {
        return Err(ScopeError::TooLong);
    }
    let (kind, rest) = s.split_once(':').ok_or_else(|| ScopeError::Malformed(s.to_owned()))?;
    let (name, actions) = rest.rsplit_once(':').ok_or_else(|| ScopeError::Malformed(s.to_owned()))?;
    let name = match own_host {
        Some(host) if kind == "repository" => vigil_core::url::strip_own_host(name, host).unwrap_or(name),
        _ => name,
    };
    let actions: Vec<String> = actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect();
    match kind {
        "repository" => {
            name.parse::<RepoName>().map_err(|e| ScopeError::BadName { scope: s.to_owned(), reason: e.to_string() })?;
            if actions.iter().any(|a| a != "*" && a.parse::<Action>().is_err()) {
                return Err(ScopeError::BadAction(s.to_owned()));
            }
        }
        "registry" => {
            if name != "catalog" || actions.iter().any(|a| a != "*") {
                return Err(ScopeError::Malformed(s.to_owned()));
            }
        }
        _ => return Err(ScopeError::UnknownType(s.to_owned())),
    }
    Ok(ResourceAccess { kind: kind.to_owned(), name: name.to_owned(), actions })
}

/// A limit on an API token: repositories matching `pattern` (`ns/app`, `ns/*` or `*`), these actions only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    pub pattern: String,
    pub actions: Vec<Action>,
}

/// Whether a grant pattern (`ns/app`, `ns/*`, `*`) covers a repository.
pub fn pattern_matches(pattern: &str, repo: &str) -> bool {
    match pattern.strip_suffix("/*") {
        _ if pattern == "*" => true,
        Some(prefix) => repo.len() > prefix.len() && repo.starts_with(prefix) && repo.as_bytes()[prefix.len()] == b'/',
        None => pattern == repo,
    }
}

/// Checks a grant pattern's shape: a repository name, `prefix/*` with a valid name prefix, or `*`.
pub fn valid_pattern(pattern: &str) -> bool {
    pattern == "*" || pattern.strip_suffix("/*").unwrap_or(pattern).parse::<RepoName>().is_ok()
}

impl TokenScope {
    /// Parses `pattern:action,action`.
    pub fn parse(s: &str) -> Result<TokenScope, String> {
        let (pattern, actions) = s.rsplit_once(':').ok_or_else(|| format!("scope {s:?} is not pattern:actions"))?;
        if !valid_pattern(pattern) {
            return Err(format!("scope {s:?}: {pattern:?} is not a repository, ns/* or *"));
        }
        let actions = actions
            .split(',')
            .map(|a| a.parse::<Action>().map_err(|_| format!("scope {s:?}: unknown action {a:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TokenScope { pattern: pattern.to_owned(), actions })
    }

    pub fn allows(&self, repo: &RepoName, action: Action) -> bool {
        pattern_matches(&self.pattern, repo.as_str()) && self.actions.contains(&action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_scopes() {
        let parse = |s: &str| parse_request_scope(s, None);
        let s = parse("repository:acme/app:pull,push").unwrap();
        assert_eq!((s.kind.as_str(), s.name.as_str(), s.actions.len()), ("repository", "acme/app", 2));
        assert!(parse("registry:catalog:*").is_ok());
        assert!(matches!(parse("repository:../etc:pull"), Err(ScopeError::BadName { .. })));
        assert!(matches!(parse("repository:a:fly"), Err(ScopeError::BadAction(_))));
        assert!(matches!(parse("nope"), Err(ScopeError::Malformed(_))));
        assert!(matches!(parse("group:x:pull"), Err(ScopeError::UnknownType(_))));
        assert_eq!(parse(&"a".repeat(600)), Err(ScopeError::TooLong));
    }

    #[test]
    fn dtr_scopes_name_repositories_after_our_own_host() {
        let name = |s: &str, host| parse_request_scope(s, host).map(|a| a.name);
        let ours = Some("127.0.0.1:5000");
        assert_eq!(name("repository:127.0.0.1:5000/alice/app:pull", ours), Ok("alice/app".into()));
        assert_eq!(name("repository:127.0.0.1/alice/app:pull", ours), Ok("alice/app".into()));
        assert_eq!(name("repository:alice/app:pull", ours), Ok("alice/app".into()));
        // A foreign host stays in the name, where a port makes it invalid.
        assert_eq!(name("repository:other.example/alice/app:pull", ours), Ok("other.example/alice/app".into()));
        assert!(matches!(name("repository:10.0.0.1:5000/alice/app:pull", ours), Err(ScopeError::BadName { .. })));
        assert!(matches!(name("repository:127.0.0.1:5000/alice/app:pull", None), Err(ScopeError::BadName { .. })));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", "a/b"));
        assert!(pattern_matches("acme/*", "acme/app") && pattern_matches("acme/*", "acme/x/y"));
        assert!(!pattern_matches("acme/*", "acme") && !pattern_matches("acme/*", "acmex/app"));
        assert!(pattern_matches("acme/app", "acme/app") && !pattern_matches("acme/app", "acme/app2"));
        let t = TokenScope::parse("acme/*:pull").unwrap();
        assert!(t.allows(&"acme/app".parse().unwrap(), Action::Pull));
        assert!(!t.allows(&"acme/app".parse().unwrap(), Action::Push));
        assert!(TokenScope::parse("../x:pull").is_err() && TokenScope::parse("a:fly").is_err());
    }
}
