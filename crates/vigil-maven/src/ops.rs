//! The Maven repository protocol's operations, each with its one description. NORA's actions: `push` (a
//! deploy), `pull` (a download), `list` (metadata), `delete`. Quay kinds where Quay has one (`push_repo`,
//! `pull_repo`), vigil's own otherwise (listed in `docs/maven.md`).

use vigil_core::{Action, Description, Format, Operation, Requirement};

const MAVEN: Option<Format> = Some(Format::Maven);
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);

/// `PUT <group>/<artifact>/<version>/<file>`: a jar, pom, signature … (`push`, or `overwrite` where allowed).
pub const PUT_FILE: Operation = Operation::new(&Description::change("PutMavenFile", MAVEN, "push", "push_repo", PUSH));
/// `GET`/`HEAD` of a file.
pub const GET_FILE: Operation = Operation::new(&Description::read("GetMavenFile", MAVEN, "pull", "pull_repo", PULL));
/// `PUT <file>.sha1|.md5|.sha256|.sha512`: checked against the stored file, not stored (vigil serves its own).
pub const PUT_CHECKSUM: Operation =
    Operation::new(&Description::change("PutMavenChecksum", MAVEN, "push", "verify_checksum", PUSH));
/// `GET <file>.sha1|…`
pub const GET_CHECKSUM: Operation =
    Operation::new(&Description::read("GetMavenChecksum", MAVEN, "pull", "get_checksum", PULL));
/// `GET …/maven-metadata.xml` (and its checksums), written by vigil from what is stored.
pub const GET_METADATA: Operation =
    Operation::new(&Description::read("GetMavenMetadata", MAVEN, "list", "list_versions", PULL));
/// `PUT …/maven-metadata.xml`: checked (well-formed, the coordinates of its path), then dropped.
pub const PUT_METADATA: Operation =
    Operation::new(&Description::change("PutMavenMetadata", MAVEN, "push", "put_metadata", PUSH));
/// `DELETE <file>`: an administrator removes a file.
pub const DELETE_FILE: Operation =
    Operation::new(&Description::change("DeleteMavenFile", MAVEN, "delete", "delete_file", DELETE));

pub const ALL: &[Operation] =
    &[PUT_FILE, GET_FILE, PUT_CHECKSUM, GET_CHECKSUM, GET_METADATA, PUT_METADATA, DELETE_FILE];

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(super::ALL).unwrap();
    }
}
