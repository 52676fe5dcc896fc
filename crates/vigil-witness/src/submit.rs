//! vigil's log asking its witnesses: each new signed checkpoint is submitted to every configured witness with a
//! consistency proof from the size that witness last cosigned (learnt from its 409 answer after a restart), and
//! the cosignatures that verify under the pinned witness keys are kept with the checkpoint, served at
//! `/audit/checkpoint/cosigned`. A witness that refuses a checkpoint (a fork: 409 with the same size, or 422) is
//! logged and recorded as a `witness_refused` event; one that is unreachable is retried with the next checkpoint.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use vigil_audit::integrity::Integrity;
use vigil_audit::{Origin, Recorder, UserRef};
use vigil_core::Operation;
use vigil_tlog::cosignature::CosignatureKey;

/// How often the log looks for a new checkpoint to submit.
const POLL: Duration = Duration::from_millis(500);
/// The least pause before a witness that failed is asked again about the same checkpoint.
const RETRY: Duration = Duration::from_secs(3);

pub struct Target {
    /// The witness's submission prefix (`https://witness.example/witness`).
    pub url: String,
    pub key: CosignatureKey,
}

struct State {
    target: Target,
    /// The size the witness last cosigned for this log, as far as known.
    cosigned: u64,
    /// The last refusal logged, so one fork is recorded once.
    refused: Option<(u64, u16)>,
}

enum Outcome {
    Cosigned(String),
    /// The witness recorded another size: ask again from there.
    Conflict(u64),
    Refused(u16, String),
}

async fn submit(
    client: &reqwest::Client,
    integrity: &Integrity,
    st: &State,
    size: u64,
    note: &str,
) -> Result<Outcome, String> {
    let old = st.cosigned;
    if old > size {
        // Not sent: no proof can lead from a larger tree to a smaller one.
        let why = format!("the witness cosigned size {old}, beyond this log's {size} (a fork, or a log put back)");
        return Ok(Outcome::Refused(0, why));
    }
    let proof = if old == 0 {
        Vec::new()
    } else {
        integrity.off_runtime(move |i| i.consistency_proof(old, size)).await.map_err(|e| e.to_string())?
    };
    let mut body = format!("old {old}\n");
    for h in &proof {
        body.push_str(&B64.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    let url = format!("{}/add-checkpoint", st.target.url.trim_end_matches('/'));
    let resp = client.post(&url).body(body).send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    match status.as_u16() {
        200 => Ok(Outcome::Cosigned(text)),
        409 if media.starts_with("text/x.tlog.size") => match text.trim().parse::<u64>() {
            Ok(n) if n != old => Ok(Outcome::Conflict(n)),
            _ => Ok(Outcome::Refused(409, text)),
        },
        code => Ok(Outcome::Refused(code, text)),
    }
}

/// Follows the log's checkpoints and has each witness cosign them, for as long as the server runs.
pub async fn run(integrity: Integrity, targets: Vec<Target>, recorder: std::sync::Arc<Recorder>) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the witnesses");
            return;
        }
    };
    let mut states: Vec<State> =
        targets.into_iter().map(|target| State { target, cosigned: 0, refused: None }).collect();
    let (mut submitted, mut retry_at) = (0u64, tokio::time::Instant::now());
    loop {
        tokio::time::sleep(POLL).await;
        let Some(latest) = integrity.checkpoint() else { continue };
        let size = latest.checkpoint.size;
        // A witness that could not be reached is asked again with a newer checkpoint, or after a pause.
        if size == submitted || tokio::time::Instant::now() < retry_at {
            continue;
        }
        let mut lines = String::new();
        let mut all_done = true;
        for st in &mut states {
            let mut outcome = submit(&client, &integrity, st, size, &latest.note).await;
            if let Ok(Outcome::Conflict(recorded)) = outcome {
                st.cosigned = recorded;
                outcome = submit(&client, &integrity, st, size, &latest.note).await;
            }
            match outcome {
                Ok(Outcome::Cosigned(cosignatures)) => {
                    let note = format!("{}{cosignatures}", latest.note);
                    match st.target.key.verify(&note) {
                        Ok(_) => {
                            st.cosigned = size;
                            lines.push_str(
                                cosignatures.lines().find(|l| l.contains(st.target.key.name())).unwrap_or_default(),
                            );
                            lines.push('\n');
                        }
                        Err(e) => {
                            all_done = false;
                            tracing::warn!(witness = st.target.url, error = %e, "a witness answered no valid cosignature");
                        }
                    }
                }
                Ok(Outcome::Conflict(n)) => {
                    all_done = false;
                    tracing::warn!(
                        witness = st.target.url,
                        recorded = n,
                        "the witness keeps a size this log cannot prove from"
                    );
                }
                Ok(Outcome::Refused(code, why)) => {
                    if st.refused != Some((size, code)) {
                        st.refused = Some((size, code));
                        tracing::error!(
                            witness = st.target.url,
                            status = code,
                            why = why.trim(),
                            size,
                            "a witness refused this log's checkpoint"
                        );
                        let answered = if code == 0 { "was not asked".to_owned() } else { format!("answered {code}") };
                        let event = recorder
                            .background(Origin::System, Operation::WitnessCheckpoint, UserRef::system("system"))
                            .kind("witness_refused")
                            .artifact(st.target.key.name())
                            .detail(format!("{} {answered} for size {size}: {}", st.target.url, why.trim()));
                        if let Err(e) = recorder.record(event).await {
                            tracing::warn!(error = %e, "recording the witness's refusal failed");
                        }
                    }
                }
                Err(e) => {
                    all_done = false;
                    tracing::debug!(witness = st.target.url, error = %e, "the witness is unreachable; next checkpoint");
                }
            }
        }
        if !lines.is_empty() {
            integrity.set_cosigned(size, format!("{}{lines}", latest.note));
        }
        if all_done {
            submitted = size;
        } else {
            retry_at = tokio::time::Instant::now() + RETRY;
        }
    }
}
