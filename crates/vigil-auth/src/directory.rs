//! Identity management shared by the CLI and the admin API: validates, journals and applies each change, so
//! both front doors behave (and are recorded) the same way.

use std::sync::Arc;

use vigil_core::{RepoName, Role};
use vigil_store::identity::{Account, AccountKind, Grantee, IdentityChange, IdentityStore, Team, TokenRecord};
use vigil_store::{now_ms, StoreError};

use crate::scope::{valid_pattern, TokenScope};
use crate::secret;
use vigil_audit::event::default_node;
use vigil_audit::{EventDraft, Origin, RequestScope, Target, UserRef};
use vigil_core::Operation;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("identity store: {0}")]
    Store(String),
    /// The change's audit record could not be made durable, so the change was not made.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(w) => DirectoryError::NotFound(w),
            StoreError::Conflict(w) => DirectoryError::Conflict(w),
            e @ StoreError::JournalUnavailable(_) => DirectoryError::Unavailable(e.to_string()),
            e => DirectoryError::Store(e.to_string()),
        }
    }
}

pub type DirResult<T> = Result<T, DirectoryError>;

/// Who is making a change: the event every change they make is recorded from.
#[derive(Debug, Clone)]
pub struct Actor(EventDraft);

impl Actor {
    /// A `vigil` command, recorded with the operating-system user that ran it.
    pub fn cli() -> Self {
        Actor(EventDraft::background(Origin::Cli, Operation::AdminChange, UserRef::cli(), default_node()))
    }

    /// The server itself (first-start bootstrap).
    pub fn system() -> Self {
        Actor(EventDraft::background(Origin::System, Operation::AdminChange, UserRef::system("system"), default_node()))
    }

    /// An admin API request: its event carries the request, the caller and the status the request answers when
    /// the change succeeds, and commits with the change.
    pub fn request(scope: &Arc<RequestScope>, success_status: u16) -> Self {
        Actor(scope.draft(Operation::AdminChange).status(success_status))
    }

    /// A request of a protocol whose own operation the change belongs to (an npm login issuing a token).
    pub fn request_as(scope: &Arc<RequestScope>, operation: Operation, success_status: u16) -> Self {
        Actor(scope.draft(operation).status(success_status))
    }

    /// The event of one change this actor makes: its Quay kind, its subject (the artifact; a repository's name
    /// sets the target too) and what changed. For changes outside the directory (repositories) as well.
    pub fn event(&self, kind: &'static str, subject: &str, detail: String) -> EventDraft {
        let mut event = self.0.clone().kind(kind).artifact(subject).detail(detail);
        event.id = uuid::Uuid::new_v4().to_string();
        if let Some(repo) = subject.split_once('/').and_then(|_| subject.parse::<RepoName>().ok()) {
            event.target = Target::repo(&repo);
        } else if NAMESPACE_KINDS.contains(&kind) {
            // An account's own changes belong to its namespace's log (a robot `ns+name` to `ns`'s).
            let namespace = subject.split('+').next().unwrap_or(subject);
            event.target = Target { namespace: Some(namespace.to_owned()), ..Target::default() };
        }
        event
    }
}

/// Changes to a namespace's own account (organizations, their members, robots, users): recorded with the namespace as
/// their target, so they appear in that namespace's log.
const NAMESPACE_KINDS: &[&str] = &[
    "org_create",
    "org_delete",
    "org_add_member",
    "org_remove_member",
    "create_robot",
    "delete_robot",
    "user_create",
    "user_delete",
    "change_namespace_visibility",
];

/// A newly created API token; `token` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub account: String,
    pub expires_at_ms: Option<i64>,
}

#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn IdentityStore>,
    /// Whether an account may be made over a namespace that already holds repositories (`adopting`).
    adopt: bool,
}

/// The longest life an API token can be given (a hundred years; no expiry at all is also possible).
const MAX_TOKEN_DAYS: u32 = 36_500;

/// User and organization names are namespaces: they follow the repository name component grammar.
fn valid_namespace_name(name: &str) -> DirResult<()> {
    if vigil_core::name::is_account_name(name) {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "{name:?} is not a valid name (lowercase letters, digits and single '.', '_' or '-' between them, at most 64)"
        )))
    }
}

fn valid_password(p: &str) -> DirResult<()> {
    if !(8..=1024).contains(&p.chars().count()) {
        return Err(DirectoryError::Invalid("passwords must be 8 to 1024 characters long".into()));
    }
    Ok(())
}

