//! Waiting for the journal to grow, for the tasks that follow it (the tree integrator, the query indexer).

use std::time::Duration;

use tokio::sync::watch;

/// After a commit wakes a follower, it waits this long so that a burst of commits becomes one step. A step is a
/// read of the journal plus a write (index rows through the writer, hashes through a blocking thread); at one
/// step per commit, hundreds a second under load, that overhead took about a fifth of a busy server's read
/// throughput. Followers stay well under a second behind.
const GATHER: Duration = Duration::from_millis(50);

/// Returns once this process committed to the journal (and the commits right after it gathered), or after
/// `at_most` (which picks up commits by other processes, such as the CLI).
pub(crate) async fn next_commits(head: &mut watch::Receiver<u64>, at_most: Duration) {
    if tokio::time::timeout(at_most, head.changed()).await.is_ok() {
        tokio::time::sleep(GATHER.min(at_most)).await;
    }
}
