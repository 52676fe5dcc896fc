//! The audit query index in SQLite: written in batches by the writer (job `Change::Index`), read with filters
//! built from [`EventFilter`] (every value bound, never spliced into the SQL).

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Row, SqliteConnection, SqlitePool};

use super::rollup::{self, HOUR_MS};
use crate::index::{Aggregate, Bucket, EventFilter, GroupBy, IndexRow, Order};
use crate::journal::JournalRecord;
use crate::meta::{StoreError, StoreResult};

/// The settings key holding the last seq the index holds.
pub const INDEXED_THROUGH: &str = "audit_indexed_through";
/// Rows per INSERT statement: 12 parameters each, well under SQLite's 32,766 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// A seq kept in `settings` (inside the writer's transaction), 0 when unset.
async fn seq_setting(conn: &mut SqliteConnection, key: &str) -> StoreResult<u64> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&mut *conn).await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(crate) async fn write(
    conn: &mut SqliteConnection,
    rows: Vec<IndexRow>,
    after: u64,
    through: u64,
) -> StoreResult<()> {
    // Compare and set: an indexer that read its position before a reset must not mark the rows it skipped as done.
    let now = seq_setting(conn, INDEXED_THROUGH).await?;
    if now != after {
        return Err(StoreError::Conflict(format!("the query index is at {now}, not {after} (reset meanwhile)")));
    }
    // Many rows per statement: each statement is a round trip to SQLite's thread, which cost more than the
    // inserts themselves (the 10 M-event bench indexed at ~8k rows/s one row per statement).
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR REPLACE INTO audit_index (seq, ts, kind, action, operation, outcome, status, namespace, \
             repository, user_name, remote_addr, request_id) ",
        );
        insert.push_values(chunk, |mut b, r| {
            b.push_bind(r.seq as i64)
                .push_bind(r.ts_ms)
                .push_bind(r.kind.clone())
                .push_bind(r.action.clone())
                .push_bind(r.operation.clone())
                .push_bind(r.outcome.clone())
                .push_bind(r.status.map(i64::from))
                .push_bind(r.namespace.clone())
                .push_bind(r.repository.clone())
                .push_bind(r.user_name.clone())
                .push_bind(r.remote_addr.clone())
                .push_bind(r.request_id.clone());
        });
        insert.build().execute(&mut *conn).await?;
    }
    rollup::add(conn, after, through).await?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(INDEXED_THROUGH)
    .bind(through.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Empties the index; the indexer starts again from the journal's first entry.
pub(crate) async fn reset(conn: &mut SqliteConnection) -> StoreResult<()> {
    sqlx::query("DELETE FROM audit_index").execute(&mut *conn).await?;
    rollup::reset(conn).await?;
    sqlx::query("DELETE FROM settings WHERE key = ?").bind(INDEXED_THROUGH).execute(&mut *conn).await?;
    Ok(())
}

/// Inserts archived entries at their seqs, all of which must be pruned ones.
pub(crate) async fn restore(conn: &mut SqliteConnection, records: Vec<JournalRecord>) -> StoreResult<()> {
    let pruned = seq_setting(conn, crate::JOURNAL_PRUNED_THROUGH).await?;
    if let Some(r) = records.iter().find(|r| r.seq == 0 || r.seq > pruned) {
        return Err(StoreError::Conflict(format!(
            "entry {} was never pruned (the journal was pruned through {pruned}); only pruned entries can be restored",
            r.seq
        )));
    }
    for r in records {
        sqlx::query("INSERT OR IGNORE INTO journal (seq, ts, event) VALUES (?, ?, ?)")
            .bind(r.seq as i64)
            .bind(r.ts_ms)
            .bind(r.bytes)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes journal entries and index rows through `through` (never the newest entry) and remembers the point.
pub(crate) async fn prune(conn: &mut SqliteConnection, through: u64) -> StoreResult<()> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal").fetch_one(&mut *conn).await?;
    if through as i64 >= head {
        return Err(crate::meta::StoreError::Conflict(format!(
            "retention may not remove the newest journal entry ({head}); asked through {through}"
        )));
    }
    sqlx::query("DELETE FROM journal WHERE seq <= ?").bind(through as i64).execute(&mut *conn).await?;
    rollup::subtract(conn, through).await?;
    sqlx::query("DELETE FROM audit_index WHERE seq <= ?").bind(through as i64).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(crate::JOURNAL_PRUNED_THROUGH)
    .bind(through.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a text filter holds wildcards (matched with `GLOB`, else compared for equality).
pub(crate) use vigil_core::glob::is_pattern;

/// The seqs `lo..=hi` that hold every indexed event of `[from, to)`, or `None` when no event is in it.
///
/// Exact because journal timestamps never decrease along the sequence (the writer stamps a batch with the
/// later of the clock and the last entry's time), so the events of a time range are one run of seqs. Two
/// lookups in the `ts` index; the queries then walk a field's index in seq order inside that run.
async fn seq_range(conn: &mut SqliteConnection, from: Option<i64>, to: Option<i64>) -> StoreResult<Option<(i64, i64)>> {
    const FIRST: &str = "SELECT seq FROM audit_index WHERE ts >= ? ORDER BY ts, seq LIMIT 1";
    const LAST: &str = "SELECT seq FROM audit_index WHERE ts < ? ORDER BY ts DESC, seq DESC LIMIT 1";
    let (Some(lo), Some(hi)) = (seq_at(conn, FIRST, from, 0).await?, seq_at(conn, LAST, to, i64::MAX).await?) else {
        return Ok(None);
    };
    Ok((lo <= hi).then_some((lo, hi)))
}

/// The seq `sql` finds for the time `bound`, `open` when there is no bound, `None` when no event is past it.
async fn seq_at(conn: &mut SqliteConnection, sql: &str, bound: Option<i64>, open: i64) -> StoreResult<Option<i64>> {
    match bound {
        None => Ok(Some(open)),
        Some(t) => Ok(sqlx::query_scalar(sql).bind(t).fetch_optional(&mut *conn).await?),
    }
}

/// `{col} IN (?, ...)` for a list filter, with its values added to `args`; nothing for an empty list.
pub(crate) fn push_in(parts: &mut Vec<String>, args: &mut SqliteArguments<'static>, col: &str, values: &[String]) {
    if !values.is_empty() {
        parts.push(format!("{col} IN ({})", vec!["?"; values.len()].join(", ")));
        for v in values {
            let _ = args.add(v.clone());
        }
    }
}

/// The start of an event's time bucket, from a column holding milliseconds.
pub(crate) fn bucket_sql(bucket: Option<Bucket>, ts_col: &str) -> String {
    match bucket {
        Some(Bucket::Day) => format!("({ts_col} / 86400000) * 86400000"),
        Some(Bucket::Hour) => format!("({ts_col} / {HOUR_MS}) * {HOUR_MS}"),
        None => "NULL".to_owned(),
    }
}

/// Rows of `SELECT <bucket> AS b, <key> AS k, <count> AS n ...` as aggregates.
pub(crate) fn aggregates(rows: &[sqlx::sqlite::SqliteRow]) -> Vec<Aggregate> {
    rows.iter()
        .map(|r| Aggregate {
            bucket_ms: r.get::<Option<i64>, _>("b"),
            key: r.get::<Option<String>, _>("k"),
            count: r.get::<i64, _>("n") as u64,
        })
        .collect()
}

/// `WHERE ...` for a filter whose time range spans the seqs `lo..=hi`, with its arguments.
fn conditions(f: &EventFilter, (lo, hi): (i64, i64), args: &mut SqliteArguments<'static>) -> String {
    let mut parts: Vec<String> = vec!["seq >= ?".into(), "seq <= ?".into()];
    let _ = args.add(lo);
    let _ = args.add(hi);
    // Also the times themselves, so a result is never wider than asked; `+ts` keeps SQLite from picking the
    // `ts` index over a field's index for these.
    if let Some(from) = f.from_ms {
        parts.push("+ts >= ?".into());
        let _ = args.add(from);
    }
    if let Some(to) = f.to_ms {
        parts.push("+ts < ?".into());
        let _ = args.add(to);
    }
    let text = [
        ("namespace", &f.namespace),
        ("repository", &f.repository),
        ("user_name", &f.user_name),
        ("remote_addr", &f.remote_addr),
        ("request_id", &f.request_id),
    ];
    for (col, value) in text {
        if let Some(v) = value {
            parts.push(if is_pattern(v) { format!("{col} GLOB ?") } else { format!("{col} = ?") });
            let _ = args.add(v.clone());
        }
    }
    let lists = [("kind", &f.kinds), ("action", &f.actions), ("operation", &f.operations), ("outcome", &f.outcomes)];
    for (col, values) in lists {
        push_in(&mut parts, args, col, values);
    }
    if let Some(status) = f.status {
        parts.push("status = ?".into());
        let _ = args.add(i64::from(status));
    }
    parts.join(" AND ")
}

/// A cursor as SQLite's integer; one past every seq if it is larger (a client's `Last-Event-ID` may be anything).
fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// `SELECT seq FROM audit_index ...` for a page, with its arguments; `None` when nothing can match.
async fn page_sql(
    conn: &mut SqliteConnection,
    f: &EventFilter,
    order: Order,
    limit: u32,
) -> StoreResult<Option<(String, SqliteArguments<'static>, &'static str)>> {
    let Some((lo, hi)) = seq_range(conn, f.from_ms, f.to_ms).await? else { return Ok(None) };
    // The cursor narrows the range itself: given as a second bound, SQLite may walk from the other one and
    // filter every row up to the cursor (a page deep into an export read millions of rows).
    let (range, direction) = match order {
        Order::NewestFirst { before } => ((lo, before.map_or(hi, |b| hi.min(seq_i64(b) - 1))), "DESC"),
        Order::OldestFirst { after } => ((lo.max(seq_i64(after).saturating_add(1)), hi), "ASC"),
    };
    if range.0 > range.1 {
        return Ok(None);
    }
    let mut args = SqliteArguments::default();
    let cond = conditions(f, range, &mut args);
    let _ = args.add(i64::from(limit));
    let sql = format!("SELECT seq FROM audit_index WHERE {cond} ORDER BY seq {direction} LIMIT ?");
    Ok(Some((sql, args, direction)))
}

/// The seqs of matching events, a page of at most `limit`.
pub(crate) async fn query(pool: &SqlitePool, f: &EventFilter, order: Order, limit: u32) -> StoreResult<Vec<u64>> {
    let mut conn = pool.acquire().await?;
    let Some((sql, args, _)) = page_sql(&mut conn, f, order, limit).await? else { return Ok(Vec::new()) };
    let rows = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(|r| r.get::<i64, _>(0) as u64).collect())
}

/// The journal entries of matching events, a page of at most `limit`: one statement, the index page joined
/// to the journal.
pub(crate) async fn query_entries(
    pool: &SqlitePool,
    f: &EventFilter,
    order: Order,
    limit: u32,
) -> StoreResult<Vec<JournalRecord>> {
    let mut conn = pool.acquire().await?;
    let Some((page, args, direction)) = page_sql(&mut conn, f, order, limit).await? else { return Ok(Vec::new()) };
    let sql = format!("SELECT seq, ts, event FROM journal WHERE seq IN ({page}) ORDER BY seq {direction}");
    let rows = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| JournalRecord { seq: r.get::<i64, _>(0) as u64, ts_ms: r.get(1), bytes: r.get(2) })
        .collect())
}

/// Counts of matching events, grouped by a time bucket and/or a field. Whole hours come from the rollup when
/// it has every field filtered on, the rest from the index; all of it read in one snapshot.
pub(crate) async fn aggregate(
    pool: &SqlitePool,
    f: &EventFilter,
    bucket: Option<Bucket>,
    group: Option<GroupBy>,
) -> StoreResult<Vec<Aggregate>> {
    let mut tx = pool.begin().await?;
    let mut parts = Vec::new();
    match rollup::whole_hours(f.from_ms, f.to_ms).filter(|_| rollup::covers(f)) {
        Some(hours @ (first, end)) => {
            parts.extend(rollup::aggregate(&mut tx, f, hours, bucket, group).await?);
            // The partial hours at either end.
            if let (Some(from), Some(first)) = (f.from_ms, first) {
                let edge = EventFilter { from_ms: Some(from), to_ms: Some(first), ..f.clone() };
                parts.extend(aggregate_index(&mut tx, &edge, bucket, group).await?);
            }
            if let (Some(end), Some(to)) = (end, f.to_ms) {
                let edge = EventFilter { from_ms: Some(end), to_ms: Some(to), ..f.clone() };
                parts.extend(aggregate_index(&mut tx, &edge, bucket, group).await?);
            }
        }
        None => parts.extend(aggregate_index(&mut tx, f, bucket, group).await?),
    }
    tx.commit().await?;
    let mut merged: std::collections::BTreeMap<(Option<i64>, Option<String>), u64> = Default::default();
    for a in parts {
        *merged.entry((a.bucket_ms, a.key)).or_default() += a.count;
    }
    Ok(merged.into_iter().map(|((bucket_ms, key), count)| Aggregate { bucket_ms, key, count }).collect())
}

/// Counts from the index rows themselves.
async fn aggregate_index(
    conn: &mut SqliteConnection,
    f: &EventFilter,
    bucket: Option<Bucket>,
    group: Option<GroupBy>,
) -> StoreResult<Vec<Aggregate>> {
    let Some(range) = seq_range(conn, f.from_ms, f.to_ms).await? else { return Ok(Vec::new()) };
    let mut args = SqliteArguments::default();
    let cond = conditions(f, range, &mut args);
    let bucket_sql = bucket_sql(bucket, "ts");
    let key_sql = group.map_or("NULL", GroupBy::column);
    let sql =
        format!("SELECT {bucket_sql} AS b, {key_sql} AS k, COUNT(*) AS n FROM audit_index WHERE {cond} GROUP BY b, k");
    let rows = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await?;
    Ok(aggregates(&rows))
}
