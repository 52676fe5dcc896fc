//! The audit rollups: event counts per hour and per (kind, action, outcome, namespace, repository, user), and
//! per hour and (kind, action, outcome) alone, each kept equal to a `GROUP BY` over the query index's rows. A long aggregate reads the whole hours of its range from
//! here and only the partial hours at its edges from the index, so a month over millions of events costs a few
//! thousand rows instead of millions.
//!
//! Every change runs in the writer's transaction together with the index change it mirrors.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, SqliteConnection};

use super::index;

use crate::index::{Aggregate, Bucket, EventFilter, GroupBy};
use crate::meta::StoreResult;

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// One rollup table: its name and the fields it counts by (besides the hour), as index expressions.
struct Level {
    table: &'static str,
    columns: &'static [&'static str],
    from_index: &'static [&'static str],
}

/// Per hour × kind × action × outcome × namespace × repository × user: what filtered aggregates read.
const FINE: Level = Level {
    table: "audit_rollup",
    columns: &["kind", "action", "outcome", "namespace", "repository", "user_name"],
    from_index: &[
        "kind",
        "action",
        "outcome",
        "COALESCE(namespace, '')",
        "COALESCE(repository, '')",
        "COALESCE(user_name, '')",
    ],
};

/// Per hour × kind × action × outcome: what whole-log aggregates read. A few dozen rows an hour, where the fine
/// level can have as many as the hour has events when they spread over many repositories and users.
const COARSE: Level = Level {
    table: "audit_rollup_kinds",
    columns: &["kind", "action", "outcome"],
    from_index: &["kind", "action", "outcome"],
};

impl Level {
    /// The grouping of index rows `WHERE {range}`, signed by `sign` (+1 to add, -1 to subtract), upserted so
    /// hours and combinations already counted are added to.
    fn fold_sql(&self, sign: i64, range: &str) -> String {
        let (table, columns) = (self.table, self.columns.join(", "));
        let groups: Vec<String> = (1..=self.columns.len() + 1).map(|i| i.to_string()).collect();
        format!(
            "INSERT INTO {table} (hour, {columns}, n)
             SELECT (ts / {HOUR_MS}) * {HOUR_MS}, {}, {sign} * COUNT(*)
             FROM audit_index WHERE {range}
             GROUP BY {}
             ON CONFLICT (hour, {columns}) DO UPDATE SET n = n + excluded.n",
            self.from_index.join(", "),
            groups.join(", ")
        )
    }
}

/// Counts the index rows with `after < seq <= through`, just written (none of them was counted before: the
/// rollup holds exactly the rows up to the index's position, and the index only grows past it).
pub(crate) async fn add(conn: &mut SqliteConnection, after: u64, through: u64) -> StoreResult<()> {
    for level in [&FINE, &COARSE] {
        sqlx::query(&level.fold_sql(1, "seq > ? AND seq <= ?"))
            .bind(after as i64)
            .bind(through as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Uncounts the index rows with `seq <= through`, about to be pruned.
pub(crate) async fn subtract(conn: &mut SqliteConnection, through: u64) -> StoreResult<()> {
    for level in [&FINE, &COARSE] {
        sqlx::query(&level.fold_sql(-1, "seq <= ?")).bind(through as i64).execute(&mut *conn).await?;
        sqlx::query(&format!("DELETE FROM {} WHERE n = 0", level.table)).execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn reset(conn: &mut SqliteConnection) -> StoreResult<()> {
    for level in [&FINE, &COARSE] {
        sqlx::query(&format!("DELETE FROM {}", level.table)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether the rollup has every field `f` filters on (otherwise the aggregate must read the index).
pub(crate) fn covers(f: &EventFilter) -> bool {
    f.operations.is_empty() && f.status.is_none() && f.remote_addr.is_none() && f.request_id.is_none()
}

/// The whole hours of `[from, to)` (either end open), if any: `[ceil(from), floor(to))`.
pub(crate) fn whole_hours(from: Option<i64>, to: Option<i64>) -> Option<(Option<i64>, Option<i64>)> {
    let first = from.map(|t| t.div_euclid(HOUR_MS) * HOUR_MS + if t.rem_euclid(HOUR_MS) == 0 { 0 } else { HOUR_MS });
    let end = to.map(|t| t.div_euclid(HOUR_MS) * HOUR_MS);
    match (first, end) {
        (Some(a), Some(b)) if a >= b => None,
        range => Some(range),
    }
}

/// Counts from the rollup for the hours `[first, end)`, with `f`'s field filters (its time range is ignored:
/// the caller passes whole hours).
pub(crate) async fn aggregate(
    conn: &mut SqliteConnection,
    f: &EventFilter,
    (first, end): (Option<i64>, Option<i64>),
    bucket: Option<Bucket>,
    group: Option<GroupBy>,
) -> StoreResult<Vec<Aggregate>> {
    let mut args = SqliteArguments::default();
    let mut parts: Vec<String> = vec!["1 = 1".into()];
    if let Some(first) = first {
        parts.push("hour >= ?".into());
        let _ = args.add(first);
    }
    if let Some(end) = end {
        parts.push("hour < ?".into());
        let _ = args.add(end);
    }
    for (col, value) in [("namespace", &f.namespace), ("repository", &f.repository), ("user_name", &f.user_name)] {
        if let Some(v) = value {
            // '' stands for "none", which the index's NULL never matches: not with a wildcard, not as ''.
            let op = if index::is_pattern(v) { "GLOB" } else { "=" };
            parts.push(format!("{col} {op} ? AND {col} <> ''"));
            let _ = args.add(v.clone());
        }
    }
    for (col, values) in [("kind", &f.kinds), ("action", &f.actions), ("outcome", &f.outcomes)] {
        index::push_in(&mut parts, &mut args, col, values);
    }
    let bucket_sql = index::bucket_sql(bucket, "hour");
    // Back from '' to the index's NULL for the fields that can be absent; kind, action and outcome are always
    // there (possibly empty, as in the index).
    let key_sql = match group {
        None => "NULL".to_owned(),
        Some(g @ (GroupBy::User | GroupBy::Repository)) => format!("NULLIF({}, '')", g.column()),
        Some(g) => g.column().to_owned(),
    };
    // The coarse level when nothing asks for the fields only the fine one has.
    let fine = [&f.namespace, &f.repository, &f.user_name].iter().any(|v| v.is_some())
        || matches!(group, Some(GroupBy::User | GroupBy::Repository));
    let table = if fine { FINE.table } else { COARSE.table };
    let sql = format!(
        "SELECT {bucket_sql} AS b, {key_sql} AS k, SUM(n) AS n FROM {table} WHERE {} GROUP BY b, k",
        parts.join(" AND ")
    );
    let rows = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await?;
    // Groups whose rows were all subtracted by retention sum to zero: absent, as in the index.
    Ok(index::aggregates(&rows).into_iter().filter(|a| a.count > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_rounds_inwards() {
        let h = HOUR_MS;
        assert_eq!(whole_hours(Some(0), Some(3 * h)), Some((Some(0), Some(3 * h))));
        assert_eq!(whole_hours(Some(1), Some(3 * h - 1)), Some((Some(h), Some(2 * h))));
        assert_eq!(whole_hours(Some(1), Some(h + 5)), None, "no whole hour inside");
        assert_eq!(whole_hours(Some(h), Some(h)), None);
        assert_eq!(whole_hours(None, Some(h + 5)), Some((None, Some(h))));
        assert_eq!(whole_hours(Some(h + 5), None), Some((Some(2 * h), None)));
        assert_eq!(whole_hours(None, None), Some((None, None)));
    }
}
