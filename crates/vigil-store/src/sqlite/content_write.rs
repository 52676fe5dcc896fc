//! [`ContentChange`]s on SQLite, inside the writer's transaction (called from [`super::write::mutate`]).

use sqlx::SqliteConnection;
use vigil_core::RepoName;

use super::parse_digest;
use super::rows::{record_blob, repo_id};
use crate::content::*;
use crate::meta::{Applied, BlobInfo, StoreError, StoreResult};
use crate::now_ms;

async fn existing_repo(conn: &mut SqliteConnection, repo: &RepoName) -> StoreResult<(i64, bool)> {
    let row: Option<(i64, bool)> = sqlx::query_as("SELECT id, allow_overwrite FROM repositories WHERE name = ?")
        .bind(repo.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("repository {repo}")))
}

async fn current_digest(conn: &mut SqliteConnection, repo_id: i64, path: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT digest FROM assets WHERE repo_id = ? AND path = ?")
        .bind(repo_id)
        .bind(path)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Checks `expect` against what `path` holds now.
fn check(expect: &Expect, current: Option<&str>, path: &str) -> StoreResult<()> {
    let holds = match (expect, current) {
        (Expect::Any, _) => true,
        (Expect::Absent, c) => c.is_none(),
        (Expect::Digest(d), Some(c)) => d.to_string() == c,
        (Expect::Digest(_), None) => false,
    };
    if holds {
        return Ok(());
    }
    Err(StoreError::PreconditionFailed(match current {
        Some(c) => format!("{path} holds {c}"),
        None => format!("{path} does not exist"),
    }))
}

pub(super) async fn apply(conn: &mut SqliteConnection, change: ContentChange) -> StoreResult<Applied> {
    match change {
        ContentChange::CreateRepository { repo, format, settings } => {
            let inserted = sqlx::query(
                "INSERT INTO repositories (name, created_at, format, allow_overwrite, declared) VALUES (?, ?, ?, ?, 1)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(repo.as_str())
            .bind(now_ms())
            .bind(format.as_str())
            .bind(settings.allow_overwrite)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("repository {repo} already exists")));
            }
            Ok(Applied::Done)
        }
        ContentChange::DeleteRepository { repo } => {
            let (rid, _) = existing_repo(conn, &repo).await?;
            // Tags, then manifests (their references cascade), then links and the neutral rows: every table that
            // names the repository, children first.
            for table in
                ["tags", "manifests", "repo_blobs", "assets", "package_tags", "package_versions", "repositories"]
            {
                let column = if table == "repositories" { "id" } else { "repo_id" };
                sqlx::query(&format!("DELETE FROM {table} WHERE {column} = ?")).bind(rid).execute(&mut *conn).await?;
            }
            sqlx::query("DELETE FROM uploads WHERE repo = ?").bind(repo.as_str()).execute(&mut *conn).await?;
            Ok(Applied::Done)
        }
        ContentChange::PutAsset { repo, asset, expect } => {
            let (rid, allow_overwrite) = existing_repo(conn, &repo).await?;
            let current = current_digest(conn, rid, &asset.path).await?;
            check(&expect, current.as_deref(), &asset.path)?;
            let digest = asset.digest.to_string();
            if let Some(c) = current.as_deref().filter(|c| *c != digest) {
                if !allow_overwrite {
                    return Err(StoreError::Conflict(format!(
                        "{} already holds {c} and {repo} does not allow overwriting",
                        asset.path
                    )));
                }
            }
            let now = record_blob(conn, &BlobInfo { digest: asset.digest.clone(), size: asset.size }).await?;
            sqlx::query(
                "INSERT INTO assets (repo_id, path, digest, size, media_type, package, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT (repo_id, path) DO UPDATE SET digest = excluded.digest, size = excluded.size,
                    media_type = excluded.media_type, package = excluded.package, version = excluded.version,
                    updated_at = excluded.updated_at",
            )
            .bind(rid)
            .bind(&asset.path)
            .bind(&digest)
            .bind(asset.size as i64)
            .bind(&asset.media_type)
            .bind(&asset.package)
            .bind(&asset.version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            let replaced = current.filter(|c| *c != digest).map(|c| parse_digest(&c)).transpose()?;
            Ok(Applied::Asset { replaced })
        }
        ContentChange::DeleteAsset { repo, path, expect } => {
            let (rid, _) = existing_repo(conn, &repo).await?;
            let current = current_digest(conn, rid, &path).await?;
            let Some(c) = current else {
                return Err(StoreError::NotFound(format!("{path} in {repo}")));
            };
            check(&expect, Some(&c), &path)?;
            sqlx::query("DELETE FROM assets WHERE repo_id = ? AND path = ?")
                .bind(rid)
                .bind(&path)
                .execute(&mut *conn)
                .await?;
            Ok(Applied::Asset { replaced: Some(parse_digest(&c)?) })
        }
        ContentChange::PutVersion { repo, version, create_only } => {
            let (rid, _) = existing_repo(conn, &repo).await?;
            let upsert = if create_only { "DO NOTHING" } else { "DO UPDATE SET metadata = excluded.metadata" };
            let written = sqlx::query(&format!(
                "INSERT INTO package_versions (repo_id, package, version, metadata, created_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (repo_id, package, version) {upsert}"
            ))
            .bind(rid)
            .bind(&version.package)
            .bind(&version.version)
            .bind(&version.metadata)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if written == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} {} already exists in {repo}",
                    version.package, version.version
                )));
            }
            Ok(Applied::Done)
        }
        ContentChange::DeleteVersion { repo, package, version } => {
            let rid = repo_id(conn, &repo).await?.ok_or_else(|| StoreError::NotFound(format!("repository {repo}")))?;
            let n = sqlx::query("DELETE FROM package_versions WHERE repo_id = ? AND package = ? AND version = ?")
                .bind(rid)
                .bind(&package)
                .bind(&version)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("{package} {version} in {repo}")));
            }
            for table in ["assets", "package_tags"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE repo_id = ? AND package = ? AND version = ?"))
                    .bind(rid)
                    .bind(&package)
                    .bind(&version)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(Applied::Done)
        }
        ContentChange::DeletePackage { repo, package } => {
            let rid = repo_id(conn, &repo).await?.ok_or_else(|| StoreError::NotFound(format!("repository {repo}")))?;
            let n = sqlx::query("DELETE FROM package_versions WHERE repo_id = ? AND package = ?")
                .bind(rid)
                .bind(&package)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("package {package} in {repo}")));
            }
            for table in ["assets", "package_tags"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE repo_id = ? AND package = ?"))
                    .bind(rid)
                    .bind(&package)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(Applied::Done)
        }
        ContentChange::SetPackageTag { repo, package, tag, version } => {
            let (rid, _) = existing_repo(conn, &repo).await?;
            let Some(version) = version else {
                let n = sqlx::query("DELETE FROM package_tags WHERE repo_id = ? AND package = ? AND tag = ?")
                    .bind(rid)
                    .bind(&package)
                    .bind(&tag)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound(format!("tag {tag} of {package} in {repo}")));
                }
                return Ok(Applied::Done);
            };
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM package_versions WHERE repo_id = ? AND package = ? AND version = ?")
                    .bind(rid)
                    .bind(&package)
                    .bind(&version)
                    .fetch_optional(&mut *conn)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("{package} {version} in {repo}")));
            }
            sqlx::query(
                "INSERT INTO package_tags (repo_id, package, tag, version, updated_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (repo_id, package, tag) DO UPDATE SET version = excluded.version,
                    updated_at = excluded.updated_at",
            )
            .bind(rid)
            .bind(&package)
            .bind(&tag)
            .bind(&version)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
            Ok(Applied::Done)
        }
        ContentChange::All(changes) => {
            // What the last change did (a publish ends with its file, whose replacement is the interesting part).
            let mut applied = Applied::Done;
            for change in changes {
                applied = Box::pin(apply(conn, change)).await?;
            }
            Ok(applied)
        }
    }
}
