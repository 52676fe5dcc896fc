//! vigil as a witness (C2SP tlog-witness): `POST /witness/add-checkpoint` takes another log's checkpoint with a
//! consistency proof from the size this witness last cosigned, checks the log's signature (404 for an unknown
//! origin, 403 when no trusted key signed it), the sizes (400 when the old size exceeds the new; 409 with
//! `text/x.tlog.size` when the old size is not the one recorded, or equal sizes with another root), the proof (422),
//! then durably records the new size and root and answers its cosignature. Check and record happen under one lock,
//! so two submissions can never roll the recorded size back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use vigil_tlog::cosignature::Cosigner;
use vigil_tlog::{Checkpoint, Hash, VerifierKey};

/// At most this many consistency proof lines (the protocol's limit).
const MAX_PROOF: usize = 63;
/// The largest request taken.
const MAX_BODY: usize = 64 * 1024;

/// What the witness remembers of one log: the last checkpoint it cosigned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Seen {
    size: u64,
    root: String,
}

pub struct Witness {
    cosigner: Cosigner,
    /// The logs witnessed: origin → the keys trusted for it.
    logs: BTreeMap<String, Vec<VerifierKey>>,
    state_path: PathBuf,
    state: tokio::sync::Mutex<BTreeMap<String, Seen>>,
}

impl Witness {
    /// A witness signing with `cosigner` for the logs whose keys are `logs` (each log's origin is its key's name
    /// unless given), remembering what it cosigned in `state_path`.
    pub fn open(cosigner: Cosigner, logs: Vec<(String, VerifierKey)>, state_path: PathBuf) -> Result<Witness, String> {
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("witness state {}: {e}", state_path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("reading {}: {e}", state_path.display())),
        };
        let mut by_origin: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for (origin, key) in logs {
            by_origin.entry(origin).or_default().push(key);
        }
        Ok(Witness { cosigner, logs: by_origin, state_path, state: tokio::sync::Mutex::new(state) })
    }

    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// Writes the state next to its file, fsyncs it and renames it over the old one (then fsyncs the directory).
    fn persist(&self, state: &BTreeMap<String, Seen>) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = self.state_path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(state).expect("state serializes"))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.state_path)?;
        if let Some(dir) = self.state_path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// One `add-checkpoint` request: the answer's status, content type and body.
    pub async fn add_checkpoint(&self, body: &[u8]) -> (StatusCode, &'static str, String) {
        let text = |status, msg: String| (status, "text/plain; charset=utf-8", msg);
        let Ok(body) = std::str::from_utf8(body) else {
            return text(StatusCode::BAD_REQUEST, "the request is not UTF-8\n".into());
        };
        let Some((head, note)) = body.split_once("\n\n") else {
            return text(
                StatusCode::BAD_REQUEST,
                "expected the old size, the proof, a blank line, the checkpoint\n".into(),
            );
        };
        let mut lines = head.split('\n');
        let old = match lines.next().and_then(|l| l.strip_prefix("old ")).map(str::parse::<u64>) {
            Some(Ok(n)) => n,
            _ => return text(StatusCode::BAD_REQUEST, "the first line must be `old <size>`\n".into()),
        };
        let proof: Result<Vec<Hash>, _> = lines.map(decode_hash).collect();
        let Ok(proof) = proof else {
            return text(StatusCode::BAD_REQUEST, "a consistency proof line is not a base64 hash\n".into());
        };
        if proof.len() > MAX_PROOF {
            return text(StatusCode::BAD_REQUEST, format!("more than {MAX_PROOF} proof lines\n"));
        }
        let origin = note.split('\n').next().unwrap_or_default();
        let Some(keys) = self.logs.get(origin) else {
            return text(StatusCode::NOT_FOUND, format!("this witness does not witness {origin:?}\n"));
        };
        let Some(signed) = keys.iter().find_map(|k| k.open(note).ok()) else {
            return text(
                StatusCode::FORBIDDEN,
                "no key this witness trusts for the log signed the checkpoint\n".into(),
            );
        };
        let checkpoint = match Checkpoint::parse(signed) {
            Ok(c) => c,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("not a checkpoint: {e}\n")),
        };
        if old > checkpoint.size {
            return text(StatusCode::BAD_REQUEST, format!("old size {old} is larger than {}\n", checkpoint.size));
        }
        let mut state = self.state.lock().await;
        let seen = state.get(origin).cloned();
        let recorded = seen.as_ref().map_or(0, |s| s.size);
        if old != recorded {
            return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{recorded}\n"));
        }
        let root = B64.encode(checkpoint.root);
        if let Some(seen) = &seen {
            let old_root = match decode_hash(&seen.root) {
                Ok(r) => r,
                Err(()) => return text(StatusCode::INTERNAL_SERVER_ERROR, "the witness's state is damaged\n".into()),
            };
            if old == checkpoint.size {
                if seen.root != root {
                    tracing::error!(origin, size = old, "a log presented two roots for one size: a fork");
                    return text(StatusCode::CONFLICT, "this size was cosigned with another root\n".into());
                }
            } else if let Err(e) =
                vigil_tlog::proof::verify_consistency(old, checkpoint.size, &old_root, &checkpoint.root, &proof)
            {
                tracing::error!(origin, old, new = checkpoint.size, error = %e, "a log's checkpoint is not consistent");
                return text(StatusCode::UNPROCESSABLE_ENTITY, format!("the consistency proof does not verify: {e}\n"));
            }
        } else if !proof.is_empty() {
            return text(StatusCode::UNPROCESSABLE_ENTITY, "the proof from size 0 must be empty\n".into());
        }
        let mut next = state.clone();
        next.insert(origin.to_owned(), Seen { size: checkpoint.size, root });
        if let Err(e) = self.persist(&next) {
            tracing::error!(error = %e, "the witness could not record a checkpoint");
            return text(StatusCode::SERVICE_UNAVAILABLE, "the witness could not record the checkpoint\n".into());
        }
        *state = next;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        (StatusCode::OK, "text/plain; charset=utf-8", self.cosigner.cosign(signed, now))
    }
}

fn decode_hash(line: &str) -> Result<Hash, ()> {
    let bytes = B64.decode(line.trim()).map_err(|_| ())?;
    bytes.try_into().map_err(|_| ())
}

/// `POST /witness/add-checkpoint`.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/witness/add-checkpoint", post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let (status, media, body) = w.add_checkpoint(&body).await;
    (status, [(header::CONTENT_TYPE, media)], body).into_response()
}
