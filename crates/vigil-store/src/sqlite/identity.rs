//! The identity port on SQLite.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use vigil_core::Role;

use super::writer::Change;
use super::SqliteStore;
use crate::identity::*;
use crate::journal::JournalEvent;
use crate::meta::{StoreError, StoreResult};

const ACCOUNT_COLUMNS: &str = "id, name, kind, password_hash, is_admin, public, owner_id, created_at";

fn role(s: &str) -> StoreResult<Role> {
    s.parse().map_err(StoreError::Backend)
}

fn account(r: &SqliteRow) -> StoreResult<Account> {
    let kind: String = r.get("kind");
    Ok(Account {
        id: r.get("id"),
        name: r.get("name"),
        kind: AccountKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("bad account kind {kind}")))?,
        password_hash: r.get("password_hash"),
        is_admin: r.get::<i64, _>("is_admin") != 0,
        public: r.get::<i64, _>("public") != 0,
        owner_id: r.get("owner_id"),
        created_at_ms: r.get("created_at"),
    })
}

fn token(r: &SqliteRow) -> TokenRecord {
    let scopes: String = r.get("scopes");
    TokenRecord {
        id: r.get("id"),
        account_id: r.get("account_id"),
        name: r.get("name"),
        secret_hash: r.get("secret_hash"),
        scopes: scopes.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        created_at_ms: r.get("created_at"),
        expires_at_ms: r.get("expires_at"),
        revoked_at_ms: r.get("revoked_at"),
        last_used_at_ms: r.get("last_used_at"),
    }
}

fn grantee_parts(g: &Grantee) -> (&str, &'static str) {
    match g {
        Grantee::Account(id) => (id, "account"),
        Grantee::Team(id) => (id, "team"),
    }
}

fn affected(n: u64, what: &str) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(what.to_owned()))
    } else {
        Ok(())
    }
}

