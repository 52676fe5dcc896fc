//! The format-neutral content port on SQLite: its reads, from the pool (its writes are in `content_write.rs`).

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use vigil_core::{Format, RepoName};

use super::{parse_digest, parse_repo, SqliteStore};
use crate::content::*;
use crate::meta::{StoreError, StoreResult};

const REPO_COLUMNS: &str = "name, format, allow_overwrite, declared, created_at";
const ASSET_COLUMNS: &str = "path, digest, size, media_type, package, version, created_at, updated_at";

fn repository_from_row(r: &SqliteRow) -> StoreResult<RepositoryInfo> {
    let format: String = r.get("format");
    Ok(RepositoryInfo {
        name: parse_repo(r.get("name"))?,
        format: Format::from_str(&format)
            .map_err(|_| StoreError::Backend(format!("unknown repository format {format:?} in metadata")))?,
        settings: RepoSettings { allow_overwrite: r.get("allow_overwrite") },
        declared: r.get("declared"),
        created_at_ms: r.get("created_at"),
    })
}

fn asset_from_row(r: &SqliteRow) -> StoreResult<Asset> {
    Ok(Asset {
        path: r.get("path"),
        digest: parse_digest(r.get("digest"))?,
        size: r.get::<i64, _>("size") as u64,
        media_type: r.get("media_type"),
        package: r.get("package"),
        version: r.get("version"),
        created_at_ms: r.get("created_at"),
        updated_at_ms: r.get("updated_at"),
    })
}

/// The smallest string greater than every string that starts with `prefix`, for a range scan (`None`: no bound).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[async_trait]
impl ContentStore for SqliteStore {
    async fn repository(&self, repo: &RepoName) -> StoreResult<Option<RepositoryInfo>> {
        sqlx::query(&format!("SELECT {REPO_COLUMNS} FROM repositories WHERE name = ?"))
            .bind(repo.as_str())
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(repository_from_row)
            .transpose()
    }

    async fn repositories(
        &self,
        format: Option<Format>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RepositoryInfo>> {
        sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE name > ?1 AND (?2 IS NULL OR format = ?2)
             ORDER BY name LIMIT ?3"
        ))
        .bind(after.unwrap_or(""))
        .bind(format.map(Format::as_str))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(repository_from_row)
        .collect()
    }

    async fn asset(&self, repo: &RepoName, path: &str) -> StoreResult<Option<Asset>> {
        sqlx::query(&format!(
            "SELECT {ASSET_COLUMNS} FROM assets WHERE path = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)"
        ))
        .bind(path)
        .bind(repo.as_str())
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(asset_from_row)
        .transpose()
    }

    async fn assets(
        &self,
        repo: &RepoName,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Asset>> {
        sqlx::query(&format!(
            "SELECT {ASSET_COLUMNS} FROM assets
             WHERE repo_id = (SELECT id FROM repositories WHERE name = ?1)
               AND path >= ?2 AND (?3 IS NULL OR path > ?3) AND (?4 IS NULL OR path < ?4)
             ORDER BY path LIMIT ?5"
        ))
        .bind(repo.as_str())
        .bind(prefix)
        .bind(after)
        .bind(prefix_end(prefix))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(asset_from_row)
        .collect()
    }

    async fn versions(&self, repo: &RepoName, package: &str) -> StoreResult<Vec<PackageVersion>> {
        let rows = sqlx::query(
            "SELECT package, version, metadata, created_at FROM package_versions
             WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND package = ?
             ORDER BY created_at, version",
        )
        .bind(repo.as_str())
        .bind(package)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PackageVersion {
                package: r.get("package"),
                version: r.get("version"),
                metadata: r.get("metadata"),
                created_at_ms: r.get("created_at"),
            })
            .collect())
    }

    async fn package_tags(&self, repo: &RepoName, package: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT tag, version FROM package_tags
             WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND package = ? ORDER BY tag",
        )
        .bind(repo.as_str())
        .bind(package)
        .fetch_all(&self.read)
        .await?)
    }

    async fn packages(
        &self,
        repo: &RepoName,
        containing: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        // instr on lower-cased text rather than LIKE, so `%` and `_` in a search are plain characters.
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT package FROM package_versions
             WHERE repo_id = (SELECT id FROM repositories WHERE name = ?1) AND package > ?2
               AND (?3 IS NULL OR instr(lower(package), lower(?3)) > 0)
             ORDER BY package LIMIT ?4",
        )
        .bind(repo.as_str())
        .bind(after.unwrap_or(""))
        .bind(containing)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_ends_bound_every_extension() {
        use super::prefix_end;
        assert_eq!(prefix_end("dir/").as_deref(), Some("dir0"));
        assert_eq!(prefix_end(""), None);
        assert!("dir/zzz" < prefix_end("dir/").unwrap().as_str());
    }
}
