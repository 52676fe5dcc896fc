//! The names PyPI's clients agree on: project names and their PEP 503 normal form, PEP 440 versions in their
//! normal form, and distribution file names (sdists and wheels) that must name the project and version they are
//! uploaded as. Everything that reaches storage as a path passed through here.

const MAX_NAME: usize = 200;
const MAX_VERSION: usize = 100;
const MAX_FILENAME: usize = 255;

/// A valid project name (PEP 508: letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit).
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a project name is 1 to {MAX_NAME} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || !ok_edge(name.chars().next())
        || !ok_edge(name.chars().last())
    {
        return Err(format!(
            "invalid project name {name:?}: letters, digits, '.', '_' and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// PEP 503's normal form: lower case, every run of `.`, `_`, `-` one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "._-".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Reads the digits at the front of `s`, returning them without leading zeros and the rest.
fn number(s: &str) -> Option<(String, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let digits = s[..end].trim_start_matches('0');
    Some((if digits.is_empty() { "0".to_owned() } else { digits.to_owned() }, &s[end..]))
}

fn strip_separator(s: &str) -> &str {
    s.strip_prefix(['.', '_', '-']).unwrap_or(s)
}

/// A number after an optional separator, `0` when absent (`rc`, `rc1`, `rc.1`, `rc-1`).
fn implicit_number(s: &str) -> (String, &str) {
    match number(strip_separator(s)) {
        Some(found) => found,
        None => ("0".to_owned(), s),
    }
}

/// The PEP 440 normal form of `version` (`1.0.0-RC1` → `1.0.0rc1`, `1.0-post2` → `1.0.post2`, `v2` → `2`), or
/// why it is not a version.
pub fn normalize_version(version: &str) -> Result<String, String> {
    let invalid = || format!("invalid version {version:?}: not a PEP 440 version");
    if version.is_empty() || version.len() > MAX_VERSION {
        return Err(format!("a version is 1 to {MAX_VERSION} characters"));
    }
    let lower = version.trim().to_ascii_lowercase();
    let mut s = lower.strip_prefix('v').unwrap_or(&lower);
    let mut out = String::new();
    // Epoch and release: N! N(.N)*
    let (first, rest) = number(s).ok_or_else(invalid)?;
    s = rest;
    if let Some(rest) = s.strip_prefix('!') {
        if first != "0" {
            out.push_str(&first);
            out.push('!');
        }
        let (n, rest) = number(rest).ok_or_else(invalid)?;
        out.push_str(&n);
        s = rest;
    } else {
        out.push_str(&first);
    }
    while let Some((n, rest)) = s.strip_prefix('.').and_then(number) {
        out.push('.');
        out.push_str(&n);
        s = rest;
    }
    // Pre-release: [-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?N?
    let pre = strip_separator(s);
    let spellings = [
        ("alpha", "a"),
        ("a", "a"),
        ("beta", "b"),
        ("b", "b"),
        ("preview", "rc"),
        ("pre", "rc"),
        ("rc", "rc"),
        ("c", "rc"),
    ];
    if let Some((rest, short)) = spellings.iter().find_map(|(long, short)| pre.strip_prefix(long).map(|r| (r, short))) {
        let (n, rest) = implicit_number(rest);
        out.push_str(short);
        out.push_str(&n);
        s = rest;
    }
    // Post-release: -N, or [-_.]?(post|rev|r)[-_.]?N?
    if let Some((n, rest)) = s.strip_prefix('-').and_then(number) {
        out.push_str(".post");
        out.push_str(&n);
        s = rest;
    } else {
        let post = strip_separator(s);
        if let Some(rest) = ["post", "rev", "r"].iter().find_map(|p| post.strip_prefix(p)) {
            let (n, rest) = implicit_number(rest);
            out.push_str(".post");
            out.push_str(&n);
            s = rest;
        }
    }
    // Development release: [-_.]?dev[-_.]?N?
    if let Some(rest) = strip_separator(s).strip_prefix("dev") {
        let (n, rest) = implicit_number(rest);
        out.push_str(".dev");
        out.push_str(&n);
        s = rest;
    }
    // Local version: +label([-_.]label)*
    if let Some(local) = s.strip_prefix('+') {
        let parts: Vec<&str> = local.split(['.', '_', '-']).collect();
        if parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(invalid());
        }
        out.push('+');
        out.push_str(&parts.join("."));
        s = "";
    }
    if !s.is_empty() {
        return Err(invalid());
    }
    Ok(out)
}

/// What kind of distribution a file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sdist,
    Wheel,
}

/// Checks that `filename` is a distribution of `project` at `version` (both as uploaded, compared in normal
/// form) and a plain file name; returns its kind.
pub fn check_filename(filename: &str, project: &str, version: &str) -> Result<Kind, String> {
    if filename.is_empty()
        || filename.len() > MAX_FILENAME
        || filename.starts_with('.')
        || filename.chars().any(|c| c.is_control() || "/\\:".contains(c))
    {
        return Err(format!("invalid file name {filename:?}"));
    }
    let (kind, stem) = if let Some(stem) = filename.strip_suffix(".whl") {
        (Kind::Wheel, stem)
    } else if let Some(stem) = filename.strip_suffix(".tar.gz").or_else(|| filename.strip_suffix(".zip")) {
        (Kind::Sdist, stem)
    } else {
        return Err(format!("{filename:?} is not a distribution: a wheel (.whl) or an sdist (.tar.gz, .zip)"));
    };
    let wrong = || format!("the file {filename:?} is not a distribution of {project} {version}");
    let (name, file_version) = match kind {
        // name-version-[build-]python-abi-platform, the name's separators written as `_`.
        Kind::Wheel => {
            let parts: Vec<&str> = stem.split('-').collect();
            if parts.len() != 5 && parts.len() != 6 {
                return Err(format!("{filename:?} is not a wheel name (name-version-python-abi-platform.whl)"));
            }
            (parts[0].to_owned(), parts[1].to_owned())
        }
        // name-version: the version is after the last `-` (names may hold dashes, versions may not).
        Kind::Sdist => {
            let (name, v) = stem.rsplit_once('-').ok_or_else(wrong)?;
            (name.to_owned(), v.to_owned())
        }
    };
    if normalize(&name) != normalize(project) {
        return Err(wrong());
    }
    if normalize_version(&file_version).ok() != normalize_version(version).ok() {
        return Err(wrong());
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_as_pep_503_says() {
        assert_eq!(normalize("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize("FRIENDLY._-BARD"), "friendly-bard");
        assert_eq!(normalize("friendly_bard"), "friendly-bard");
        valid_name("zope.interface").unwrap();
        for bad in ["", "-lead", "trail.", "has space", "a/b", "..", "ünï"] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_normalize_as_pep_440_says() {
        for (given, normal) in [
            ("1.0", "1.0"),
            ("v1.0.0", "1.0.0"),
            ("1.0.0-RC1", "1.0.0rc1"),
            ("1.0a", "1.0a0"),
            ("1.0.alpha.2", "1.0a2"),
            ("1.0-1", "1.0.post1"),
            ("1.0.post", "1.0.post0"),
            ("1.0-dev3", "1.0.dev3"),
            ("0!1.0", "1.0"),
            ("2!01.002", "2!1.2"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            ("1.0b2.post345.dev456", "1.0b2.post345.dev456"),
        ] {
            assert_eq!(normalize_version(given).as_deref(), Ok(normal), "{given}");
        }
        for bad in ["", "one", "1..0", "1.0-", "1.0+", "1.0+a/b", "1.0 beta", "../1"] {
            assert!(normalize_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names_must_be_the_release() {
        assert_eq!(check_filename("demo_pkg-1.0.0-py3-none-any.whl", "demo-pkg", "1.0.0"), Ok(Kind::Wheel));
        assert_eq!(check_filename("demo-pkg-1.0.0.tar.gz", "Demo.Pkg", "1.0.0"), Ok(Kind::Sdist));
        assert_eq!(check_filename("demo_pkg-1.0-1-py3-none-any.whl", "demo-pkg", "1.0"), Ok(Kind::Wheel));
        for (file, project, version) in [
            ("other-1.0.0.tar.gz", "demo", "1.0.0"),
            ("demo-1.0.1.tar.gz", "demo", "1.0.0"),
            ("demo-1.0.0.exe", "demo", "1.0.0"),
            ("../demo-1.0.0.tar.gz", "demo", "1.0.0"),
            ("demo-1.0.0-py3.whl", "demo", "1.0.0"),
            (".demo-1.0.0.tar.gz", "demo", "1.0.0"),
        ] {
            assert!(check_filename(file, project, version).is_err(), "{file}");
        }
    }
}
