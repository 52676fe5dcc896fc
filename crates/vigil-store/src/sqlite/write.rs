//! The write side of the SQLite store: one function per mutation, run by the [`super::writer`] inside its
//! transaction.

use sqlx::SqliteConnection;
use vigil_core::{Digest, RepoName, Tag};

use super::rows::{record_blob, repo_id};
use crate::meta::*;
use crate::now_ms;

/// The garbage-collection predicate on `blobs b`, with one parameter: the link-time cutoff. A blob is kept while a
/// manifest references it, an upload is finishing it, or an asset of any format is it.
pub const COLLECTABLE: &str = "b.last_linked_at < ?
    AND NOT EXISTS (SELECT 1 FROM manifest_refs mr WHERE mr.target_digest = b.digest)
    AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.digest = b.digest)
    AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.finishing_digest = b.digest)";

/// The OCI repository `repo`, created by its first push. A repository of another format is never written to
/// by OCI.
async fn ensure_repo(conn: &mut SqliteConnection, repo: &RepoName) -> StoreResult<i64> {
    let existing: Option<(i64, String)> = sqlx::query_as("SELECT id, format FROM repositories WHERE name = ?")
        .bind(repo.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((id, format)) = existing {
        if format != "oci" {
            return Err(StoreError::WrongFormat(format!(
                "{repo} is a {format} repository; it does not take OCI content"
            )));
        }
        return Ok(id);
    }
    let id = sqlx::query("INSERT INTO repositories (name, created_at) VALUES (?, ?)")
        .bind(repo.as_str())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?
        .last_insert_rowid();
    Ok(id)
}

/// Records a blob and links it to an OCI repository (which then serves it).
async fn link(conn: &mut SqliteConnection, repo_id: i64, blob: &BlobInfo) -> StoreResult<()> {
    let now = record_blob(conn, blob).await?;
    sqlx::query(
        "INSERT INTO repo_blobs (repo_id, digest, linked_at) VALUES (?, ?, ?)
         ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
    )
    .bind(repo_id)
    .bind(blob.digest.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn missing(
    conn: &mut SqliteConnection,
    repo_id: i64,
    digests: &[Digest],
    manifests: bool,
) -> StoreResult<Vec<Digest>> {
    let sql = if manifests {
        "SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?"
    } else {
        "SELECT 1 FROM repo_blobs WHERE repo_id = ? AND digest = ?"
    };
    let mut out = Vec::new();
    for d in digests {
        let hit = sqlx::query(sql).bind(repo_id).bind(d.to_string()).fetch_optional(&mut *conn).await?;
        if hit.is_none() {
            out.push(d.clone());
        }
    }
    Ok(out)
}

async fn tag_target(conn: &mut SqliteConnection, repo_id: i64, tag: &Tag) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT digest FROM tags WHERE repo_id = ? AND name = ?")
        .bind(repo_id)
        .bind(tag.as_str())
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn mutate(conn: &mut SqliteConnection, mutation: Mutation) -> StoreResult<Applied> {
    match mutation {
        Mutation::OpenUpload { session } => {
            sqlx::query("INSERT INTO uploads (id, repo, created_at, updated_at) VALUES (?, ?, ?, ?)")
                .bind(&session.id)
                .bind(session.repo.as_str())
                .bind(session.created_at_ms)
                .bind(session.updated_at_ms)
                .execute(&mut *conn)
                .await?;
            Ok(Applied::Done)
        }
        Mutation::FinishingUpload { id, digest } => {
            let n = sqlx::query("UPDATE uploads SET finishing_digest = ?, updated_at = ? WHERE id = ?")
                .bind(digest.to_string())
                .bind(now_ms())
                .bind(&id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("upload {id}")));
            }
            Ok(Applied::Done)
        }
        Mutation::CloseUpload { id } => {
            sqlx::query("DELETE FROM uploads WHERE id = ?").bind(&id).execute(&mut *conn).await?;
            Ok(Applied::Done)
        }
        Mutation::LinkBlob { repo, blob, upload } => {
            let rid = ensure_repo(conn, &repo).await?;
            link(conn, rid, &blob).await?;
            if let Some(id) = upload {
                sqlx::query("DELETE FROM uploads WHERE id = ?").bind(&id).execute(&mut *conn).await?;
            }
            Ok(Applied::Linked(blob))
        }
        Mutation::MountBlob { repo, from, digest } => {
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT b.size FROM repo_blobs rb JOIN repositories r ON r.id = rb.repo_id
                 JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ?",
            )
            .bind(from.as_str())
            .bind(digest.to_string())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(size) = size else {
                return Err(StoreError::NotFound(format!("blob {digest} in {from}")));
            };
            let blob = BlobInfo { digest, size: size as u64 };
            let rid = ensure_repo(conn, &repo).await?;
            link(conn, rid, &blob).await?;
            Ok(Applied::Linked(blob))
        }
        Mutation::UnlinkBlob { repo, digest } => {
            let n = sqlx::query(
                "DELETE FROM repo_blobs WHERE digest = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)",
            )
            .bind(digest.to_string())
            .bind(repo.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("blob {digest} in {repo}")));
            }
            Ok(Applied::Done)
        }
        Mutation::PutManifest { repo, manifest, tags } => put_manifest(conn, repo, manifest, tags).await,
        Mutation::DeleteTag { repo, tag } => {
            let rid = repo_id(conn, &repo).await?.ok_or_else(|| StoreError::NotFound(format!("repository {repo}")))?;
            let n = sqlx::query("DELETE FROM tags WHERE repo_id = ? AND name = ?")
                .bind(rid)
                .bind(tag.as_str())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("tag {tag} in {repo}")));
            }
            Ok(Applied::Manifest { previous_tag_target: None, removed_tags: vec![tag] })
        }
        Mutation::DeleteManifest { repo, digest } => {
            let rid = repo_id(conn, &repo).await?.ok_or_else(|| StoreError::NotFound(format!("repository {repo}")))?;
            let removed: Vec<String> =
                sqlx::query_scalar("SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name")
                    .bind(rid)
                    .bind(digest.to_string())
                    .fetch_all(&mut *conn)
                    .await?;
            // Tags and manifest_refs go with the manifest (ON DELETE CASCADE).
            let n = sqlx::query("DELETE FROM manifests WHERE repo_id = ? AND digest = ?")
                .bind(rid)
                .bind(digest.to_string())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("manifest {digest} in {repo}")));
            }
            let removed_tags = removed.iter().filter_map(|t| t.parse().ok()).collect();
            Ok(Applied::Manifest { previous_tag_target: None, removed_tags })
        }
        Mutation::SetSetting { key, value } => {
            sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(key)
                .bind(value)
                .execute(&mut *conn)
                .await?;
            Ok(Applied::Done)
        }
        Mutation::CollectBlob { digest, linked_before_ms } => {
            let n = sqlx::query(&format!("DELETE FROM blobs AS b WHERE b.digest = ? AND {COLLECTABLE}"))
                .bind(digest.to_string())
                .bind(linked_before_ms)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                // Rolls back the job's savepoint, so its `gc_blob` event is not recorded either.
                return Err(StoreError::Conflict(format!("blob {digest} is no longer collectable")));
            }
            Ok(Applied::Collected(true))
        }
        Mutation::Content(change) => super::content_write::apply(conn, change).await,
    }
}

