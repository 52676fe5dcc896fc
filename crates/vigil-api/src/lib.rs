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
pub mod page_token;
pub mod quay_logs;
pub mod repo_api;
pub mod retry;
pub mod tlog_api;
