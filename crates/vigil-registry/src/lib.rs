//! Format-neutral registry services that every protocol calls instead of writing its own: committing a change
//! with its events in a task a client disconnect cannot cancel ([`commit`]), receiving content as a stream that
//! is hashed, staged, verified and then stored with the change that names it ([`ingest`]), resolving byte
//! ranges ([`range`]), and what package formats share ([`packages`]: the repository of a format, publishing). No HTTP and no format here: a protocol crate turns these into its wire answers.

pub mod ingest;
pub mod packages;
pub mod range;
pub mod repositories;

use std::sync::Arc;

use vigil_store::{Applied, JournalEvent, MetadataStore, Mutation, StoreError, StoreResult};

/// Commits a mutation with its events in a task of its own: once started, a client disconnect cannot stop it
/// halfway, and the caller learns the outcome if it is still there.
pub async fn commit(
    meta: &Arc<dyn MetadataStore>,
    mutation: Mutation,
    events: Vec<Box<dyn JournalEvent>>,
) -> StoreResult<(Applied, Vec<u64>)> {
    let meta = meta.clone();
    tokio::spawn(async move { meta.apply(mutation, events).await })
        .await
        .unwrap_or_else(|e| Err(StoreError::Backend(format!("commit task failed: {e}"))))
}
