//! The trust changefeed's records and queries (DTR/Notary semantics), stored beside the journal.

/// One changefeed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The journal sequence number of the change's event.
    pub seq: u64,
    /// Which of that event's records (0 for the first; a manifest delete removing k tags has k records).
    pub sub: u32,
    pub created_ms: i64,
    /// The repository.
    pub gun: String,
    /// Counts the repository's updates (1, 2, ...); 0 for a deletion, as in Notary.
    pub version: u64,
    /// Hex SHA-256 of the manifest bytes of an update; empty for a deletion.
    pub sha256: String,
    pub deletion: bool,
}

impl ChangeRecord {
    /// The record's id as clients see it: `seq`, or `seq.sub` for the further records of one event.
    pub fn id(&self) -> String {
        if self.sub == 0 {
            self.seq.to_string()
        } else {
            format!("{}.{}", self.seq, self.sub)
        }
    }
}

/// A position in the feed: after (or before) the record `(seq, sub)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangeCursor {
    pub seq: u64,
    pub sub: u32,
}

impl ChangeCursor {
    /// Parses an id written by [`ChangeRecord::id`].
    pub fn parse(id: &str) -> Option<ChangeCursor> {
        let (seq, sub) = match id.split_once('.') {
            Some((s, k)) => (s, k.parse().ok()?),
            None => (id, 0),
        };
        if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ChangeCursor { seq: seq.parse().ok()?, sub })
    }
}

/// Which records a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangePage {
    /// The first `n` records after the cursor, oldest first.
    After(ChangeCursor, u32),
    /// The last `n` records before the cursor (`None`: before the end), returned oldest first.
    Before(Option<ChangeCursor>, u32),
}

/// What a registry change adds to the feed, known before the transaction runs.
#[derive(Debug, Clone)]
pub(crate) enum FeedIntent {
    Update {
        gun: String,
        sha256: String,
    },
    DeleteTag {
        gun: String,
    },
    /// One deletion per tag the manifest delete removed (known once it ran).
    DeleteManifest {
        gun: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let r = |seq, sub| ChangeRecord {
            seq,
            sub,
            created_ms: 0,
            gun: "a/b".into(),
            version: 0,
            sha256: String::new(),
            deletion: true,
        };
        assert_eq!(r(17, 0).id(), "17");
        assert_eq!(r(17, 2).id(), "17.2");
        assert_eq!(ChangeCursor::parse("17.2"), Some(ChangeCursor { seq: 17, sub: 2 }));
        assert_eq!(ChangeCursor::parse("17"), Some(ChangeCursor { seq: 17, sub: 0 }));
        for bad in ["", "-1", "x", "1.x", "+3", "1.2.3"] {
            assert_eq!(ChangeCursor::parse(bad), None, "{bad}");
        }
    }
}
