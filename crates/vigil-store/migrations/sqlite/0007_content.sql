-- The format-neutral content model: a repository has a format and settings; its packages have versions; files
-- (assets) sit at paths and are content-addressed blobs. OCI keeps its own tables (manifests, tags, referrers,
-- repo_blobs) for what only OCI has; its repositories are format 'oci' here.
ALTER TABLE repositories ADD COLUMN format TEXT NOT NULL DEFAULT 'oci';
ALTER TABLE repositories ADD COLUMN allow_overwrite INTEGER NOT NULL DEFAULT 0;
-- 1 when created explicitly (`vigil repo create`, the admin API); 0 when a first push created it.
ALTER TABLE repositories ADD COLUMN declared INTEGER NOT NULL DEFAULT 0;

-- A version of a package with its format's metadata (an npm version document, a crate's index line, ...).
CREATE TABLE package_versions (
    repo_id    INTEGER NOT NULL REFERENCES repositories(id),
    package    TEXT NOT NULL,
    version    TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, package, version)
) WITHOUT ROWID;

-- A file at a path of a repository, optionally belonging to a package version. The bytes are the blob `digest`;
-- garbage collection keeps every blob an asset names.
CREATE TABLE assets (
    repo_id    INTEGER NOT NULL REFERENCES repositories(id),
    path       TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES blobs(digest),
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    package    TEXT,
    version    TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, path)
) WITHOUT ROWID;
CREATE INDEX assets_by_digest ON assets (digest);
CREATE INDEX assets_by_version ON assets (repo_id, package, version) WHERE package IS NOT NULL;
