-- Per-field indexes ordered by seq (SQLite appends the rowid, which is `seq`, to every index): a page of one
-- repository, namespace or user newest first reads only that page's rows. Time ranges are turned into seq
-- ranges first (journal timestamps never decrease along the sequence), so the old `(field, ts)` indexes, which
-- made SQLite read and sort a whole day of the repository for a page of 100, go.
DROP INDEX audit_index_by_repository;
DROP INDEX audit_index_by_namespace;
DROP INDEX audit_index_by_user;
CREATE INDEX audit_index_by_repository ON audit_index (repository);
CREATE INDEX audit_index_by_namespace  ON audit_index (namespace);
CREATE INDEX audit_index_by_user       ON audit_index (user_name);

-- Event counts per hour and per combination of the fields aggregates group and filter by most: what a long
-- aggregate reads instead of every index row. Maintained with the index in the writer's transaction (added to
-- when rows are indexed, subtracted from when retention prunes them, emptied on reset), so it always counts
-- exactly the index's rows. Text fields hold '' for "none": NULLs in a key would never conflict.
CREATE TABLE audit_rollup (
    hour       INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    repository TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (hour, kind, action, outcome, namespace, repository, user_name)
) WITHOUT ROWID;

INSERT INTO audit_rollup (hour, kind, action, outcome, namespace, repository, user_name, n)
SELECT (ts / 3600000) * 3600000, kind, action, outcome, COALESCE(namespace, ''), COALESCE(repository, ''),
       COALESCE(user_name, ''), COUNT(*)
FROM audit_index
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- The same counts without namespace, repository and user: a few dozen rows an hour whatever the spread of
-- repositories and users, for aggregates over the whole log.
CREATE TABLE audit_rollup_kinds (
    hour    INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (hour, kind, action, outcome)
) WITHOUT ROWID;

INSERT INTO audit_rollup_kinds (hour, kind, action, outcome, n)
SELECT hour, kind, action, outcome, SUM(n) FROM audit_rollup GROUP BY 1, 2, 3, 4;

-- A repository's (or a namespace's) hours without reading every other repository's.
CREATE INDEX audit_rollup_by_repository ON audit_rollup (repository, hour);
CREATE INDEX audit_rollup_by_namespace  ON audit_rollup (namespace, hour);
