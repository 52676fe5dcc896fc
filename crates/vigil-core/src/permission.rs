//! Permissions: what each operation needs, and what each role grants. Authorization keys off [`Operation`] so a
//! new operation cannot be added without deciding what it requires.

use std::fmt;
use std::str::FromStr;

use crate::Operation;

/// An action on a repository, as the Docker token service's scopes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "pull" => Ok(Action::Pull),
            "push" => Ok(Action::Push),
            "delete" => Ok(Action::Delete),
            _ => Err(()),
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// No credentials needed (health, metrics).
    None,
    /// Any authenticated caller (the API version check, so clients learn how to log in; the catalog, which is
    /// then filtered to what the caller may read).
    Authenticated,
    /// An action on the repository named in the request.
    Repository(Action),
}

impl Operation {
    pub fn requirement(self) -> Requirement {
        use Operation::*;
        match self {
            Health | Metrics | Ready | IssueToken | ReadTree => Requirement::None,
            // Entry bundles need a global admin, proofs any user, an event its own user or an admin: decided per
            // endpoint.
            ReadAuditLog | ExportAuditLog => Requirement::Authenticated,
            // The admin API decides per endpoint (namespace admin, repository admin, global admin).
            AdminRead | AdminChange => Requirement::Authenticated,
            // The whole changefeed: the handler requires a global admin.
            CheckApiVersion | ListCatalog | Unknown | ReadChangefeed => Requirement::Authenticated,
            ListTags | GetManifest | HeadManifest | GetBlob | HeadBlob | ListReferrers | ReadRepoChangefeed => {
                Requirement::Repository(Action::Pull)
            }
            PutManifest | StartUpload | UploadBlobMonolithic | MountBlob | PatchUpload | CompleteUpload
            | GetUploadStatus | CancelUpload => Requirement::Repository(Action::Push),
            DeleteManifest | DeleteTag | DeleteBlob => Requirement::Repository(Action::Delete),
            // Background work runs as the system; no request ever carries it.
            CollectBlob | LoadConfig | SignCheckpoint | PruneAudit | RebuildAuditIndex => Requirement::Authenticated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_grant_actions() {
        assert!(Role::Read.allows(Action::Pull) && !Role::Read.allows(Action::Push));
        assert!(Role::Write.allows(Action::Delete) && Role::Admin > Role::Write);
        assert_eq!(Operation::MountBlob.requirement(), Requirement::Repository(Action::Push));
        assert_eq!(Operation::DeleteTag.requirement(), Requirement::Repository(Action::Delete));
    }
}
