-- Registry metadata and the journal. Times are milliseconds since the Unix epoch.
CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Blobs known to be stored, whichever repositories hold them.
CREATE TABLE blobs (
    digest         TEXT PRIMARY KEY,
    size           INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_linked_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Which repository holds which blob: a digest is served only through a repository that holds it.
CREATE TABLE repo_blobs (
    repo_id   INTEGER NOT NULL REFERENCES repositories(id),
    digest    TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;

CREATE TABLE manifests (
    repo_id       INTEGER NOT NULL REFERENCES repositories(id),
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    content       BLOB NOT NULL,
    subject       TEXT,
    artifact_type TEXT,
    annotations   TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifests_by_subject ON manifests (repo_id, subject) WHERE subject IS NOT NULL;

-- What each manifest references; garbage collection keeps every blob named here.
CREATE TABLE manifest_refs (
    repo_id         INTEGER NOT NULL,
    manifest_digest TEXT NOT NULL,
    target_digest   TEXT NOT NULL,
    is_manifest     INTEGER NOT NULL,
    PRIMARY KEY (repo_id, manifest_digest, target_digest),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX manifest_refs_by_target ON manifest_refs (target_digest);

CREATE TABLE tags (
    repo_id    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE uploads (
    id               TEXT PRIMARY KEY,
    repo             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finishing_digest TEXT
) WITHOUT ROWID;
CREATE INDEX uploads_by_finishing ON uploads (finishing_digest) WHERE finishing_digest IS NOT NULL;

-- The system of record for the audit trail. seq is assigned inside the writing transaction: gapless, commit order.
CREATE TABLE journal (
    seq   INTEGER PRIMARY KEY,
    ts    INTEGER NOT NULL,
    event BLOB NOT NULL
);
