//! `Range` on blob and file downloads and `Content-Range` on chunked uploads: a satisfiable range stays inside
//! the blob, anything else is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_registry::range::{resolve_range, RangeRequest};

// Input: `Range header\nblob size\nContent-Range header`.
fuzz_target!(|input: &str| {
    let mut lines = input.splitn(3, '\n');
    let header = lines.next().filter(|h| !h.is_empty());
    let Some(Ok(size)) = lines.next().map(str::parse::<u64>) else { return };
    let content_range = lines.next().unwrap_or_default();
    if let RangeRequest::Partial(first, last) = resolve_range(header, size) {
        assert!(first <= last && last < size, "{header:?} on {size} bytes gave {first}-{last}");
    }
    if let Some((a, b)) = vigil_oci::uploads::parse_content_range(content_range) {
        assert!(a <= b);
    }
});