/// A new account with a fresh stable id and no rights; callers fill in what differs.
fn new_account(name: &str, kind: AccountKind) -> Account {
    Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        kind,
        password_hash: None,
        is_admin: false,
        public: false,
        owner_id: None,
        created_at_ms: now_ms(),
    }
}

/// argon2id off the async runtime.
async fn hash_off_runtime(password: &str) -> DirResult<String> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || secret::hash_password(&pw))
        .await
        .map_err(|e| DirectoryError::Store(e.to_string()))
}

impl Directory {
    pub fn new(store: Arc<dyn IdentityStore>) -> Self {
        Directory { store, adopt: false }
    }

    /// A directory that makes accounts over namespaces holding repositories, taking them over. Only for a global
    /// administrator's explicit request (`--adopt`, `"adopt_namespace": true`); the event says what was adopted.
    pub fn adopting(store: Arc<dyn IdentityStore>) -> Self {
        Directory { store, adopt: true }
    }

    /// Refuses a new account over a namespace with repositories unless adopting; returns the event's note.
    async fn claim(&self, name: &str) -> DirResult<String> {
        let held = self.store.namespace_repositories(name).await?;
        match (held, self.adopt) {
            (0, _) => Ok(String::new()),
            (n, true) => Ok(format!("adopted namespace holding {n} repositories")),
            (n, false) => Err(DirectoryError::Conflict(format!(
                "the namespace {name} holds {n} repositories that no account owns; only a global administrator can \
                 create an account over it, explicitly (vigil user add --adopt / org create --adopt, or \
                 \"adopt_namespace\": true)"
            ))),
        }
    }

    async fn record(
        &self,
        change: IdentityChange,
        actor: &Actor,
        kind: &'static str,
        subject: &str,
        detail: String,
    ) -> DirResult<()> {
        self.store.change(change, vec![actor.event(kind, subject, detail).boxed()]).await?;
        Ok(())
    }

    pub async fn account(&self, name: &str) -> DirResult<Account> {
        self.store.account_by_name(name).await?.ok_or_else(|| DirectoryError::NotFound(format!("account {name:?}")))
    }

    async fn account_of_kind(&self, name: &str, kinds: &[AccountKind]) -> DirResult<Account> {
        let a = self.account(name).await?;
        if kinds.contains(&a.kind) {
            Ok(a)
        } else {
            // No account of the kind asked for has this name: not found, as when none has it at all.
            Err(DirectoryError::NotFound(format!(
                "{} {name:?} (the name is a {}'s)",
                kinds[0].as_str(),
                a.kind.as_str()
            )))
        }
    }

    pub async fn add_user(&self, name: &str, password: &str, is_admin: bool, actor: &Actor) -> DirResult<Account> {
        valid_namespace_name(name)?;
        valid_password(password)?;
        let adopted = self.claim(name).await?;
        let hash = hash_off_runtime(password).await?;
        let account = Account { password_hash: Some(hash), is_admin, ..new_account(name, AccountKind::User) };
        let detail = [if is_admin { "global admin" } else { "" }, &adopted]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        self.record(IdentityChange::CreateAccount(account.clone()), actor, "user_create", name, detail).await?;
        Ok(account)
    }

    pub async fn set_password(&self, name: &str, password: &str, actor: &Actor) -> DirResult<()> {
        valid_password(password)?;
        let user = self.account_of_kind(name, &[AccountKind::User]).await?;
        let hash = hash_off_runtime(password).await?;
        let change = IdentityChange::SetPassword { account_id: user.id, password_hash: hash };
        self.record(change, actor, "user_change_password", name, String::new()).await
    }

    pub async fn delete_account(&self, name: &str, actor: &Actor) -> DirResult<()> {
        let a = self.account(name).await?;
        let kind = match a.kind {
            AccountKind::User => "user_delete",
            AccountKind::Org => "org_delete",
            AccountKind::Robot => "delete_robot",
        };
        self.record(IdentityChange::DeleteAccount { account_id: a.id }, actor, kind, name, String::new()).await
    }

