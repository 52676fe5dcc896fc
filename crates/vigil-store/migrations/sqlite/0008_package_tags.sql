-- Named pointers at a package's versions (npm's dist-tags: `latest`, `next`, ...). A tag names one version of
-- its package; removing the version removes the tags that named it.
CREATE TABLE package_tags (
    repo_id    INTEGER NOT NULL REFERENCES repositories(id),
    package    TEXT NOT NULL,
    tag        TEXT NOT NULL,
    version    TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, package, tag)
) WITHOUT ROWID;
