//! The package formats' metadata as clients upload it: npm publish documents, Cargo publish metadata and
//! `.crate` archives, Maven POMs and `maven-metadata.xml`. Refused with the protocol's error or accepted; no
//! panic, no unbounded recursion, no archive escaping its root.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Input: `kind\nbody`, kind one of npm, cargo, crate, maven-metadata, pom.
fuzz_target!(|input: &[u8]| {
    let Some(newline) = input.iter().position(|b| *b == b'\n') else { return };
    let body = &input[newline + 1..];
    match &input[..newline] {
        b"npm" => drop(vigil_npm::fuzz::publish_body(body, "demo")),
        b"cargo" => drop(vigil_cargo::fuzz::publish_meta(body)),
        b"crate" => drop(vigil_cargo::fuzz::crate_file(body, "demo-0.1.0")),
        b"maven-metadata" => drop(vigil_maven::fuzz::metadata(body, "com.acme", "demo", None)),
        b"pom" => drop(vigil_maven::fuzz::pom_texts(body)),
        _ => {}
    }
});