    /// Creates an organization; `creator`, if given, becomes its admin.
    pub async fn create_org(&self, name: &str, creator: Option<&str>, actor: &Actor) -> DirResult<Account> {
        valid_namespace_name(name)?;
        let adopted = self.claim(name).await?;
        let org = new_account(name, AccountKind::Org);
        self.record(IdentityChange::CreateAccount(org.clone()), actor, "org_create", name, adopted).await?;
        if let Some(c) = creator {
            self.set_member(name, c, Some(Role::Admin), actor).await?;
        }
        Ok(org)
    }

    pub async fn set_member(&self, org: &str, member: &str, role: Option<Role>, actor: &Actor) -> DirResult<()> {
        let org_acc = self.account_of_kind(org, &[AccountKind::Org]).await?;
        let m = self.account_of_kind(member, &[AccountKind::User, AccountKind::Robot]).await?;
        let (kind, detail) = match role {
            Some(r) => ("org_add_member", format!("{member} as {r}")),
            None => ("org_remove_member", member.to_owned()),
        };
        let change = IdentityChange::SetMember { org_id: org_acc.id, account_id: m.id, role };
        self.record(change, actor, kind, org, detail).await
    }

    pub async fn create_team(&self, org: &str, team: &str, role: Role, actor: &Actor) -> DirResult<Team> {
        valid_namespace_name(team)?;
        let org_acc = self.account_of_kind(org, &[AccountKind::Org]).await?;
        let t = Team { id: uuid::Uuid::new_v4().to_string(), org_id: org_acc.id, name: team.to_owned(), role };
        let subject = format!("{org}/{team}");
        self.record(IdentityChange::CreateTeam(t.clone()), actor, "org_create_team", &subject, role.to_string())
            .await?;
        Ok(t)
    }

    pub async fn team(&self, org: &str, team: &str) -> DirResult<Team> {
        let org_acc = self.account_of_kind(org, &[AccountKind::Org]).await?;
        self.store
            .teams(&org_acc.id)
            .await?
            .into_iter()
            .find(|t| t.name == team)
            .ok_or_else(|| DirectoryError::NotFound(format!("team {org}/{team}")))
    }

    pub async fn set_team_member(
        &self,
        org: &str,
        team: &str,
        member: &str,
        add: bool,
        actor: &Actor,
    ) -> DirResult<()> {
        let t = self.team(org, team).await?;
        let m = self.account_of_kind(member, &[AccountKind::User, AccountKind::Robot]).await?;
        let kind = if add { "org_add_team_member" } else { "org_remove_team_member" };
        let change = IdentityChange::SetTeamMember { team_id: t.id, account_id: m.id, member: add };
        self.record(change, actor, kind, &format!("{org}/{team}"), member.to_owned()).await
    }

    /// Creates robot `<namespace>+<name>` and its first token.
    pub async fn create_robot(&self, namespace: &str, name: &str, actor: &Actor) -> DirResult<IssuedToken> {
        valid_namespace_name(name)?;
        let owner = self.account_of_kind(namespace, &[AccountKind::User, AccountKind::Org]).await?;
        let full = format!("{namespace}+{name}");
        let robot = Account { owner_id: Some(owner.id), ..new_account(&full, AccountKind::Robot) };
        self.record(IdentityChange::CreateAccount(robot), actor, "create_robot", &full, String::new()).await?;
        self.create_token(&full, "robot", &[], None, actor).await
    }

    /// Creates an API token for an account. `scopes` are `pattern:actions` limits (empty = the account's rights).
    pub async fn create_token(
        &self,
        account: &str,
        name: &str,
        scopes: &[String],
        expires_in_days: Option<u32>,
        actor: &Actor,
    ) -> DirResult<IssuedToken> {
        self.issue_token(account, name, scopes, expires_in_days, actor, "create_app_specific_token").await
    }

    /// A web UI session: an API token with the account's own rights that expires after `days`, recorded as the
    /// login it is (`login_success`). Listed and revocable like every token; signing out revokes it.
    pub async fn open_session(&self, account: &str, name: &str, days: u32, actor: &Actor) -> DirResult<IssuedToken> {
        self.issue_token(account, name, &[], Some(days), actor, "login_success").await
    }

