//! The verifiable log in the UI: the current signed checkpoint, and for one event its inclusion proof, which the
//! page's script checks in the browser (leaf hash, root, the checkpoint's Ed25519 signature under a key the
//! viewer can replace with one pinned elsewhere), with the receipt to keep.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use vigil_audit::view::EventView;
use vigil_store::index::EventFilter;
use vigil_tlog::hash::to_base64;
use vigil_tlog::receipt::Receipt;

use crate::page::{self, Chrome, When};
use crate::session::Viewer;
use crate::Ui;

#[derive(Template)]
#[template(path = "integrity.html")]
struct IntegrityPage {
    chrome: Chrome,
    enabled: bool,
    origin: String,
    key: String,
    size: u64,
    note: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct SeqQuery {
    seq: Option<String>,
}

pub async fn page(State(ui): State<Ui>, Query(q): Query<SeqQuery>, viewer: Viewer) -> Response {
    if let Some(seq) = q.seq.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        return match seq.trim_start_matches('#').parse::<u64>() {
            Ok(seq) => Redirect::to(&format!("/ui/event/{seq}")).into_response(),
            Err(_) => page::error(
                StatusCode::BAD_REQUEST,
                Some(viewer.chrome("Integrity", "integrity")),
                &format!("{seq:?} is not an event number; the usage logs show each event's number."),
            ),
        };
    }
    let chrome = viewer.chrome("Integrity", "integrity");
    let page = match &ui.0.integrity {
        Some(i) => {
            let latest = i.checkpoint();
            IntegrityPage {
                chrome,
                enabled: true,
                origin: i.origin().to_owned(),
                key: i.verifier_key(),
                size: latest.as_ref().map_or(0, |c| c.checkpoint.size),
                note: latest.map(|c| c.note.clone()),
            }
        }
        None => {
            IntegrityPage { chrome, enabled: false, origin: String::new(), key: String::new(), size: 0, note: None }
        }
    };
    page::render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    seq: u64,
    when: When,
    json: String,
    /// The entry's bytes, base64, exactly as the log hashed them.
    entry: String,
    /// What the script checks; `None` before the event is in a signed checkpoint.
    proof: Option<ProofData>,
    enabled: bool,
}

struct ProofData {
    index: u64,
    size: u64,
    hashes: String,
    note: String,
    key: String,
}

/// Whether the viewer may read this event: as the audit API decides (global admins all; a repository's or
/// namespace's admins theirs; everyone their own).
async fn may_read(ui: &Ui, viewer: &Viewer, e: &EventView<'_>) -> bool {
    let p = &viewer.principal;
    if p.is_admin || (e.user_id().is_some() && e.user_id() == p.account_id.as_deref()) {
        return true;
    }
    let t = e.target_view();
    let f = match (&t.repository, &t.namespace) {
        (Some(r), _) => EventFilter { repository: Some(r.to_string()), ..EventFilter::default() },
        (None, Some(n)) => EventFilter { namespace: Some(n.to_string()), ..EventFilter::default() },
        _ => return false,
    };
    // `authorize` narrows a filter the viewer does not administer to their own events.
    matches!(vigil_api::audit_query::authorize(&ui.0.logs, p, f).await, Ok(f) if f.user_name.is_none())
}

/// The event at `seq`, if the viewer may read it (otherwise the same 404 as for a missing one).
async fn readable(ui: &Ui, viewer: &Viewer, seq: &str) -> Result<(u64, Vec<u8>), Response> {
    let chrome = || viewer.chrome("Event", "integrity");
    let missing = || {
        page::error(
            StatusCode::NOT_FOUND,
            Some(chrome()),
            &format!("there is no event {seq} that you can read; the usage logs list the events you can."),
        )
    };
    let Ok(n) = seq.parse::<u64>() else { return Err(missing()) };
    let records = ui
        .journal()
        .journal(n, 1)
        .await
        .map_err(|e| page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome()), &e.to_string()))?;
    let Some(record) = records.into_iter().next().filter(|r| r.seq == n) else { return Err(missing()) };
    if !may_read(ui, viewer, &EventView::parse_lenient(&record.bytes)).await {
        return Err(missing());
    }
    Ok((n, record.bytes))
}

pub async fn event(State(ui): State<Ui>, Path(seq): Path<String>, viewer: Viewer) -> Response {
    let (seq, bytes) = match readable(&ui, &viewer, &seq).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let e = EventView::parse_lenient(&bytes);
    let when = When::at(vigil_core::time::parse_rfc3339(&e.ts).unwrap_or(0));
    let json = page::pretty_json(&bytes);
    let mut proof = None;
    if let Some(i) = &ui.0.integrity {
        if let Some((c, Ok(hashes))) = i.proof_in_latest(seq).await {
            proof = Some(ProofData {
                index: seq - 1,
                size: c.checkpoint.size,
                hashes: hashes.iter().map(to_base64).collect::<Vec<_>>().join(" "),
                note: c.note.clone(),
                key: i.verifier_key(),
            });
        }
    }
    let page = EventPage {
        chrome: viewer.chrome(format!("Event {seq}"), "integrity"),
        seq,
        when,
        json,
        entry: base64::engine::general_purpose::STANDARD.encode(&bytes),
        proof,
        enabled: ui.0.integrity.is_some(),
    };
    page::render(StatusCode::OK, &page)
}

/// The event's C2SP tlog-proof receipt against the latest checkpoint, as a download (the same text as
/// `/api/v1/audit/receipt/<seq>`).
pub async fn receipt(State(ui): State<Ui>, Path(seq): Path<String>, viewer: Viewer) -> Response {
    let (seq, entry) = match readable(&ui, &viewer, &seq).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let chrome = || viewer.chrome("Receipt", "integrity");
    let Some(i) = &ui.0.integrity else {
        return page::error(StatusCode::NOT_FOUND, Some(chrome()), "the verifiable log is off (audit.tlog.enabled)");
    };
    let Some((c, proof)) = i.proof_in_latest(seq).await else {
        return page::error(
            StatusCode::NOT_FOUND,
            Some(chrome()),
            "this event is not in a signed checkpoint yet; retry in a few seconds",
        );
    };
    let proof = match proof {
        Ok(p) => p,
        Err(e) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome()), &e.to_string()),
    };
    let text = Receipt { entry, index: seq - 1, proof, checkpoint: c.note.clone() }.to_text();
    let disposition = format!("attachment; filename=\"vigil-event-{seq}.receipt\"");
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        text,
    )
        .into_response()
}
