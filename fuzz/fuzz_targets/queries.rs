//! Query strings of the audit query API (`/api/v1/audit/events` and its exports) and of Quay's logs endpoints
//! (`starttime`/`endtime` in three date forms, `performer`, `kind`, `next_page`): a filter or a 400, no panic.
#![no_main]

use std::collections::HashMap;

use http::Uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    let Ok(uri) = format!("/api/v1/audit/events?{query}").parse::<Uri>() else { return };
    let Some(q) = uri.query() else { return };
    let pairs: Result<HashMap<String, String>, _> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok::<_, ()>((k.to_owned(), v.to_owned()))
        })
        .collect();
    if let Ok(pairs) = pairs {
        if let Ok(filter) = vigil_api::audit_query::filter(&pairs) {
            let _ = vigil_api::page_token::canonical(&filter);
        }
    }
    let _ = vigil_api::fuzz::quay_logs_query(&uri);
    for value in q.split(['&', '=']) {
        let _ = vigil_core::time::parse_us_date(value);
        let _ = vigil_core::time::parse_iso_date(value);
        let _ = vigil_core::time::parse_rfc3339(value);
    }
});