async fn put_manifest(
    conn: &mut SqliteConnection,
    repo: RepoName,
    m: NewManifest,
    tags: Vec<Tag>,
) -> StoreResult<Applied> {
    let rid = ensure_repo(conn, &repo).await?;
    // References are checked here, inside the transaction, so a garbage collection running concurrently either
    // sees this manifest's references or has already removed the blob and this put fails: never both.
    let missing_blobs = missing(conn, rid, &m.blobs, false).await?;
    if !missing_blobs.is_empty() {
        return Err(StoreError::MissingBlobs(missing_blobs));
    }
    let missing_manifests = missing(conn, rid, &m.manifests, true).await?;
    if !missing_manifests.is_empty() {
        return Err(StoreError::MissingManifests(missing_manifests));
    }
    let digest = m.digest.to_string();
    let existed = sqlx::query("SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?")
        .bind(rid)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !existed {
        sqlx::query(
            "INSERT INTO manifests (repo_id, digest, media_type, content, subject, artifact_type, annotations, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rid)
        .bind(&digest)
        .bind(&m.media_type)
        .bind(m.content.as_ref())
        .bind(m.subject.as_ref().map(|d| d.to_string()))
        .bind(&m.artifact_type)
        .bind(&m.annotations)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        for (targets, is_manifest) in [(&m.blobs, false), (&m.manifests, true)] {
            for t in targets {
                sqlx::query(
                    "INSERT OR IGNORE INTO manifest_refs (repo_id, manifest_digest, target_digest, is_manifest)
                     VALUES (?, ?, ?, ?)",
                )
                .bind(rid)
                .bind(&digest)
                .bind(t.to_string())
                .bind(is_manifest)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    let mut previous_tag_target = None;
    for (i, tag) in tags.iter().enumerate() {
        let previous = tag_target(conn, rid, tag).await?.filter(|d| *d != digest).and_then(|d| d.parse().ok());
        if i == 0 {
            previous_tag_target = previous;
        }
        sqlx::query(
            "INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
        )
        .bind(rid)
        .bind(tag.as_str())
        .bind(&digest)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    }
    Ok(Applied::Manifest { previous_tag_target, removed_tags: Vec::new() })
}
