//! The identity port: accounts (users, organizations, robots), memberships, grants, visibility and API tokens.
//! Like registry changes, every identity change commits together with its journal records.

use async_trait::async_trait;
use vigil_core::Role;

use crate::journal::JournalEvent;
use crate::meta::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Org,
    Robot,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::Org => "org",
            AccountKind::Robot => "robot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(AccountKind::User),
            "org" => Some(AccountKind::Org),
            "robot" => Some(AccountKind::Robot),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable id (survives renames).
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    /// argon2id PHC string (users only).
    pub password_hash: Option<String>,
    pub is_admin: bool,
    /// Anonymous pull allowed for the whole namespace.
    pub public: bool,
    /// A robot's owning user or organization.
    pub owner_id: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// `pattern:action,action` entries; empty = the account's full rights.
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: Role,
}

/// Who a repository grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Account(String),
    Team(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoGrant {
    /// `ns/app` or `ns/*`.
    pub pattern: String,
    pub grantee: Grantee,
    pub role: Role,
}

/// Everything authorization needs to know about one caller, read in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFacts {
    /// Namespaces (user or org names) and the role held on all their repositories.
    pub namespaces: Vec<(String, Role)>,
    /// Repository grants (`ns/app` or `ns/*`) that apply to the caller.
    pub grants: Vec<(String, Role)>,
    /// Namespaces whose repositories anyone may pull.
    pub public_namespaces: Vec<String>,
    /// Repositories anyone may pull.
    pub public_repos: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum IdentityChange {
    CreateAccount(Account),
    SetPassword { account_id: String, password_hash: String },
    SetAdmin { account_id: String, is_admin: bool },
    DeleteAccount { account_id: String },
    SetMember { org_id: String, account_id: String, role: Option<Role> },
    CreateTeam(Team),
    SetTeamMember { team_id: String, account_id: String, member: bool },
    SetGrant { pattern: String, grantee: Grantee, role: Option<Role> },
    SetNamespacePublic { account_id: String, public: bool },
    SetRepoPublic { repo: String, public: bool },
    CreateToken(TokenRecord),
    RevokeToken { token_id: String },
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Commits an identity change with its journal records. `NotFound` when its subject does not exist.
    async fn change(&self, change: IdentityChange, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<Vec<u64>>;
    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>>;
    async fn account_by_id(&self, id: &str) -> StoreResult<Option<Account>>;
    async fn accounts(&self, kind: Option<AccountKind>) -> StoreResult<Vec<Account>>;
    async fn robots_of(&self, owner_id: &str) -> StoreResult<Vec<Account>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// How many repositories (of any format) the namespace holds: an account made over a namespace with
    /// content would own what someone else put there.
    async fn namespace_repositories(&self, namespace: &str) -> StoreResult<u64>;
    async fn members(&self, org_id: &str) -> StoreResult<Vec<(Account, Role)>>;
    async fn teams(&self, org_id: &str) -> StoreResult<Vec<Team>>;
    async fn team_members(&self, team_id: &str) -> StoreResult<Vec<Account>>;
    async fn grants_on(&self, pattern: &str) -> StoreResult<Vec<RepoGrant>>;
    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;
    async fn tokens_of(&self, account_id: &str) -> StoreResult<Vec<TokenRecord>>;
    /// Records a token's use (bookkeeping, not journaled).
    async fn touch_token(&self, id: &str, now_ms: i64) -> StoreResult<()>;
    /// Roles and visibility relevant to `account_id` (`None` for anonymous callers).
    async fn access_facts(&self, account_id: Option<&str>) -> StoreResult<AccessFacts>;
}
