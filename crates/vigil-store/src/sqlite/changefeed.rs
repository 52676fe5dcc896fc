//! The changefeed table: rows written by the writer inside the job that makes the change (so a record exists exactly
//! when its change and its journal event committed), and the page queries.

use sqlx::{Row, SqliteConnection, SqlitePool};
use vigil_core::digest::{Algorithm, Hasher};

use super::writer::{Change, Done};
use crate::changefeed::{ChangePage, ChangeRecord, FeedIntent};
use crate::meta::{Applied, Mutation, StoreResult};

/// What `change` will add to the feed, if it is a tag push or a removal.
pub(crate) fn intent(change: &Change) -> Option<FeedIntent> {
    let Change::Registry(m) = change else { return None };
    match m {
        Mutation::PutManifest { repo, manifest, tags } if !tags.is_empty() => {
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(&manifest.content);
            Some(FeedIntent::Update { gun: repo.to_string(), sha256: h.finish().hex().to_owned() })
        }
        Mutation::DeleteTag { repo, .. } => Some(FeedIntent::DeleteTag { gun: repo.to_string() }),
        Mutation::DeleteManifest { repo, .. } => Some(FeedIntent::DeleteManifest { gun: repo.to_string() }),
        _ => None,
    }
}

/// Writes the records of a committed-to-be change whose first journal event got `seq`.
pub(crate) async fn record(
    conn: &mut SqliteConnection,
    intent: FeedIntent,
    done: &Done,
    seq: u64,
    ts: i64,
) -> StoreResult<()> {
    let insert =
        "INSERT INTO changefeed (seq, sub, created_at, gun, version, sha256, category) VALUES (?, ?, ?, ?, ?, ?, ?)";
    match intent {
        FeedIntent::Update { gun, sha256 } => {
            // Each update's version is the previous update's plus one, so the newest update holds the highest;
            // found through the (gun, seq) index from the end, not by scanning the repository's whole feed.
            let last: i64 = sqlx::query_scalar(
                "SELECT version FROM changefeed WHERE gun = ? AND category = 'update' ORDER BY seq DESC LIMIT 1",
            )
            .bind(&gun)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0);
            sqlx::query(insert)
                .bind(seq as i64)
                .bind(0)
                .bind(ts)
                .bind(&gun)
                .bind(last + 1)
                .bind(sha256)
                .bind("update")
                .execute(&mut *conn)
                .await?;
        }
        FeedIntent::DeleteTag { gun } => deletions(conn, insert, &gun, seq, ts, 1).await?,
        FeedIntent::DeleteManifest { gun } => {
            let removed = match done {
                Done::Registry(Applied::Manifest { removed_tags, .. }) => removed_tags.len(),
                _ => 0,
            };
            deletions(conn, insert, &gun, seq, ts, removed).await?;
        }
    }
    Ok(())
}

async fn deletions(
    conn: &mut SqliteConnection,
    insert: &str,
    gun: &str,
    seq: u64,
    ts: i64,
    n: usize,
) -> StoreResult<()> {
    for sub in 0..n {
        sqlx::query(insert)
            .bind(seq as i64)
            .bind(sub as i64)
            .bind(ts)
            .bind(gun)
            .bind(0)
            .bind("")
            .bind("deletion")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A page of the feed, optionally for one repository, oldest first.
pub(crate) async fn page(pool: &SqlitePool, gun: Option<&str>, page: ChangePage) -> StoreResult<Vec<ChangeRecord>> {
    let filter = if gun.is_some() { "gun = ? AND" } else { "" };
    let (sql, seq, sub, n, reversed) = match page {
        ChangePage::After(c, n) => (
            format!("SELECT * FROM changefeed WHERE {filter} (seq, sub) > (?, ?) ORDER BY seq, sub LIMIT ?"),
            c.seq as i64,
            c.sub as i64,
            n,
            false,
        ),
        ChangePage::Before(c, n) => {
            let (seq, sub) = c.map_or((i64::MAX, 0), |c| (c.seq as i64, c.sub as i64));
            (
                format!(
                    "SELECT * FROM changefeed WHERE {filter} (seq, sub) < (?, ?) ORDER BY seq DESC, sub DESC LIMIT ?"
                ),
                seq,
                sub,
                n,
                true,
            )
        }
    };
    let mut q = sqlx::query(&sql);
    if let Some(g) = gun {
        q = q.bind(g);
    }
    let rows = q.bind(seq).bind(sub).bind(n as i64).fetch_all(pool).await?;
    let mut records: Vec<ChangeRecord> = rows
        .iter()
        .map(|r| ChangeRecord {
            seq: r.get::<i64, _>("seq") as u64,
            sub: r.get::<i64, _>("sub") as u32,
            created_ms: r.get("created_at"),
            gun: r.get("gun"),
            version: r.get::<i64, _>("version") as u64,
            sha256: r.get("sha256"),
            deletion: r.get::<String, _>("category") == "deletion",
        })
        .collect();
    if reversed {
        records.reverse();
    }
    Ok(records)
}
