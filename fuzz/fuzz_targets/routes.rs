//! Every protocol's route classification, on any method, path and query: it must answer (an operation and a
//! route or the protocol's own error), never panic. The audit layer runs this on every request, authenticated or not.
#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;

// Input: `METHOD\npath[\nquery]`, so the seed corpus is written as requests are.
fuzz_target!(|input: &str| {
    let mut lines = input.splitn(3, '\n');
    let (Some(method), Some(path)) = (lines.next(), lines.next()) else { return };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else { return };
    let (method, query) = (&method, lines.next());
    let _ = vigil_oci::route::classify(method, path, query);
    let _ = vigil_npm::route::classify(method, path, query);
    let _ = vigil_pypi::route::classify(method, path);
    let _ = vigil_maven::route::classify(method, path);
    let _ = vigil_cargo::route::classify(method, path, query);
    let _ = vigil_raw::route::classify(method, path);
    for segment in path.split('/') {
        let _ = vigil_http::util::decode_segment(segment);
    }
});