pub(super) async fn apply(conn: &mut SqliteConnection, change: IdentityChange) -> StoreResult<()> {
    match change {
        IdentityChange::CreateAccount(a) => {
            let exists =
                sqlx::query("SELECT 1 FROM accounts WHERE name = ?").bind(&a.name).fetch_optional(&mut *conn).await?;
            if exists.is_some() {
                return Err(StoreError::Conflict(format!("the name {:?} is taken", a.name)));
            }
            sqlx::query(&format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
                .bind(&a.id)
                .bind(&a.name)
                .bind(a.kind.as_str())
                .bind(&a.password_hash)
                .bind(a.is_admin)
                .bind(a.public)
                .bind(&a.owner_id)
                .bind(a.created_at_ms)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        IdentityChange::SetPassword { account_id, password_hash } => {
            let n = sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ? AND kind = 'user'")
                .bind(password_hash)
                .bind(&account_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            affected(n, &format!("user {account_id}"))
        }
        IdentityChange::SetAdmin { account_id, is_admin } => {
            let n = sqlx::query("UPDATE accounts SET is_admin = ? WHERE id = ? AND kind = 'user'")
                .bind(is_admin)
                .bind(&account_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            affected(n, &format!("user {account_id}"))
        }
        IdentityChange::DeleteAccount { account_id } => {
            // Grants are not foreign keys (they may name teams too): remove them explicitly.
            sqlx::query("DELETE FROM repo_grants WHERE grantee_kind = 'account' AND grantee_id IN (SELECT id FROM accounts WHERE id = ?1 OR owner_id = ?1)")
                .bind(&account_id)
                .execute(&mut *conn)
                .await?;
            let n = sqlx::query("DELETE FROM accounts WHERE id = ?")
                .bind(&account_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            affected(n, &format!("account {account_id}"))
        }
        IdentityChange::SetMember { org_id, account_id, role } => {
            match role {
                Some(r) => {
                    sqlx::query(
                        "INSERT INTO org_members (org_id, account_id, role) VALUES (?, ?, ?)
                         ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role",
                    )
                    .bind(&org_id)
                    .bind(&account_id)
                    .bind(r.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    let n = sqlx::query("DELETE FROM org_members WHERE org_id = ? AND account_id = ?")
                        .bind(&org_id)
                        .bind(&account_id)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                    affected(n, "membership")?;
                }
            }
            Ok(())
        }
        IdentityChange::CreateTeam(t) => {
            sqlx::query("INSERT INTO teams (id, org_id, name, role) VALUES (?, ?, ?, ?)")
                .bind(&t.id)
                .bind(&t.org_id)
                .bind(&t.name)
                .bind(t.role.as_str())
                .execute(&mut *conn)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => {
                        StoreError::Conflict(format!("team {:?} exists", t.name))
                    }
                    e => e.into(),
                })?;
            Ok(())
        }
        IdentityChange::SetTeamMember { team_id, account_id, member } => {
            if member {
                sqlx::query("INSERT OR IGNORE INTO team_members (team_id, account_id) VALUES (?, ?)")
                    .bind(&team_id)
                    .bind(&account_id)
                    .execute(&mut *conn)
                    .await?;
            } else {
                let n = sqlx::query("DELETE FROM team_members WHERE team_id = ? AND account_id = ?")
                    .bind(&team_id)
                    .bind(&account_id)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                affected(n, "team membership")?;
            }
            Ok(())
        }
        IdentityChange::SetGrant { pattern, grantee, role } => {
            let (id, kind) = grantee_parts(&grantee);
            match role {
                Some(r) => {
                    sqlx::query(
                        "INSERT INTO repo_grants (pattern, grantee_id, grantee_kind, role) VALUES (?, ?, ?, ?)
                         ON CONFLICT (pattern, grantee_id) DO UPDATE SET role = excluded.role",
                    )
                    .bind(&pattern)
                    .bind(id)
                    .bind(kind)
                    .bind(r.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    let n = sqlx::query("DELETE FROM repo_grants WHERE pattern = ? AND grantee_id = ?")
                        .bind(&pattern)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                    affected(n, "grant")?;
                }
            }
            Ok(())
        }
        IdentityChange::SetNamespacePublic { account_id, public } => {
            let n = sqlx::query("UPDATE accounts SET public = ? WHERE id = ? AND kind IN ('user', 'org')")
                .bind(public)
                .bind(&account_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            affected(n, &format!("namespace {account_id}"))
        }
        IdentityChange::SetRepoPublic { repo, public } => {
            let sql = if public {
                "INSERT OR IGNORE INTO public_repos (repo) VALUES (?)"
            } else {
                "DELETE FROM public_repos WHERE repo = ?"
            };
            sqlx::query(sql).bind(&repo).execute(&mut *conn).await?;
            Ok(())
        }
        IdentityChange::CreateToken(t) => {
            sqlx::query(
                "INSERT INTO tokens (id, account_id, name, secret_hash, scopes, created_at, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&t.id)
            .bind(&t.account_id)
            .bind(&t.name)
            .bind(&t.secret_hash)
            .bind(t.scopes.join("\n"))
            .bind(t.created_at_ms)
            .bind(t.expires_at_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        IdentityChange::RevokeToken { token_id } => {
            let n = sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(crate::now_ms())
                .bind(&token_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            affected(n, &format!("active token {token_id}"))
        }
    }
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn change(&self, change: IdentityChange, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<Vec<u64>> {
        self.writer.submit(Change::Identity(change), events).await.map(|(_, seqs)| seqs)
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?"))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(account).transpose()
    }

    async fn account_by_id(&self, id: &str) -> StoreResult<Option<Account>> {
        let load = async {
            let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
            row.as_ref().map(account).transpose()
        };
        self.accounts.get_or_load(id.to_owned(), |_| true, load).await
    }

    async fn accounts(&self, kind: Option<AccountKind>) -> StoreResult<Vec<Account>> {
        let rows =
            sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE ?1 IS NULL OR kind = ?1 ORDER BY name"))
                .bind(kind.map(AccountKind::as_str))
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(account).collect()
    }

    async fn robots_of(&self, owner_id: &str) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE kind = 'robot' AND owner_id = ? ORDER BY name"
        ))
        .bind(owner_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(account).collect()
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE kind = 'user'").fetch_one(&self.read).await?;
        Ok(n as u64)
    }

    async fn namespace_repositories(&self, namespace: &str) -> StoreResult<u64> {
        // A prefix compared as text: LIKE would read `_` in a namespace as a wildcard.
        let prefix = format!("{namespace}/");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repositories WHERE substr(name, 1, ?) = ?")
            .bind(prefix.len() as i64)
            .bind(&prefix)
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }

    async fn members(&self, org_id: &str) -> StoreResult<Vec<(Account, Role)>> {
        let cols = ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols}, m.role AS member_role FROM org_members m JOIN accounts a ON a.id = m.account_id
             WHERE m.org_id = ? ORDER BY a.name"
        ))
        .bind(org_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok((account(r)?, role(r.get("member_role"))?))).collect()
    }

    async fn teams(&self, org_id: &str) -> StoreResult<Vec<Team>> {
        let rows = sqlx::query("SELECT id, org_id, name, role FROM teams WHERE org_id = ? ORDER BY name")
            .bind(org_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Team { id: r.get("id"), org_id: r.get("org_id"), name: r.get("name"), role: role(r.get("role"))? })
            })
            .collect()
    }

    async fn team_members(&self, team_id: &str) -> StoreResult<Vec<Account>> {
        let cols = ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols} FROM team_members t JOIN accounts a ON a.id = t.account_id WHERE t.team_id = ? ORDER BY a.name"
        ))
        .bind(team_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(account).collect()
    }

    async fn grants_on(&self, pattern: &str) -> StoreResult<Vec<RepoGrant>> {
        let rows = sqlx::query("SELECT pattern, grantee_id, grantee_kind, role FROM repo_grants WHERE pattern = ?")
            .bind(pattern)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.get("grantee_id");
                let grantee =
                    if r.get::<String, _>("grantee_kind") == "team" { Grantee::Team(id) } else { Grantee::Account(id) };
                Ok(RepoGrant { pattern: r.get("pattern"), grantee, role: role(r.get("role"))? })
            })
            .collect()
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ?").bind(id).fetch_optional(&self.read).await?;
        Ok(row.as_ref().map(token))
    }

    async fn tokens_of(&self, account_id: &str) -> StoreResult<Vec<TokenRecord>> {
        let rows = sqlx::query("SELECT * FROM tokens WHERE account_id = ? ORDER BY created_at")
            .bind(account_id)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(token).collect())
    }

    async fn touch_token(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        self.writer.submit(Change::TouchToken { id: id.to_owned(), now_ms }, Vec::new()).await.map(|_| ())
    }

    async fn access_facts(&self, account_id: Option<&str>) -> StoreResult<AccessFacts> {
        let mut facts = AccessFacts {
            public_namespaces: sqlx::query_scalar("SELECT name FROM accounts WHERE public = 1")
                .fetch_all(&self.read)
                .await?,
            public_repos: sqlx::query_scalar("SELECT repo FROM public_repos").fetch_all(&self.read).await?,
            ..AccessFacts::default()
        };
        let Some(id) = account_id else { return Ok(facts) };
        // A user owns its namespace; org memberships and org-wide team roles cover the org's namespace.
        let rows = sqlx::query(
            "SELECT name, 'admin' AS role FROM accounts WHERE id = ?1 AND kind = 'user'
             UNION ALL SELECT o.name, m.role FROM org_members m JOIN accounts o ON o.id = m.org_id WHERE m.account_id = ?1
             UNION ALL SELECT o.name, t.role FROM team_members tm JOIN teams t ON t.id = tm.team_id
                       JOIN accounts o ON o.id = t.org_id WHERE tm.account_id = ?1",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            facts.namespaces.push((r.get("name"), role(r.get("role"))?));
        }
        let rows = sqlx::query(
            "SELECT pattern, role FROM repo_grants WHERE grantee_kind = 'account' AND grantee_id = ?1
             UNION ALL SELECT g.pattern, g.role FROM repo_grants g JOIN team_members tm ON tm.team_id = g.grantee_id
                       WHERE g.grantee_kind = 'team' AND tm.account_id = ?1",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            facts.grants.push((r.get("pattern"), role(r.get("role"))?));
        }
        Ok(facts)
    }
}
