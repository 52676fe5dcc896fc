-- Audit sink positions. An enforced sink's row commits in the same transaction as the journal records it was
-- given, so after a crash the file is cut back to `offset` (bytes the journal never committed are dropped);
-- `file_id` (the inode) tells whether the live file is still the one the row describes or a newer one started
-- by a rotation whose first batch never committed. A best-effort sink's row is its delivery cursor.
CREATE TABLE audit_sinks (
    name    TEXT PRIMARY KEY,
    path    TEXT NOT NULL,
    file_id INTEGER NOT NULL,
    offset  INTEGER NOT NULL,
    through INTEGER NOT NULL
);

-- Small facts the server keeps between starts (the audit configuration last started with, to record changes).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
