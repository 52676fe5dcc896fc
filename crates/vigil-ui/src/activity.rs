//! Who pushed and who pulled: a repository's recent pushes and pulls, read from the audit query index (the same
//! reads as `/api/v1/audit/events`) and matched to tags, digests and files.

use vigil_audit::view::EventView;
use vigil_store::index::{EventFilter, Order};

use crate::Ui;

/// Events read per step when scanning a repository's pulls.
const STEP: u32 = 1000;

/// One push or pull as a page shows it.
pub struct Activity {
    pub seq: u64,
    pub ms: i64,
    pub user: String,
    pub remote_addr: String,
    pub operation: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub path: Option<String>,
}

impl Activity {
    fn read(seq: u64, bytes: &[u8]) -> Activity {
        let e = EventView::parse_lenient(bytes);
        let t = e.target_view();
        Activity {
            seq,
            ms: vigil_core::time::parse_rfc3339(&e.ts).unwrap_or(0),
            user: e.user_name().unwrap_or("anonymous").to_owned(),
            remote_addr: e.remote_addr().unwrap_or_default().to_owned(),
            operation: e.operation.to_string(),
            tag: t.tag.as_deref().map(str::to_owned),
            digest: t.digest.as_deref().map(str::to_owned),
            path: t.path.as_deref().map(str::to_owned),
        }
    }

    /// Whether this event is about `tag`, `digest` or `path` (whichever are given).
    pub fn concerns(&self, tag: Option<&str>, digest: Option<&str>, path: Option<&str>) -> bool {
        (tag.is_some() && self.tag.as_deref() == tag)
            || (digest.is_some() && self.digest.as_deref() == digest)
            || (path.is_some() && self.path.as_deref() == path)
    }
}

/// What a scan looked at, so a page can say it.
pub struct Scan {
    pub events: Vec<Activity>,
    /// How many events of the repository were read.
    pub examined: usize,
    /// Whether older events exist beyond what was read.
    pub truncated: bool,
}

/// The newest successful events of `repository` with NORA action `action` (`push`, `pull`), at most `max`
/// examined, newest first. A pull is a read of content: `HEAD` requests are left out.
pub async fn recent(ui: &Ui, repository: &str, actions: &[&str], max: usize) -> Result<Scan, String> {
    let filter = EventFilter {
        repository: Some(repository.to_owned()),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        outcomes: vec!["success".into()],
        ..EventFilter::default()
    };
    let (mut events, mut before, mut examined) = (Vec::new(), None, 0usize);
    loop {
        let step = STEP.min((max - examined) as u32);
        let page = ui.journal().query_entries(&filter, Order::NewestFirst { before }, step).await;
        let page = page.map_err(|e| e.to_string())?;
        examined += page.len();
        let full = page.len() == step as usize;
        before = page.last().map(|r| r.seq);
        events
            .extend(page.iter().map(|r| Activity::read(r.seq, &r.bytes)).filter(|a| !a.operation.starts_with("Head")));
        if !full || examined >= max {
            return Ok(Scan { events, examined, truncated: full });
        }
    }
}
