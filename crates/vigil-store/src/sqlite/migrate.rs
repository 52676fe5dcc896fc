//! Versioned schema migrations, tracked in SQLite's `user_version`. Each migration runs once, in its own
//! transaction, in order; a database newer than this binary is refused rather than guessed at.

use sqlx::SqliteConnection;

use crate::{StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_registry.sql")),
    (2, include_str!("../../migrations/sqlite/0002_identity.sql")),
    (3, include_str!("../../migrations/sqlite/0003_audit.sql")),
    (4, include_str!("../../migrations/sqlite/0004_changefeed.sql")),
    (5, include_str!("../../migrations/sqlite/0005_audit_index.sql")),
    (6, include_str!("../../migrations/sqlite/0006_audit_rollup.sql")),
    (7, include_str!("../../migrations/sqlite/0007_content.sql")),
    (8, include_str!("../../migrations/sqlite/0008_package_tags.sql")),
];

pub async fn run(conn: &mut SqliteConnection) -> StoreResult<()> {
    let current: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StoreError::Backend(format!(
            "database schema version {current} is newer than this vigil understands ({latest}); upgrade vigil"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            sqlx::query(&format!("PRAGMA user_version = {version}")).execute(&mut *conn).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await
        }
        .await;
        if let Err(e) = result {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(StoreError::Backend(format!("migration {version} failed: {e}")));
        }
        tracing::info!(version, "applied metadata schema migration");
    }
    Ok(())
}
