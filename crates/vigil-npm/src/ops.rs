//! The npm protocol's operations, each with its one description. NORA's actions: `pull` (a tarball), `push` (a
//! publish), `delete` (an unpublish); a packument is a listing of versions, like OCI's tag list. Quay kinds where
//! Quay has one (`pull_repo`, `push_repo`, `create_tag`, `delete_tag`), vigil's own otherwise (listed in
//! `docs/npm.md`).

use vigil_core::{Action, Description, Format, Operation, Requirement};

const NPM: Option<Format> = Some(Format::Npm);
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);

/// `GET -/ping`: npm's connectivity check (`npm ping`), answered to anyone.
pub const PING: Operation = Operation::new(&Description::read("NpmPing", NPM, "ping", "ping", Requirement::None));
/// `GET -/whoami`
pub const WHOAMI: Operation =
    Operation::new(&Description::read("NpmWhoami", NPM, "whoami", "whoami", Requirement::Authenticated));
/// `PUT -/user/org.couchdb.user:<name>`: `npm login` / `npm adduser` with a password, answered with a new API
/// token. Anyone may try; the handler checks the password.
pub const LOGIN: Operation =
    Operation::new(&Description::change("NpmLogin", NPM, "login", "npm_login", Requirement::None));
/// `DELETE -/user/token/<token>`: `npm logout` revokes the token it presents.
pub const LOGOUT: Operation = Operation::new(&Description::change(
    "NpmLogout",
    NPM,
    "logout",
    "revoke_app_specific_token",
    Requirement::Authenticated,
));
/// `GET -/v1/search?text=`
pub const SEARCH: Operation = Operation::new(&Description::read("NpmSearch", NPM, "list", "search_packages", PULL));
/// `GET <pkg>`: the packument (full or abbreviated).
pub const GET_PACKUMENT: Operation =
    Operation::new(&Description::read("GetNpmPackument", NPM, "list", "list_versions", PULL));
/// `GET <pkg>/<version or tag>`: one version's manifest.
pub const GET_VERSION: Operation =
    Operation::new(&Description::read("GetNpmVersion", NPM, "list", "get_version", PULL));
/// `GET <pkg>/-/<file>.tgz`
pub const GET_TARBALL: Operation = Operation::new(&Description::read("GetNpmTarball", NPM, "pull", "pull_repo", PULL));
/// `PUT <pkg>`: a publish (with an attachment), or a metadata change such as `npm deprecate` (without).
pub const PUT_PACKAGE: Operation =
    Operation::new(&Description::change("PutNpmPackage", NPM, "push", "push_repo", PUSH));
/// `PUT <pkg>/-rev/<rev>`: `npm unpublish <pkg>@<version>` writes the packument back without the version.
pub const UNPUBLISH_VERSIONS: Operation =
    Operation::new(&Description::change("UnpublishNpmVersions", NPM, "delete", "delete_version", DELETE));
/// `DELETE <pkg>/-rev/<rev>`: `npm unpublish <pkg>` (every version).
pub const UNPUBLISH_PACKAGE: Operation =
    Operation::new(&Description::change("UnpublishNpmPackage", NPM, "delete", "delete_package", DELETE));
/// `DELETE <pkg>/-/<file>.tgz/-rev/<rev>`: the tarball of an unpublished version.
pub const DELETE_TARBALL: Operation =
    Operation::new(&Description::change("DeleteNpmTarball", NPM, "delete", "delete_file", DELETE));
/// `GET -/package/<pkg>/dist-tags`
pub const LIST_DIST_TAGS: Operation =
    Operation::new(&Description::read("ListNpmDistTags", NPM, "list", "list_tags", PULL));
/// `PUT -/package/<pkg>/dist-tags/<tag>`
pub const SET_DIST_TAG: Operation =
    Operation::new(&Description::change("SetNpmDistTag", NPM, "tag", "create_tag", PUSH));
/// `DELETE -/package/<pkg>/dist-tags/<tag>`: tags are a publisher's to manage, so write suffices.
pub const DELETE_DIST_TAG: Operation =
    Operation::new(&Description::change("DeleteNpmDistTag", NPM, "delete", "delete_tag", PUSH));

pub const ALL: &[Operation] = &[
    PING,
    WHOAMI,
    LOGIN,
    LOGOUT,
    SEARCH,
    GET_PACKUMENT,
    GET_VERSION,
    GET_TARBALL,
    PUT_PACKAGE,
    UNPUBLISH_VERSIONS,
    UNPUBLISH_PACKAGE,
    DELETE_TARBALL,
    LIST_DIST_TAGS,
    SET_DIST_TAG,
    DELETE_DIST_TAG,
];

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(super::ALL).unwrap();
    }
}
