-- The query index over the journal: one row per event, the fields the query APIs filter and group by. Written by
-- the indexer that follows the journal (rebuildable from the journal with `vigil audit reindex`); the event itself
-- stays in `journal`. `settings.audit_indexed_through` records how far it got.
CREATE TABLE audit_index (
    seq         INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    status      INTEGER,
    namespace   TEXT,
    repository  TEXT,
    user_name   TEXT,
    remote_addr TEXT,
    request_id  TEXT
);

CREATE INDEX audit_index_by_ts         ON audit_index (ts);
CREATE INDEX audit_index_by_repository ON audit_index (repository, ts);
CREATE INDEX audit_index_by_namespace  ON audit_index (namespace, ts);
CREATE INDEX audit_index_by_user       ON audit_index (user_name, ts);
