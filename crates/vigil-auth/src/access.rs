//! A caller's effective role on a repository: the highest of what their namespaces, memberships, teams and
//! grants give, and `read` on anything public.

use vigil_core::{Action, RepoName, Role};
use vigil_store::identity::AccessFacts;

use crate::principal::Principal;
use crate::scope::pattern_matches;

#[derive(Debug, Clone, Default)]
pub struct Access {
    pub is_admin: bool,
    pub facts: AccessFacts,
}

impl Access {
    pub fn role_for(&self, repo: &RepoName) -> Option<Role> {
        if self.is_admin {
            return Some(Role::Admin);
        }
        let ns = repo.namespace();
        let from_ns = self.facts.namespaces.iter().filter(|(n, _)| n == ns).map(|(_, r)| *r);
        let from_grants = self.facts.grants.iter().filter(|(p, _)| pattern_matches(p, repo.as_str())).map(|(_, r)| *r);
        let public = self.facts.public_namespaces.iter().any(|n| n == ns)
            || self.facts.public_repos.iter().any(|r| r == repo.as_str());
        from_ns.chain(from_grants).chain(public.then_some(Role::Read)).max()
    }

    /// The caller's role on a whole namespace: from owning it or a membership (organizations, teams), or a grant
    /// on every repository in it (`ns/*`). A grant on one repository is not a role on its namespace.
    pub fn namespace_role(&self, ns: &str) -> Option<Role> {
        if self.is_admin {
            return Some(Role::Admin);
        }
        let whole = format!("{ns}/*");
        let from_ns = self.facts.namespaces.iter().filter(|(n, _)| n == ns).map(|(_, r)| *r);
        let from_grants = self.facts.grants.iter().filter(|(p, _)| *p == whole).map(|(_, r)| *r);
        from_ns.chain(from_grants).max()
    }

    /// Whether `principal` (whose access this is) may perform `action` on `repo`, taking the limits of its API
    /// token and registry JWT into account.
    pub fn allows(&self, principal: &Principal, repo: &RepoName, action: Action) -> bool {
        let by_role = self.role_for(repo).is_some_and(|r| r.allows(action));
        let by_token =
            principal.token_scopes.as_ref().is_none_or(|scopes| scopes.iter().any(|s| s.allows(repo, action)));
        let by_jwt = principal.jwt_access.as_ref().is_none_or(|access| access.iter().any(|a| a.allows(repo, action)));
        by_role && by_token && by_jwt
    }

    /// The actions among `wanted` that `principal` may perform on `repo` (the token service's intersection).
    pub fn granted(&self, principal: &Principal, repo: &RepoName, wanted: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in wanted {
            let actions: Vec<Action> = if w == "*" { Action::ALL.to_vec() } else { w.parse().into_iter().collect() };
            for a in actions {
                if self.allows(principal, repo, a) && !out.iter().any(|o| o == a.as_str()) {
                    out.push(a.as_str().to_owned());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> RepoName {
        s.parse().unwrap()
    }

    #[test]
    fn a_repository_grant_is_no_role_on_its_namespace() {
        let a = Access {
            is_admin: false,
            facts: AccessFacts {
                namespaces: vec![("acme".into(), Role::Write)],
                grants: vec![("acme/x".into(), Role::Admin), ("tools/*".into(), Role::Admin)],
                ..AccessFacts::default()
            },
        };
        assert_eq!(a.namespace_role("acme"), Some(Role::Write));
        assert_eq!(a.namespace_role("tools"), Some(Role::Admin));
        assert_eq!(a.namespace_role("other"), None);
        assert_eq!(a.role_for(&repo("acme/x")), Some(Role::Admin));
    }

    #[test]
    fn highest_role_wins_and_public_reads() {
        let access = Access {
            is_admin: false,
            facts: AccessFacts {
                namespaces: vec![("alice".into(), Role::Admin), ("acme".into(), Role::Read)],
                grants: vec![("acme/web".into(), Role::Write), ("other/*".into(), Role::Read)],
                public_namespaces: vec!["pub".into()],
                public_repos: vec!["x/open".into()],
            },
        };
        assert_eq!(access.role_for(&repo("alice/app")), Some(Role::Admin));
        assert_eq!(access.role_for(&repo("acme/web")), Some(Role::Write));
        assert_eq!(access.role_for(&repo("acme/api")), Some(Role::Read));
        assert_eq!(access.role_for(&repo("other/a/b")), Some(Role::Read));
        assert_eq!(access.role_for(&repo("pub/any")), Some(Role::Read));
        assert_eq!(access.role_for(&repo("x/open")), Some(Role::Read));
        assert_eq!(access.role_for(&repo("x/closed")), None);
        assert_eq!(access.role_for(&repo("alicex/app")), None);
    }
}
