-- The trust changefeed (DTR/Notary): one row per tag pushed or moved (`update`) and per tag removed (`deletion`),
-- written in the same transaction as the change and its journal event. `seq` is that event's journal sequence
-- number; `sub` numbers the rows of one event (a manifest delete removing several tags), so (seq, sub) is the
-- record's id and the feed is gapless and commit-ordered like the journal.
CREATE TABLE changefeed (
    seq        INTEGER NOT NULL,
    sub        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    gun        TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    sha256     TEXT    NOT NULL,
    category   TEXT    NOT NULL CHECK (category IN ('update', 'deletion')),
    PRIMARY KEY (seq, sub)
) WITHOUT ROWID;

CREATE INDEX changefeed_by_gun ON changefeed (gun, seq, sub);
