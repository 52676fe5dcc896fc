//! The Cargo registry protocol's operations, each with its one description. NORA's actions: `push` (a publish),
//! `pull` (a download), `list` (index and API reads); yanking is vigil's own `yank`/`unyank`. Quay kinds where
//! Quay has one (`push_repo`, `pull_repo`), vigil's own otherwise (listed in `docs/cargo.md`).

use vigil_core::{Action, Description, Format, Operation, Requirement};

const CARGO: Option<Format> = Some(Format::Cargo);
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);

/// `GET index/config.json`: where downloads and the API are, and whether they need a token.
pub const CONFIG: Operation =
    Operation::new(&Description::read("GetCargoConfig", CARGO, "list", "get_registry_config", PULL));
/// `GET index/<prefix>/<name>`: one line per version.
pub const INDEX_FILE: Operation =
    Operation::new(&Description::read("GetCargoIndexFile", CARGO, "list", "list_versions", PULL));
/// `PUT api/v1/crates/new`: `cargo publish`.
pub const PUBLISH: Operation =
    Operation::new(&Description::change("PublishCargoCrate", CARGO, "push", "push_repo", PUSH));
/// `GET api/v1/crates/<name>/<version>/download`
pub const DOWNLOAD: Operation =
    Operation::new(&Description::read("DownloadCargoCrate", CARGO, "pull", "pull_repo", PULL));
/// `DELETE api/v1/crates/<name>/<version>/yank`
pub const YANK: Operation =
    Operation::new(&Description::change("YankCargoVersion", CARGO, "yank", "yank_version", DELETE));
/// `PUT api/v1/crates/<name>/<version>/unyank`
pub const UNYANK: Operation =
    Operation::new(&Description::change("UnyankCargoVersion", CARGO, "unyank", "unyank_version", DELETE));
/// `GET api/v1/crates/<name>/owners`: who published the crate first.
pub const OWNERS: Operation = Operation::new(&Description::read("ListCargoOwners", CARGO, "list", "list_owners", PULL));
/// `PUT`/`DELETE api/v1/crates/<name>/owners`: refused, since who may publish is vigil's grants.
pub const CHANGE_OWNERS: Operation =
    Operation::new(&Description::change("ChangeCargoOwners", CARGO, "owner", "change_owners", PUSH));
/// `GET api/v1/crates?q=`: `cargo search`.
pub const SEARCH: Operation =
    Operation::new(&Description::read("SearchCargoCrates", CARGO, "list", "search_packages", PULL));

pub const ALL: &[Operation] = &[CONFIG, INDEX_FILE, PUBLISH, DOWNLOAD, YANK, UNYANK, OWNERS, CHANGE_OWNERS, SEARCH];

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(super::ALL).unwrap();
    }
}
