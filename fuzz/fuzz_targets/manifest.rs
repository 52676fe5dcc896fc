//! OCI manifest and index bodies under each content type a client may send: parsed and validated, or refused
//! with MANIFEST_INVALID / DIGEST_INVALID, never a panic (and no stack overflow on deep nesting).
#![no_main]

use libfuzzer_sys::fuzz_target;

// Input: `content-type\nbody` (an empty first line sends no Content-Type).
fuzz_target!(|input: &[u8]| {
    let Some(newline) = input.iter().position(|b| *b == b'\n') else { return };
    let Ok(content_type) = std::str::from_utf8(&input[..newline]) else { return };
    let content_type = (!content_type.is_empty()).then_some(content_type);
    let _ = vigil_oci::manifest::parse(content_type, &input[newline + 1..]);
});
