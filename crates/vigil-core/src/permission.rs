//! Permissions: what each role grants, and the [`Requirement`] an operation states in its description
//! ([`crate::Operation::describe`]), so a new operation cannot be added without deciding what it requires.

use std::fmt;
use std::str::FromStr;

use strum::{EnumString, IntoStaticStr};

/// An action on a repository, as the Docker token service's scopes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, IntoStaticStr, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A role on a repository or namespace. Ordered: each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Pull => true,
            Action::Push | Action::Delete => self >= Role::Write,
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (use read, write or admin)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// No credentials needed (health, metrics).
    None,
    /// Any authenticated caller (the API version check, so clients learn how to log in; the catalog, which is
    /// then filtered to what the caller may read).
    Authenticated,
    /// An action on the repository named in the request.
    Repository(Action),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_grant_actions() {
        assert!(Role::Read.allows(Action::Pull) && !Role::Read.allows(Action::Push));
        assert!(Role::Write.allows(Action::Delete) && Role::Admin > Role::Write);
    }
}
