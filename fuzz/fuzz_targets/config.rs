//! The `[audit]` section of the configuration (sinks, delivery mode, filters, retention, exports, the
//! verifiable log and its witnesses) as an operator may write it: every duration and sink is checked when the
//! server starts, and bad values must be errors, not panics or overflows.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vigil_audit::AuditSettings;

fuzz_target!(|text: &str| {
    let _ = vigil_audit::settings::parse_duration(text);
    let Ok(settings) = toml::from_str::<AuditSettings>(text) else { return };
    let _ = settings.retention.schedule();
    let _ = settings.export.url_ttl();
    let _ = settings.resolve(Path::new("/nonexistent-data-dir"));
    let _ = settings.tlog.interval();
    for filter in &settings.filters {
        let _ = filter.compile();
    }
});
