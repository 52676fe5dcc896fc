//! The query index follows the journal: one task reads new entries in order, extracts the fields queries filter
//! and group by, and commits them in batches with the position it reached. It runs well under a second behind
//! the journal; the query APIs read only what it indexed.

use std::sync::Arc;
use std::time::Duration;

use crate::view::EventView;
use vigil_store::index::IndexRow;
use vigil_store::{JournalRecord, MetadataStore};

/// Entries indexed per batch.
const BATCH: usize = 2000;

/// The index row of one journal entry. An entry that does not parse (it never should) is indexed by its seq and
/// time alone, so the index has no holes.
pub fn row(record: &JournalRecord) -> IndexRow {
    let e = EventView::parse_lenient(&record.bytes);
    let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    IndexRow {
        seq: record.seq,
        ts_ms: record.ts_ms,
        kind: e.kind.clone().into_owned(),
        action: e.action.clone().into_owned(),
        operation: e.operation.clone().into_owned(),
        outcome: e.outcome.clone().into_owned(),
        status: e.status(),
        namespace: own(e.target_view().namespace.as_deref()),
        repository: own(e.target_view().repository.as_deref()),
        // Who acted: an anonymous request's claimed name (a failed login) is not its performer.
        user_name: own(e.performer()),
        remote_addr: own(e.remote_addr()),
        request_id: own(e.request_id()),
    }
}

/// Indexes everything the journal holds now; returns the seq the index then holds everything through.
pub async fn catch_up(store: &Arc<dyn MetadataStore>) -> Result<u64, String> {
    loop {
        let through = store.indexed_through().await.map_err(|e| e.to_string())?;
        let records = store.journal(through + 1, BATCH).await.map_err(|e| e.to_string())?;
        let Some(last) = records.last().map(|r| r.seq) else { return Ok(through) };
        let rows = records.iter().map(row).collect();
        store.index_events(rows, through, last).await.map_err(|e| e.to_string())?;
        metrics::gauge!("vigil_audit_indexed_through").set(last as f64);
    }
}

/// Follows the journal forever.
pub async fn run(store: Arc<dyn MetadataStore>) {
    let mut head = store.watch_head();
    loop {
        if let Err(e) = catch_up(&store).await {
            tracing::warn!(error = %e, "audit query index: indexing failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        crate::follow::next_commits(&mut head, Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_the_filtered_fields() {
        let bytes = br#"{"ts":"x","action":"push","actor":"api","artifact":"a/b:v1","registry":"docker","detail":"","seq":9,"id":"i","schema":2,"kind":"push_repo","operation":"PutManifest","stage":"complete","outcome":"success","reason":null,"user":{"id":"u","name":"alice","kind":"user","credential":"password","token_id":null},"request":{"id":"r1","method":"PUT","path":"/v2/a/b/manifests/v1","host":"h","remote_addr":"10.0.0.5","user_agent":null},"response":{"status":201,"bytes":0,"error":null},"target":{"namespace":"a","repository":"a/b","tag":"v1","digest":null,"media_type":null,"size":null},"node":"n"}"#;
        let r = row(&JournalRecord { seq: 9, ts_ms: 5, bytes: bytes.to_vec() });
        assert_eq!(
            r,
            IndexRow {
                seq: 9,
                ts_ms: 5,
                kind: "push_repo".into(),
                action: "push".into(),
                operation: "PutManifest".into(),
                outcome: "success".into(),
                status: Some(201),
                namespace: Some("a".into()),
                repository: Some("a/b".into()),
                user_name: Some("alice".into()),
                remote_addr: Some("10.0.0.5".into()),
                request_id: Some("r1".into()),
            }
        );
        let bad = row(&JournalRecord { seq: 3, ts_ms: 1, bytes: b"not json".to_vec() });
        assert_eq!((bad.seq, bad.kind.as_str()), (3, ""));
    }
}
