//! vigil's own HTTP APIs, beside the protocols: the admin API under `/api/v1` in Quay's shapes ([`admin_api`],
//! [`repo_api`]), Quay's usage logs, aggregates and exports ([`quay_logs`], [`log_export`] with its e-mail and
//! callback delivery), the native audit query API with NDJSON/CSV streaming and live tail ([`audit_query`]),
//! and the verifiable log's tiles, proofs and receipts ([`tlog_api`]). The binary mounts their routers; nothing
//! here picks a backend.

pub mod admin_api;
pub mod audit_query;
pub mod callback_allowlist;
pub mod caller;
pub mod export_mail;
pub mod log_export;
pub mod openapi;
pub mod page_token;
pub mod quay_logs;
pub mod repo_api;
pub mod retry;
pub mod tlog_api;

/// Entry points for the fuzz targets in `fuzz/`, compiled only there (`--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzz {
    use axum::extract::Query;
    use axum::http::Uri;

    /// A Quay logs query string (`starttime`, `endtime`, `performer`, `kind`…), as the logs endpoints read it.
    pub fn quay_logs_query(uri: &Uri) -> bool {
        let Ok(Query(q)) = Query::<crate::quay_logs::LogsQuery>::try_from_uri(uri) else { return false };
        let level = crate::quay_logs::Level::User { name: "fuzz".into(), since_ms: 0 };
        crate::quay_logs::window(&q, 1_700_000_000_000)
            .and_then(|(start, end)| crate::quay_logs::full_filter(&level, &q, start, end))
            .is_ok()
    }
}
