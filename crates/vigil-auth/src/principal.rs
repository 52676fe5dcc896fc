//! The resolved identity of a request, as the audit record will carry it.

use crate::scope::{ResourceAccess, TokenScope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Robot,
    Anonymous,
    System,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Robot => "robot",
            PrincipalKind::Anonymous => "anonymous",
            PrincipalKind::System => "system",
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Password,
    Token,
    /// A registry JWT from the token service.
    TemporaryToken,
    None,
}

impl Credential {
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Password => "password",
            Credential::Token => "token",
            Credential::TemporaryToken => "temporary_token",
            Credential::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable account id; `None` for anonymous callers.
    pub account_id: Option<String>,
    pub name: String,
    pub kind: PrincipalKind,
    pub credential: Credential,
    /// The API token used, directly or behind a registry JWT (never the secret).
    pub token_id: Option<String>,
    pub is_admin: bool,
    /// Restrictions of the API token used, if it has any.
    pub token_scopes: Option<Vec<TokenScope>>,
    /// What a registry JWT grants; requests are limited to it.
    pub jwt_access: Option<Vec<ResourceAccess>>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Principal {
            account_id: None,
            name: String::new(),
            kind: PrincipalKind::Anonymous,
            credential: Credential::None,
            token_id: None,
            is_admin: false,
            token_scopes: None,
            jwt_access: None,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.kind == PrincipalKind::Anonymous
    }
}

impl Principal {
    /// How the audit trail records this caller: stable id, name, kind, credential and token id (never a secret).
    pub fn audit_user(&self) -> vigil_audit::UserRef {
        vigil_audit::UserRef {
            id: self.account_id.clone(),
            name: self.name.clone(),
            kind: self.kind.as_str(),
            credential: self.credential.as_str(),
            token_id: self.token_id.clone(),
        }
    }
}