    async fn issue_token(
        &self,
        account: &str,
        name: &str,
        scopes: &[String],
        expires_in_days: Option<u32>,
        actor: &Actor,
        kind: &'static str,
    ) -> DirResult<IssuedToken> {
        let a = self.account_of_kind(account, &[AccountKind::User, AccountKind::Robot]).await?;
        for s in scopes {
            TokenScope::parse(s).map_err(DirectoryError::Invalid)?;
        }
        if name.is_empty() || name.chars().count() > 128 {
            return Err(DirectoryError::Invalid("token names are 1 to 128 characters".into()));
        }
        if expires_in_days.is_some_and(|d| !(1..=MAX_TOKEN_DAYS).contains(&d)) {
            return Err(DirectoryError::Invalid(format!("expires_in_days is 1 to {MAX_TOKEN_DAYS}")));
        }
        let (id, token, secret_hash) = secret::new_token();
        let expires_at_ms = expires_in_days.map(|d| now_ms() + i64::from(d) * 86_400_000);
        let record = TokenRecord {
            id: id.clone(),
            account_id: a.id,
            name: name.to_owned(),
            secret_hash,
            scopes: scopes.to_vec(),
            created_at_ms: now_ms(),
            expires_at_ms,
            revoked_at_ms: None,
            last_used_at_ms: None,
        };
        let detail = format!("token {id} ({name}) scopes [{}]", scopes.join(" "));
        self.record(IdentityChange::CreateToken(record), actor, kind, account, detail).await?;
        Ok(IssuedToken { id, token, account: account.to_owned(), expires_at_ms })
    }

    /// Revokes a token. `owner`, if given, must own it (users revoke their own tokens through the API).
    pub async fn revoke_token(&self, token_id: &str, owner: Option<&str>, actor: &Actor) -> DirResult<()> {
        let t =
            self.store.token(token_id).await?.ok_or_else(|| DirectoryError::NotFound(format!("token {token_id}")))?;
        let account = self.store.account_by_id(&t.account_id).await?.map(|a| a.name).unwrap_or_default();
        if owner.is_some_and(|o| o != account) {
            return Err(DirectoryError::NotFound(format!("token {token_id}")));
        }
        let change = IdentityChange::RevokeToken { token_id: token_id.to_owned() };
        self.record(change, actor, "revoke_app_specific_token", &account, format!("token {token_id}")).await
    }

    /// Grants (or, with `None`, removes) a role on a repository or `ns/*` to a user, robot or `org/team`.
    pub async fn grant(&self, pattern: &str, grantee: &str, role: Option<Role>, actor: &Actor) -> DirResult<()> {
        if !valid_pattern(pattern) || pattern == "*" {
            return Err(DirectoryError::Invalid(format!("{pattern:?} is not a repository or ns/*")));
        }
        let target = match grantee.split_once('/') {
            Some((org, team)) => Grantee::Team(self.team(org, team).await?.id),
            None => Grantee::Account(self.account_of_kind(grantee, &[AccountKind::User, AccountKind::Robot]).await?.id),
        };
        let (kind, detail) = match role {
            Some(r) => ("change_repo_permission", format!("{grantee} as {r}")),
            None => ("delete_repo_permission", grantee.to_owned()),
        };
        self.record(
            IdentityChange::SetGrant { pattern: pattern.to_owned(), grantee: target, role },
            actor,
            kind,
            pattern,
            detail,
        )
        .await
    }

    /// Makes a repository (`ns/app`) or a whole namespace (`ns`) public or private for anonymous pulls.
    pub async fn set_public(&self, target: &str, public: bool, actor: &Actor) -> DirResult<()> {
        let detail = if public { "public" } else { "private" }.to_owned();
        if target.contains('/') {
            target.parse::<RepoName>().map_err(|e| DirectoryError::Invalid(e.to_string()))?;
            let change = IdentityChange::SetRepoPublic { repo: target.to_owned(), public };
            self.record(change, actor, "change_repo_visibility", target, detail).await
        } else {
            let ns = self.account_of_kind(target, &[AccountKind::Org, AccountKind::User]).await?;
            let change = IdentityChange::SetNamespacePublic { account_id: ns.id, public };
            self.record(change, actor, "change_namespace_visibility", target, detail).await
        }
    }

    /// First start: with no users at all, creates the global admin `admin` with `password` or a generated one.
    /// Returns the generated password, if one was generated.
    pub async fn bootstrap_admin(&self, password: Option<&str>) -> DirResult<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none().then(|| hex::encode(secret::random_bytes::<12>()));
        let pw = password.or(generated.as_deref()).expect("one of them is set");
        match self.add_user("admin", pw, true, &Actor::system()).await {
            Ok(_) => Ok(generated),
            // Another process bootstrapped at the same moment.
            Err(DirectoryError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
