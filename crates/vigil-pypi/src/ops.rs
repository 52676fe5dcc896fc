//! The PyPI protocol's operations, each with its one description. NORA's actions: `push` (an upload), `pull` (a
//! download), `list` (index pages); yanking is vigil's own `yank`/`unyank` (PEP 592). Quay kinds where Quay has
//! one (`push_repo`, `pull_repo`), vigil's own otherwise (listed in `docs/pypi.md`).

use vigil_core::{Action, Description, Format, Operation, Requirement};

const PYPI: Option<Format> = Some(Format::Pypi);
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);

/// `POST /`: twine's upload (`:action=file_upload`, multipart).
pub const UPLOAD: Operation = Operation::new(&Description::change("UploadPypiFile", PYPI, "push", "push_repo", PUSH));
/// `GET simple/`: every project of the index.
pub const LIST_PROJECTS: Operation =
    Operation::new(&Description::read("ListPypiProjects", PYPI, "list", "list_packages", PULL));
/// `GET simple/<project>/`: the project's files (PEP 503 HTML or PEP 691 JSON).
pub const PROJECT_PAGE: Operation =
    Operation::new(&Description::read("GetPypiProject", PYPI, "list", "list_versions", PULL));
/// `GET files/<project>/<version>/<file>`
pub const DOWNLOAD: Operation = Operation::new(&Description::read("GetPypiFile", PYPI, "pull", "pull_repo", PULL));
/// `POST -/yank/<project>/<version>`: the release stays installable by exact pin only (PEP 592).
pub const YANK: Operation =
    Operation::new(&Description::change("YankPypiRelease", PYPI, "yank", "yank_version", DELETE));
/// `DELETE -/yank/<project>/<version>`
pub const UNYANK: Operation =
    Operation::new(&Description::change("UnyankPypiRelease", PYPI, "unyank", "unyank_version", DELETE));

pub const ALL: &[Operation] = &[UPLOAD, LIST_PROJECTS, PROJECT_PAGE, DOWNLOAD, YANK, UNYANK];

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(super::ALL).unwrap();
    }
}
