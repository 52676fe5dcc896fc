//! The trust changefeed (Docker Trusted Registry / Notary): `GET /v2/_trust/changefeed` and
//! `GET /v2/<name>/_trust/changefeed`, with Notary's paging semantics.
//!
//! - `change_id`: empty or `0` = from the beginning; any negative value (Notary) or `1` (DTR's documentation) = from
//!   the newest, counting backwards whatever the sign of `records`; otherwise the record with that id is excluded
//!   ("seen"). No record ever has id `1`: seq 1 is the journal's first event, which is never a tag change (a
//!   server's first start journals its configuration and admin account before any request is served).
//!   Ids are journal sequence numbers (`seq`, or `seq.k` for the further records of one change), so the feed has
//!   no gaps and no delay: a record exists exactly when its change committed.
//! - `records`: required; `0` means 100; negative means the records *before* `change_id`. At most 1000 either way.
//!   Results are always oldest first.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use vigil_core::RepoName;
use vigil_store::changefeed::{ChangeCursor, ChangePage, ChangeRecord};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::gate::Admitted;
use crate::Registry;

const DEFAULT_RECORDS: u32 = 100;
const MAX_RECORDS: i64 = 1000;

fn invalid(message: String) -> OciError {
    OciError::new(ErrorCode::InvalidParameters, message)
}

/// The page a query asks for.
pub fn page(query: Option<&str>) -> OciResult<ChangePage> {
    let (mut change_id, mut records) = (None, None);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|e| invalid(format!("malformed query string: {e}")))?;
    for (k, v) in pairs {
        match k.as_str() {
            "change_id" => change_id = Some(v),
            "records" => records = Some(v),
            _ => {}
        }
    }
    let records = records.ok_or_else(|| invalid("`records` is required".into()))?;
    let records: i64 = records.parse().map_err(|_| {
        invalid(format!("`records` must be an integer between -{MAX_RECORDS} and {MAX_RECORDS}, not {records:?}"))
    })?;
    if records.abs() > MAX_RECORDS {
        return Err(invalid(format!("`records` must be between -{MAX_RECORDS} and {MAX_RECORDS}, not {records}")));
    }
    let n = if records == 0 { DEFAULT_RECORDS } else { records.unsigned_abs() as u32 };
    let change_id = change_id.unwrap_or_default();
    if let Some(magnitude) = change_id.strip_prefix('-') {
        // Any negative number: from the newest, backwards, whatever the sign of `records`.
        magnitude.parse::<u64>().map_err(|_| invalid(format!("bad `change_id` {change_id:?}")))?;
        return Ok(ChangePage::Before(None, n));
    }
    if change_id == "1" {
        // DTR's spelling of the same.
        return Ok(ChangePage::Before(None, n));
    }
    let cursor = if change_id.is_empty() {
        ChangeCursor { seq: 0, sub: 0 }
    } else {
        ChangeCursor::parse(&change_id).ok_or_else(|| invalid(format!("bad `change_id` {change_id:?}")))?
    };
    Ok(if records < 0 { ChangePage::Before(Some(cursor), n) } else { ChangePage::After(cursor, n) })
}

pub async fn read(
    reg: &Registry,
    admitted: &Admitted,
    repo: Option<&RepoName>,
    query: Option<&str>,
) -> OciResult<Response> {
    if repo.is_none() && !admitted.principal.is_admin {
        return Err(OciError::new(ErrorCode::Denied, "the changefeed of every repository is for global admins"));
    }
    let page = page(query)?;
    let records = reg.meta.changefeed(repo.map(RepoName::as_str), page).await?;
    let host = reg.own_host();
    let shown: Vec<Value> = records.iter().map(|r| record(r, host.as_deref())).collect();
    Ok(axum::Json(json!({ "count": shown.len(), "records": shown })).into_response())
}

fn record(r: &ChangeRecord, host: Option<&str>) -> Value {
    // DTR names a repository with its registry's host, as clients pull it.
    let gun = match host {
        Some(h) => format!("{h}/{}", r.gun),
        None => r.gun.clone(),
    };
    json!({
        "ID": r.id(),
        "CreatedAt": vigil_core::time::rfc3339_ms(r.created_ms),
        "GUN": gun,
        "Version": r.version,
        "SHA256": r.sha256,
        "Category": if r.deletion { "deletion" } else { "update" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Result<ChangePage, String> {
        page(Some(q)).map_err(|e| e.message)
    }

    #[test]
    fn notary_paging_semantics() {
        let at = |seq, sub| ChangeCursor { seq, sub };
        assert_eq!(p("records=10"), Ok(ChangePage::After(at(0, 0), 10)));
        assert_eq!(p("change_id=0&records=10"), Ok(ChangePage::After(at(0, 0), 10)));
        assert_eq!(p("change_id=&records=0"), Ok(ChangePage::After(at(0, 0), 100)));
        assert_eq!(p("change_id=17&records=5"), Ok(ChangePage::After(at(17, 0), 5)));
        assert_eq!(p("change_id=17.2&records=5"), Ok(ChangePage::After(at(17, 2), 5)));
        assert_eq!(p("change_id=17&records=-5"), Ok(ChangePage::Before(Some(at(17, 0)), 5)));
        assert_eq!(p("change_id=-1&records=5"), Ok(ChangePage::Before(None, 5)));
        assert_eq!(p("change_id=-1&records=-5"), Ok(ChangePage::Before(None, 5)));
        assert_eq!(p("change_id=-7&records=0"), Ok(ChangePage::Before(None, 100)));
        assert_eq!(p("change_id=1&records=10"), Ok(ChangePage::Before(None, 10)));
        assert_eq!(p("change_id=1&records=-10"), Ok(ChangePage::Before(None, 10)));
        assert_eq!(p("change_id=1.1&records=10"), Ok(ChangePage::After(at(1, 1), 10)));
        assert_eq!(p("records=1000"), Ok(ChangePage::After(at(0, 0), 1000)));
        for bad in [
            "",
            "change_id=5",
            "records=x",
            "records=1001",
            "records=-1001",
            "records=99999999999999999999",
            "change_id=abc&records=1",
            "change_id=-x&records=1",
            "change_id=1.x&records=1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
