//! The audit log's read API.
//!
//! - C2SP tlog-tiles under `/audit`: `checkpoint`, `key` and hash tiles are public (anyone can pin and check the
//!   log without seeing its contents); entry bundles (`tile/entries/...`) need a global admin.
//! - Under `/api/v1/audit`: inclusion and consistency proofs (hashes only) for any authenticated user, and single
//!   events and their receipts (C2SP tlog-proof) for global admins or the user who caused the event.
//!
//! Leaf index = seq − 1 everywhere a tree index appears.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_audit::integrity::Integrity;
use vigil_audit::RequestScope;
use vigil_auth::Principal;
use vigil_store::MetadataStore;
use vigil_tlog::hash::to_base64;
use vigil_tlog::proof::ProofError;
use vigil_tlog::receipt::Receipt;
use vigil_tlog::tile::{TileKind, TilePath};

use crate::caller::{self as admin_api, AdminState, ApiError};
use vigil_audit::view::EventView;

#[derive(Clone)]
pub struct TlogState {
    pub admin: AdminState,
    pub integrity: Integrity,
    pub journal: Arc<dyn MetadataStore>,
}

pub fn router(st: TlogState) -> Router {
    Router::new()
        .route("/audit/checkpoint", get(checkpoint))
        .route("/audit/checkpoint/cosigned", get(cosigned))
        .route("/audit/key", get(key))
        .route("/audit/tile/{*rest}", get(tile))
        .route("/api/v1/audit/proof/inclusion", get(inclusion))
        .route("/api/v1/audit/proof/consistency", get(consistency))
        .route("/api/v1/audit/events/{seq}", get(event))
        .route("/api/v1/audit/receipt/{seq}", get(receipt))
        .with_state(st)
}

type ApiResult<T> = Result<T, ApiError>;

fn text(body: String, cache: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, cache)], body).into_response()
}

async fn checkpoint(State(st): State<TlogState>) -> ApiResult<Response> {
    let c = st.integrity.checkpoint().ok_or_else(|| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the first checkpoint has not been signed yet".into())
    })?;
    Ok(text(c.note.clone(), "no-cache"))
}

/// The newest checkpoint witnesses cosigned: the log's signature and their cosignature lines (C2SP
/// tlog-cosignature), for verifiers that require a quorum of witnesses.
async fn cosigned(State(st): State<TlogState>) -> ApiResult<Response> {
    let note = st.integrity.cosigned().ok_or_else(|| {
        ApiError(StatusCode::NOT_FOUND, "no witness has cosigned a checkpoint of this log since it started".into())
    })?;
    Ok(text(note.to_string(), "no-cache"))
}

async fn key(State(st): State<TlogState>) -> Response {
    text(format!("{}\n", st.integrity.verifier_key()), "no-cache")
}

async fn tile(State(st): State<TlogState>, Path(rest): Path<String>, parts: Parts) -> ApiResult<Response> {
    let path = TilePath::parse(&rest).map_err(|e| ApiError(StatusCode::NOT_FOUND, e))?;
    // Full tiles never change; a partial tile of a given width never changes either, but clients are meant to
    // move on to the full tile, so it is cached briefly.
    let cache = if path.is_full() { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    let missing = || ApiError(StatusCode::NOT_FOUND, format!("{} is not in the tree yet", path.to_path()));
    let body = match path.kind {
        TileKind::Hashes(level) => {
            let (index, width) = (path.index, path.width);
            st.integrity.off_runtime(move |i| i.tile(level, index, width)).await.ok_or_else(missing)?
        }
        TileKind::Entries => {
            let p = authenticated(&st, &parts).await?;
            if !p.is_admin {
                return Err(ApiError(StatusCode::FORBIDDEN, "entry bundles are for global admins".into()));
            }
            let first = path.index * 256 + 1;
            if first + path.width - 1 > st.integrity.tree_size() {
                return Err(missing());
            }
            let records = st.journal.journal(first, path.width as usize).await.map_err(internal)?;
            if records.len() as u64 != path.width || records.first().map(|r| r.seq) != Some(first) {
                return Err(ApiError(StatusCode::GONE, format!("entries of {} were pruned", path.to_path())));
            }
            vigil_tlog::tile::bundle(records.iter().map(|r| r.bytes.as_slice())).map_err(internal)?
        }
    };
    let cache = if path.kind == TileKind::Entries { cache.replace("public", "private") } else { cache.to_owned() };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CACHE_CONTROL, cache)], body)
        .into_response())
}

async fn authenticated(st: &TlogState, parts: &Parts) -> ApiResult<Principal> {
    let p = admin_api::caller(&st.admin, parts).await?;
    RequestScope::of(parts).set_user(p.audit_user());
    Ok(p)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn bad(e: ProofError) -> ApiError {
    match e {
        ProofError::OutOfRange(m) => ApiError(StatusCode::BAD_REQUEST, m),
        other => internal(other),
    }
}

/// The latest checkpoint's size, or `size` when given (any size the tree has).
fn tree_size(st: &TlogState, size: Option<u64>) -> ApiResult<(u64, Option<String>)> {
    let latest = st.integrity.checkpoint();
    let latest_size = latest.as_ref().map_or(0, |c| c.checkpoint.size);
    let size = size.unwrap_or(latest_size);
    let tree = st.integrity.tree_size();
    if size > tree {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("the tree has {tree} entries, not {size} (new events join it within seconds)"),
        ));
    }
    let note = latest.filter(|c| c.checkpoint.size == size).map(|c| c.note.clone());
    Ok((size, note))
}

