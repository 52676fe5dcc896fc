//! Row helpers that more than one kind of write uses, inside the writer's transaction.

use sqlx::SqliteConnection;
use vigil_core::RepoName;

use crate::meta::{BlobInfo, StoreResult};
use crate::now_ms;

/// The id of repository `repo`, if it exists.
pub(super) async fn repo_id(conn: &mut SqliteConnection, repo: &RepoName) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM repositories WHERE name = ?")
        .bind(repo.as_str())
        .fetch_optional(&mut *conn)
        .await?)
}

/// Records that a blob is stored (or was just stored again), which protects it from garbage collection for the
/// grace period.
pub(super) async fn record_blob(conn: &mut SqliteConnection, blob: &BlobInfo) -> StoreResult<i64> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO blobs (digest, size, created_at, last_linked_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (digest) DO UPDATE SET last_linked_at = ?3",
    )
    .bind(blob.digest.to_string())
    .bind(blob.size as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(now)
}
