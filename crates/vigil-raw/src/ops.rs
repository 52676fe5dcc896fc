//! The raw protocol's operations, each with its one description. NORA's actions: `pull`, `push`, `delete`,
//! and `overwrite` for a push that replaced other content (decided per request, from what the write replaced).

use vigil_core::{Action, Description, Format, Operation, Requirement};

const RAW: Option<Format> = Some(Format::Raw);
const PULL: Requirement = Requirement::Repository(Action::Pull);

/// `GET /raw/<ns>/<repo>/<path>`
pub const GET_FILE: Operation = Operation::new(&Description::read("GetRawFile", RAW, "pull", "pull_repo", PULL));
/// `HEAD /raw/<ns>/<repo>/<path>`
pub const HEAD_FILE: Operation = Operation::new(&Description::read("HeadRawFile", RAW, "pull", "head_file", PULL));
/// `GET /raw/<ns>/<repo>/<folder>/`
pub const LIST_FOLDER: Operation = Operation::new(&Description::read("ListRawFolder", RAW, "list", "list_files", PULL));
/// `PUT /raw/<ns>/<repo>/<path>`
pub const PUT_FILE: Operation =
    Operation::new(&Description::change("PutRawFile", RAW, "push", "push_repo", Requirement::Repository(Action::Push)));
/// `DELETE /raw/<ns>/<repo>/<path>`
pub const DELETE_FILE: Operation = Operation::new(&Description::change(
    "DeleteRawFile",
    RAW,
    "delete",
    "delete_file",
    Requirement::Repository(Action::Delete),
));

pub const ALL: &[Operation] = &[GET_FILE, HEAD_FILE, LIST_FOLDER, PUT_FILE, DELETE_FILE];

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(super::ALL).unwrap();
    }
}