#[derive(Deserialize)]
struct InclusionQuery {
    seq: String,
    size: Option<String>,
}

fn number(name: &str, v: &str) -> ApiResult<u64> {
    v.parse()
        .map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("`{name}` must be a non-negative integer, not {v:?}")))
}

async fn inclusion(State(st): State<TlogState>, parts: Parts) -> ApiResult<Json<Value>> {
    authenticated(&st, &parts).await?;
    let Query(q) = Query::<InclusionQuery>::try_from_uri(&parts.uri)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{e}: `seq` is required")))?;
    let seq = number("seq", &q.seq)?;
    let (size, note) = tree_size(&st, q.size.as_deref().map(|s| number("size", s)).transpose()?)?;
    if seq == 0 || seq > size {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("seq {seq} is not in the tree of size {size} (new events join the next checkpoint within seconds)"),
        ));
    }
    let (proof, leaf) =
        st.integrity.off_runtime(move |i| (i.inclusion_proof(seq - 1, size), i.leaf_hash(seq - 1))).await;
    let proof = proof.map_err(bad)?;
    let leaf = leaf.ok_or_else(|| internal("leaf hash unreadable"))?;
    Ok(Json(json!({
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": to_base64(&leaf),
        "proof": proof.iter().map(to_base64).collect::<Vec<_>>(),
        "checkpoint": note,
    })))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: String,
    to: Option<String>,
}

async fn consistency(State(st): State<TlogState>, parts: Parts) -> ApiResult<Json<Value>> {
    authenticated(&st, &parts).await?;
    let Query(q) = Query::<ConsistencyQuery>::try_from_uri(&parts.uri)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{e}: `from` is required")))?;
    let from = number("from", &q.from)?;
    let (to, note) = tree_size(&st, q.to.as_deref().map(|s| number("to", s)).transpose()?)?;
    if from > to {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("`from` ({from}) is larger than `to` ({to})")));
    }
    let proof = st.integrity.off_runtime(move |i| i.consistency_proof(from, to)).await.map_err(bad)?;
    Ok(Json(json!({
        "from": from,
        "to": to,
        "proof": proof.iter().map(to_base64).collect::<Vec<_>>(),
        "checkpoint": note,
    })))
}

/// The event at `seq` (and `seq` parsed), if the caller may read it: global admins any, others the events they
/// caused.
async fn readable_event(st: &TlogState, parts: &Parts, seq: &str) -> ApiResult<(u64, Vec<u8>)> {
    let p = authenticated(st, parts).await?;
    let seq = number("seq", seq)?;
    let not_found = || ApiError(StatusCode::NOT_FOUND, format!("no event {seq}"));
    let record = st.journal.journal(seq, 1).await.map_err(internal)?.into_iter().next().filter(|r| r.seq == seq);
    let Some(record) = record else {
        let head = st.journal.journal_head().await.map_err(internal)?;
        return Err(if seq >= 1 && seq <= head {
            ApiError(StatusCode::GONE, format!("event {seq} was pruned from the journal"))
        } else {
            not_found()
        });
    };
    // Never hand out bytes the log does not vouch for: a row edited after it was logged is an integrity failure.
    if let Some(leaf) = st.integrity.off_runtime(move |i| i.leaf_hash(seq - 1)).await {
        if leaf != vigil_tlog::leaf_hash(&record.bytes) {
            tracing::error!(seq, "journal entry does not match its leaf in the audit tree");
            return Err(internal(format!(
                "event {seq} in the journal no longer matches the audit log (it was modified after it was logged); \
                 run `vigil audit verify`"
            )));
        }
    }
    if !p.is_admin {
        let event = EventView::parse(&record.bytes).map_err(internal)?;
        let owner = event.user_id();
        if owner.is_none() || owner != p.account_id.as_deref() {
            // The same answer as for a missing event: whether an event exists is itself audit data.
            return Err(not_found());
        }
    }
    Ok((seq, record.bytes))
}

async fn event(State(st): State<TlogState>, Path(seq): Path<String>, parts: Parts) -> ApiResult<Response> {
    let (_, bytes) = readable_event(&st, &parts, &seq).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// A C2SP tlog-proof receipt for the event at `seq` against the latest checkpoint.
async fn receipt(State(st): State<TlogState>, Path(seq): Path<String>, parts: Parts) -> ApiResult<Response> {
    let (seq, entry) = readable_event(&st, &parts, &seq).await?;
    let (c, proof) = st.integrity.proof_in_latest(seq).await.ok_or_else(|| {
        ApiError(StatusCode::NOT_FOUND, format!("event {seq} is not in a signed checkpoint yet; retry in a second"))
    })?;
    let proof = proof.map_err(bad)?;
    let receipt = Receipt { entry, index: seq - 1, proof, checkpoint: c.note.clone() };
    Ok(text(receipt.to_text(), "no-store"))
}
