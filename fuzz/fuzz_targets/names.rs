//! The names and references every path carries: digests, tags, references, repository names, roles, and the
//! package formats' names, versions and file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::digest::Digest;
use vigil_core::permission::Role;
use vigil_core::reference::{Reference, Tag};
use vigil_core::RepoName;

// Input: `name[\nproject\nversion]`; the last two are what a PyPI file name must match.
fuzz_target!(|input: &str| {
    let mut lines = input.splitn(3, '\n');
    let s = lines.next().unwrap_or_default();
    let (project, version) = (lines.next().unwrap_or("demo"), lines.next().unwrap_or("1.0"));
    if let Ok(d) = s.parse::<Digest>() {
        // What parses prints back as itself: digests are compared as text in the store.
        assert_eq!(d.to_string(), s);
    }
    let _ = s.parse::<Tag>();
    let _ = s.parse::<Reference>();
    if let Ok(name) = s.parse::<RepoName>() {
        let _ = name.namespace();
    }
    let _ = s.parse::<Role>();
    let _ = vigil_pypi::names::valid_name(s);
    let _ = vigil_pypi::names::normalize(s);
    let _ = vigil_pypi::names::normalize_version(s);
    let _ = vigil_pypi::names::check_filename(s, project, version);
    let _ = vigil_cargo::names::valid_name(s);
});
