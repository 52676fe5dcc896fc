//! The package formats a repository can hold. Each is served by its own protocol under its own URL prefix; the
//! audit record names it in NORA's `registry` field.

use strum::{Display, EnumString, IntoStaticStr, VariantArray};

/// A repository's format, written in lower case (`oci`, `npm`, `pypi`, `maven`, `cargo`, `raw`) in configuration,
/// on the command line and in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum Format {
    /// OCI images and artifacts (and Docker's manifests): the distribution API under `/v2`.
    Oci,
    Npm,
    Pypi,
    Maven,
    Cargo,
    /// Plain files at paths.
    Raw,
}

impl Format {
    /// The name itself: `oci`, `npm`, ...
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// NORA's `registry` value: the format's name, except that OCI is `docker` (NORA's word, which existing `jq`
    /// filters and Filebeat pipelines match).
    pub fn registry(self) -> &'static str {
        match self {
            Format::Oci => "docker",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_oci_is_docker_for_nora() {
        for f in Format::VARIANTS {
            assert_eq!(f.as_str().parse::<Format>(), Ok(*f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(Format::Oci.registry(), "docker");
        assert_eq!(Format::Raw.registry(), "raw");
        assert!("Docker".parse::<Format>().is_err() && "".parse::<Format>().is_err());
    }
}
