//! Checking a copy of the journal against the tree: the journal table itself, or the JSONL files of a native-format
//! sink. The trusted side is the leaf hashes (already authenticated against a signed checkpoint); the copy is
//! streamed once, each entry hashed and compared with the leaf it should be, and every problem is reported at the
//! first sequence number it affects, with what is wrong: modified, missing, inserted, duplicated, reordered,
//! truncated. Nothing of the copy is kept but a cursor, a bounded list of gaps, and the hashes of the entries since
//! the last one that matched its leaf (none, unless something is wrong).
//!
//! How an entry is placed:
//!
//! - Its own `seq` (the first `"seq":` key of its bytes; in native entries it precedes every nested object, and a
//!   quote inside a string is always escaped, so the first match is the key) names the leaf to check. If the bytes
//!   hash to that leaf, the entry is authentic and its seq is certain, wherever it sits in the copy. Authentic
//!   entries then explain everything by their order alone: the expected seq is fine; a higher one leaves a gap
//!   (missing, or pruned, or filtered out); a lower one that falls into an earlier gap is reordered, any other lower
//!   one is a duplicate (no set of seen seqs is needed: everything below the cursor that is not in a gap was seen).
//! - An entry that matches no leaf (a changed byte, possibly in its `seq`; a foreign entry) is placed by its
//!   neighbours, since its `seq` may be the changed byte: it waits, with any unmatched entries after it, for the
//!   next entry that matches. If that one is the entry expected now, the run was inserted; if it is `k` entries
//!   later, the run replaced (modified) those `k`, and anything more in it was inserted. The entry's own seq only
//!   chooses among open slots (a filtered copy), and a journal row's seq column places a row when nothing
//!   matching follows.
//!
//! Findings that are not errors: a gap at or below `pruned_through` (retention removed it), gaps in a `filtered`
//! copy, entries after the trusted tree's size (not checkpointed yet), and a file that is not in the native format
//! (NORA's six fields have no `seq`): such a file cannot be verified and its lines are skipped, unless native lines
//! follow in the same file, which no sink writes.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::hash::{leaf_hash, Hash};
use crate::store::TileStore;

/// The trusted leaf hashes: leaf `i` is the entry with seq `i + 1`.
pub trait TrustedLeaves {
    /// How many leaves there are.
    fn size(&self) -> u64;
    /// Appends leaves `from..from + n` to `out`.
    fn read_into(&self, from: u64, n: u64, out: &mut Vec<Hash>) -> io::Result<()>;
}

impl TrustedLeaves for [Hash] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_into(&self, from: u64, n: u64, out: &mut Vec<Hash>) -> io::Result<()> {
        let end = from.checked_add(n).filter(|&end| end <= self.len() as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("leaves {from}+{n} are not in a tree of {}", self.len()),
            )
        })?;
        out.extend_from_slice(&self[from as usize..end as usize]);
        Ok(())
    }
}

impl TrustedLeaves for Vec<Hash> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn read_into(&self, from: u64, n: u64, out: &mut Vec<Hash>) -> io::Result<()> {
        self.as_slice().read_into(from, n, out)
    }
}

impl TrustedLeaves for TileStore {
    fn size(&self) -> u64 {
        TileStore::size(self)
    }

    fn read_into(&self, from: u64, n: u64, out: &mut Vec<Hash>) -> io::Result<()> {
        out.extend(self.read(0, from, n)?);
        Ok(())
    }
}

impl<T: TrustedLeaves + ?Sized> TrustedLeaves for &T {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_into(&self, from: u64, n: u64, out: &mut Vec<Hash>) -> io::Result<()> {
        (**self).read_into(from, n, out)
    }
}

/// What the caller knows about the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Only the first this many leaves are trusted (the signed checkpoint's size); default: all the source has.
    /// Entries after them are counted as unverified, not as errors.
    pub trusted_size: Option<u64>,
    /// The seq the copy must begin at (the journal: 1). `None`: wherever its first entry says (a sink file).
    pub starts_at: Option<u64>,
    /// The last seq the copy must hold (the journal: the checkpoint's size); ending earlier is truncation. Not
    /// checked for a filtered copy.
    pub ends_at: Option<u64>,
    /// Entries with seq `<=` this may be absent (retention pruned them): such a gap is reported as pruned, not
    /// missing.
    pub pruned_through: u64,
    /// The copy is a filtered sink: gaps are expected and not errors, but every entry present must still be the
    /// logged one, once, in order.
    pub filtered: bool,
    /// At most this many findings are kept in the report; the rest are counted.
    pub max_findings: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            trusted_size: None,
            starts_at: None,
            ends_at: None,
            pruned_through: 0,
            filtered: false,
            max_findings: 100,
        }
    }
}

impl ScanOptions {
    /// The journal table against a checkpoint of `size` entries: it must hold seqs 1..=size.
    pub fn journal(size: u64) -> Self {
        ScanOptions { trusted_size: Some(size), starts_at: Some(1), ends_at: Some(size), ..Self::default() }
    }

    /// Native-format sink files: they may start and end anywhere.
    pub fn sink() -> Self {
        Self::default()
    }
}

/// The kind of a [`Finding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Modified,
    Missing,
    Inserted,
    Duplicated,
    Reordered,
    Truncated,
    Pruned,
    NotVerifiable,
    Unverified,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Modified => "modified",
            Kind::Missing => "missing",
            Kind::Inserted => "inserted",
            Kind::Duplicated => "duplicated",
            Kind::Reordered => "reordered",
            Kind::Truncated => "truncated",
            Kind::Pruned => "pruned",
            Kind::NotVerifiable => "not verifiable",
            Kind::Unverified => "unverified",
        }
    }
}

/// One problem (or one informational fact) about the copy, at the first seq it affects. Files are numbered from 1
/// in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The entries at `from..=to` are not the logged ones (a changed byte, possibly in the `seq` field).
    Modified { from: u64, to: u64 },
    /// Entries `from..=to` are absent.
    Missing { from: u64, to: u64 },
    /// `count` entries that are not in the log, right after seq `after` (0: before everything).
    Inserted { after: u64, count: u64 },
    /// The authentic entry `seq` appears again, after seq `after`.
    Duplicated { seq: u64, after: u64 },
    /// The copy is out of order from seq `seq` on: an entry that belongs before it comes after seq `after`.
    Reordered { seq: u64, after: u64 },
    /// The copy ends before it must: entries `from..=to` are absent at its end.
    Truncated { from: u64, to: u64 },
    /// The last line of file `file`, the entry at `seq`, is torn: no trailing newline.
    Torn { seq: u64, file: usize },
    /// Entries `from..=to` (`count` of them) are absent at or below the pruning point: not an error.
    Pruned { from: u64, to: u64, count: u64 },
    /// File `file` is not in the native format (NORA's, say): its lines cannot be verified. Not an error.
    NotVerifiable { file: usize },
    /// File `file` starts with non-native lines but line `line` is a native entry: no sink writes that.
    Mixed { file: usize, line: u64 },
    /// `count` entries claiming seqs `from..=to`, after the trusted tree's `size` leaves, could not be checked yet.
    Unverified { from: u64, to: u64, count: u64, size: u64 },
}

impl Finding {
    pub fn kind(&self) -> Kind {
        match self {
            Finding::Modified { .. } => Kind::Modified,
            Finding::Missing { .. } => Kind::Missing,
            Finding::Inserted { .. } => Kind::Inserted,
            Finding::Duplicated { .. } => Kind::Duplicated,
            Finding::Reordered { .. } => Kind::Reordered,
            Finding::Truncated { .. } | Finding::Torn { .. } => Kind::Truncated,
            Finding::Pruned { .. } => Kind::Pruned,
            Finding::NotVerifiable { .. } | Finding::Mixed { .. } => Kind::NotVerifiable,
            Finding::Unverified { .. } => Kind::Unverified,
        }
    }

    /// The first seq it affects (leaf index + 1); 0 for a finding about a whole file.
    pub fn seq(&self) -> u64 {
        match *self {
            Finding::Duplicated { seq, .. } | Finding::Reordered { seq, .. } | Finding::Torn { seq, .. } => seq,
            Finding::Modified { from, .. }
            | Finding::Missing { from, .. }
            | Finding::Truncated { from, .. }
            | Finding::Pruned { from, .. }
            | Finding::Unverified { from, .. } => from,
            Finding::Inserted { after, .. } => after + 1,
            Finding::NotVerifiable { .. } | Finding::Mixed { .. } => 0,
        }
    }

    /// Whether the copy is wrong (as opposed to pruned, filtered, not checkpointed yet or in another format).
    pub fn is_error(&self) -> bool {
        !matches!(self, Finding::Pruned { .. } | Finding::NotVerifiable { .. } | Finding::Unverified { .. })
    }
}

fn seqs(f: &mut fmt::Formatter<'_>, from: u64, to: u64) -> fmt::Result {
    if from == to {
        write!(f, "seq {from}")
    } else {
        write!(f, "seqs {from}..={to}")
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Finding::Modified { from, to } if from == to => {
                write!(f, "seq {from}: modified (its bytes differ from the logged entry)")
            }
            Finding::Modified { from, to } => {
                write!(f, "seqs {from}..={to}: modified (their bytes differ from the logged entries)")
            }
            Finding::Missing { from, to } => {
                seqs(f, from, to)?;
                write!(f, ": missing ({} logged {} absent from the copy)", to - from + 1, entries(to - from + 1))
            }
            Finding::Inserted { after, count } => {
                match after {
                    0 => write!(f, "before seq 1: inserted (")?,
                    _ => write!(f, "after seq {after}: inserted (")?,
                }
                match count {
                    1 => write!(f, "an entry that is not in the log)"),
                    n => write!(f, "{n} entries that are not in the log)"),
                }
            }
            Finding::Duplicated { seq, after } => {
                write!(f, "seq {seq}: duplicated (it appears again after seq {after})")
            }
            Finding::Reordered { seq, after } => write!(
                f,
                "seq {seq}: reordered (the copy is out of order from here: an entry that belongs here comes after \
                 seq {after})"
            ),
            Finding::Truncated { from, to } => {
                seqs(f, from, to)?;
                write!(f, ": truncated (the copy ends before seq {from} but must reach seq {to})")
            }
            Finding::Torn { seq, file } => {
                write!(f, "seq {seq}: truncated (the last line of file {file} is torn: it has no trailing newline)")
            }
            Finding::Pruned { from, to, count } => {
                seqs(f, from, to)?;
                write!(f, ": pruned ({count} {} absent at or below the retention point; not an error)", entries(count))
            }
            Finding::NotVerifiable { file } => write!(
                f,
                "file {file}: not verifiable (its lines are not native audit entries, e.g. the NORA format: they \
                 carry no seq and do not hash to leaves); skipped"
            ),
            Finding::Mixed { file, line } => write!(
                f,
                "file {file}: altered (it starts with lines that are not native entries, yet line {line} is one; \
                 no sink writes both)"
            ),
            Finding::Unverified { from, to, count, size } => {
                seqs(f, from, to)?;
                write!(
                    f,
                    ": unverified ({count} {} after the trusted tree's {size}; check again after the next \
                     checkpoint)",
                    entries(count)
                )
            }
        }
    }
}

fn entries(n: u64) -> &'static str {
    if n == 1 {
        "entry"
    } else {
        "entries"
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// The first seq the copy holds (the first entry placed).
    pub first: Option<u64>,
    /// The highest seq the copy holds.
    pub last: Option<u64>,
    /// Entries read (journal rows, native lines).
    pub entries: u64,
    /// Entries that hashed to their leaf.
    pub verified: u64,
    /// Entries after the trusted tree's size.
    pub unverified: u64,
    /// Lines of files that are not verifiable.
    pub skipped: u64,
    /// Seqs absent from a filtered copy (not errors).
    pub absent: u64,
    /// The lowest and highest seq absent because pruned (not errors).
    pub pruned: Option<(u64, u64)>,
    /// False if some file was not in the native format.
    pub verifiable: bool,
    /// How many findings are errors, including omitted ones.
    pub errors: u64,
    /// Findings in seq order, at most [`ScanOptions::max_findings`].
    pub findings: Vec<Finding>,
    /// Findings left out of `findings`.
    pub omitted: u64,
}

impl ScanReport {
    /// No errors (pruned, filtered, unverified entries and non-native files are not errors: see `verifiable` and
    /// `unverified`).
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }

    /// No errors, every file native and every entry checked against a leaf.
    pub fn is_fully_verified(&self) -> bool {
        self.is_ok() && self.verifiable && self.unverified == 0
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_error())
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} read", self.entries, entries(self.entries))?;
        if let (Some(first), Some(last)) = (self.first, self.last) {
            write!(f, " (seq {first}..={last})")?;
        }
        write!(f, ", {} verified", self.verified)?;
        if self.unverified > 0 {
            write!(f, ", {} unverified", self.unverified)?;
        }
        if self.absent > 0 {
            write!(f, ", {} filtered out", self.absent)?;
        }
        if self.skipped > 0 {
            write!(f, ", {} lines not verifiable", self.skipped)?;
        }
        match self.errors {
            0 => write!(f, ": ok")?,
            1 => write!(f, ": 1 problem")?,
            n => write!(f, ": {n} problems")?,
        }
        for finding in &self.findings {
            write!(f, "\n  {finding}")?;
        }
        if self.omitted > 0 {
            write!(f, "\n  ... and {} more", self.omitted)?;
        }
        Ok(())
    }
}

/// One entry of the copy, as much as placing it needs.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// A journal row's seq column.
    pos: Option<u64>,
    /// The `seq` field of its bytes.
    claim: Option<u64>,
    /// The claim's digits were followed by something (for a torn line: they are not cut).
    claim_complete: bool,
    hash: Hash,
    /// The seq whose leaf it hashes to, if it does (its claim's or its row's).
    auth: Option<u64>,
    /// A file's last line without its newline.
    torn: bool,
    file: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoleKind {
    /// Absent entries that should be there (missing, or filtered out).
    Gap,
    /// Absent at or below the pruning point.
    Pruned,
    /// Before the first entry of a copy whose start is unknown.
    Unknown,
}

/// Seqs `lo..=hi` below the cursor that the copy has not shown yet.
#[derive(Debug, Clone, Copy)]
struct Hole {
    lo: u64,
    hi: u64,
    kind: HoleKind,
    /// A late entry already filled part of it (reported as reordered once).
    reordered: bool,
}

/// Gaps remembered for recognising late (reordered) entries; older ones are settled. A filtered copy has a gap
/// between most entries, so this bounds memory, at the price of calling an entry arriving more than this many
/// gaps late a duplicate.
const MAX_HOLES: usize = 4096;
/// Leaves read at once when the scan is sequential.
const WINDOW: u64 = 4096;
/// Unmatched entries held back at most, waiting for a matching one to place them.
const MAX_RUN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    Start,
    Native,
    Foreign { mixed: bool },
}

struct LeafCache {
    base: u64,
    window: Vec<Hash>,
    last_miss: u64,
    one: Vec<Hash>,
}

impl LeafCache {
    /// The leaf of `seq` (index `seq - 1`), if the trusted tree has it.
    fn get<L: TrustedLeaves + ?Sized>(&mut self, src: &L, size: u64, seq: u64) -> io::Result<Option<Hash>> {
        if seq == 0 || seq > size {
            return Ok(None);
        }
        let i = seq - 1;
        if i >= self.base && i - self.base < self.window.len() as u64 {
            return Ok(Some(self.window[(i - self.base) as usize]));
        }
        // A miss near the previous one means a sequential scan: read a whole window. A lone miss (a sparse,
        // filtered copy; a far claim) reads one leaf.
        let near = i.abs_diff(self.last_miss) < WINDOW;
        self.last_miss = i;
        if near {
            let base = i / WINDOW * WINDOW;
            self.window.clear();
            src.read_into(base, WINDOW.min(size - base), &mut self.window)?;
            self.base = base;
            Ok(Some(self.window[(i - base) as usize]))
        } else {
            self.one.clear();
            src.read_into(i, 1, &mut self.one)?;
            Ok(Some(self.one[0]))
        }
    }
}

/// A streaming scan: feed journal rows ([`Scanner::row`]) or sink files ([`Scanner::read_file`], or
/// [`Scanner::begin_file`] and [`Scanner::line`]) in order, then [`Scanner::finish`].
pub struct Scanner<'a, L: TrustedLeaves + ?Sized> {
    leaves: &'a L,
    opts: ScanOptions,
    size: u64,
    cache: LeafCache,
    /// The next seq expected: everything below it was placed or is in a hole.
    exp: u64,
    /// The copy's position is unknown (its start, or after a file that could not be verified): the next entry
    /// sets it, and what it skips is not missing.
    resume: bool,
    /// A torn line took this seq's place.
    torn_at: Option<u64>,
    holes: VecDeque<Hole>,
    /// Entries that matched no leaf, waiting for the next one that does: where that one is says how many of
    /// them replace logged entries and how many were inserted.
    run: VecDeque<Item>,
    file: usize,
    line: u64,
    file_state: FileState,
    pruned_count: u64,
    unverified_range: Option<(u64, u64)>,
    buf: Vec<u8>,
    report: ScanReport,
}

impl<'a, L: TrustedLeaves + ?Sized> Scanner<'a, L> {
    pub fn new(leaves: &'a L, opts: ScanOptions) -> Self {
        let size = opts.trusted_size.map_or(leaves.size(), |s| s.min(leaves.size()));
        let exp = opts.starts_at.unwrap_or(1).max(1);
        Scanner {
            leaves,
            size,
            cache: LeafCache { base: 0, window: Vec::new(), last_miss: 0, one: Vec::new() },
            exp,
            resume: opts.starts_at.is_none(),
            torn_at: None,
            holes: VecDeque::new(),
            run: VecDeque::new(),
            file: 0,
            line: 0,
            file_state: FileState::Start,
            pruned_count: 0,
            unverified_range: None,
            buf: Vec::new(),
            report: ScanReport {
                first: None,
                last: None,
                entries: 0,
                verified: 0,
                unverified: 0,
                skipped: 0,
                absent: 0,
                pruned: None,
                verifiable: true,
                errors: 0,
                findings: Vec::new(),
                omitted: 0,
            },
            opts,
        }
    }

    /// A journal row: its seq column and its bytes. Rows come in seq order.
    pub fn row(&mut self, seq: u64, bytes: &[u8]) -> io::Result<()> {
        let (claim, claim_complete) = parse_seq(bytes);
        let hash = leaf_hash(bytes);
        let auth = self.authenticate(Some(seq), claim, &hash)?;
        self.push(Item { pos: Some(seq), claim, claim_complete, hash, auth, torn: false, file: 0 })
    }

    /// The next file of a sink's (possibly rotated) set begins.
    pub fn begin_file(&mut self) {
        self.file += 1;
        self.line = 0;
        self.file_state = FileState::Start;
    }

    /// One line of the current file, with its trailing newline; without one it is torn (the file's last line).
    pub fn line(&mut self, line: &[u8]) -> io::Result<()> {
        if line.is_empty() {
            return Ok(());
        }
        if self.file == 0 {
            self.begin_file();
        }
        self.line += 1;
        let (bytes, torn) = match line.split_last() {
            Some((b'\n', rest)) => (rest, false),
            _ => (line, true),
        };
        let (claim, claim_complete) = parse_seq(bytes);
        match self.file_state {
            FileState::Native => {}
            // A torn first line cannot tell; it is reported as torn whatever it was.
            FileState::Start if torn || claim.is_some() || looks_native(bytes) => self.file_state = FileState::Native,
            FileState::Start => {
                // Not a native entry: the whole file is in another format. What it covers is unknown, so the
                // position is lost until the next native entry.
                self.file_state = FileState::Foreign { mixed: false };
                self.report.verifiable = false;
                self.report.skipped += 1;
                self.settle_run(None)?;
                self.settle_torn();
                self.resume = true;
                self.note(Finding::NotVerifiable { file: self.file });
                return Ok(());
            }
            FileState::Foreign { mixed } => {
                self.report.skipped += 1;
                if !mixed && (claim.is_some() || looks_native(bytes)) {
                    self.file_state = FileState::Foreign { mixed: true };
                    self.note(Finding::Mixed { file: self.file, line: self.line });
                }
                return Ok(());
            }
        }
        let hash = leaf_hash(bytes);
        let auth = self.authenticate(None, claim, &hash)?;
        self.push(Item { pos: None, claim, claim_complete, hash, auth, torn, file: self.file })
    }

    /// Reads one file of the set to its end.
    pub fn read_file<R: BufRead>(&mut self, mut reader: R) -> io::Result<()> {
        self.begin_file();
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    if let Err(e) = self.line(&buf) {
                        break Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf = buf;
        result
    }

    /// Ends the scan.
    pub fn finish(mut self) -> io::Result<ScanReport> {
        self.settle_run(None)?;
        self.settle_torn();
        let lost = self.resume && !self.report.verifiable;
        if let (Some(end), false, false) = (self.opts.ends_at, self.opts.filtered, lost) {
            let from = self.exp;
            if from <= end {
                let p = self.opts.pruned_through;
                if from <= p {
                    self.pruned(from, end.min(p));
                }
                if end > p {
                    self.note(Finding::Truncated { from: from.max(p + 1), to: end });
                }
            }
        }
        while let Some(hole) = self.holes.pop_front() {
            self.settle(hole);
        }
        if let Some((from, to)) = self.report.pruned {
            self.note(Finding::Pruned { from, to, count: self.pruned_count });
        }
        if let Some((from, to)) = self.unverified_range {
            self.note(Finding::Unverified { from, to, count: self.report.unverified, size: self.size });
        }
        self.report.findings.sort_by_key(Finding::seq);
        Ok(self.report)
    }

    fn authenticate(&mut self, pos: Option<u64>, claim: Option<u64>, hash: &Hash) -> io::Result<Option<u64>> {
        for seq in [claim, pos.filter(|&p| Some(p) != claim)].into_iter().flatten() {
            if self.cache.get(self.leaves, self.size, seq)?.is_some_and(|leaf| leaf == *hash) {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Takes an entry. One that matches its leaf is placed at once, after the run of unmatched ones before it,
    /// which it places.
    fn push(&mut self, item: Item) -> io::Result<()> {
        let Some(seq) = item.auth else {
            self.run.push_back(item);
            if self.run.len() > MAX_RUN {
                let e = self.run.pop_front().expect("the run is not empty");
                let next_claim = self.run.front().and_then(|n| n.claim);
                self.unmatched(e, None, 1, next_claim)?;
            }
            return Ok(());
        };
        self.settle_run(Some(seq))?;
        self.report.entries += 1;
        self.matched(seq, &item);
        Ok(())
    }

    fn matched(&mut self, seq: u64, e: &Item) {
        self.report.verified += 1;
        self.place(seq);
        if e.torn {
            self.note(Finding::Torn { seq, file: e.file });
        }
    }

    /// Places the run of unmatched entries, knowing the seq of the matching entry after it (`succ`), if any.
    fn settle_run(&mut self, succ: Option<u64>) -> io::Result<()> {
        while let Some(e) = self.run.pop_front() {
            let remaining = self.run.len() as u64 + 1;
            let next_claim = self.run.front().and_then(|n| n.claim);
            self.unmatched(e, succ, remaining, next_claim)?;
        }
        Ok(())
    }

    /// An entry that matches no leaf by its claim, `remaining - 1` more such entries, then `succ`.
    fn unmatched(&mut self, e: Item, succ: Option<u64>, remaining: u64, next_claim: Option<u64>) -> io::Result<()> {
        self.report.entries += 1;
        if !self.resume && self.cache.get(self.leaves, self.size, self.exp)? == Some(e.hash) {
            // The expected entry, though its claim did not say so (bytes that are not quite native).
            self.matched(self.exp, &e);
            return Ok(());
        }
        let succ = succ.filter(|&s| s >= self.exp || self.resume);
        if e.torn {
            let claim = e.claim.filter(|_| e.claim_complete);
            let seq = if self.resume {
                claim.or(succ.map(|s| s.saturating_sub(remaining))).unwrap_or(self.exp).max(1)
            } else if self.opts.filtered {
                claim.filter(|&c| c >= self.exp && c <= self.size).unwrap_or(self.exp)
            } else {
                self.required()
            };
            self.torn_at = Some(seq);
            self.seen(seq);
            self.note(Finding::Torn { seq, file: e.file });
            return Ok(());
        }
        if let Some(c) = e.pos.or(e.claim).filter(|&c| c > self.size) {
            // After the trusted tree. A journal row says so itself. A line cannot be if an entry of the tree
            // follows it, and if the copy should still be inside the tree (neither filtered nor at its end), a
            // changed seq is likelier, unless the next line continues the claim.
            let beyond = e.pos.is_some()
                || succ.is_none()
                    && (self.resume || self.opts.filtered || self.exp > self.size || next_claim == Some(c + 1));
            if beyond {
                self.unverified(c);
                return Ok(());
            }
        }
        self.unplaced(e, succ, remaining);
        Ok(())
    }

    /// An entry that matches no leaf, `remaining - 1` more such entries, then `succ` (at or after the cursor):
    /// modified or inserted, and where.
    fn unplaced(&mut self, e: Item, succ: Option<u64>, remaining: u64) {
        let hint = e.pos.or(e.claim);
        if self.resume {
            // Where the copy starts is unknown: the entry's own seq places it if it fits before `succ`.
            let fits = |c: u64| match succ {
                Some(s) => c >= 1 && (c + remaining == s || self.opts.filtered && c + remaining <= s),
                None => c >= 1,
            };
            match hint.filter(|&c| fits(c)) {
                Some(at) => self.modified(at),
                None => self.inserted(succ.map_or(self.exp - 1, |s| s - 1)),
            }
            return;
        }
        if self.exp > self.size {
            // The copy already holds the whole tree; this claims (or is) an entry of it that it is not.
            self.inserted(self.exp - 1);
            return;
        }
        let exp = self.exp;
        let req = self.required();
        let at = match succ {
            // Between the cursor and `succ` there are `open` entries that must be there: the run fills them
            // (modified), and what is left over of it was inserted.
            Some(s) => {
                let open = s.saturating_sub(req);
                if remaining > open {
                    self.inserted(req.min(s) - 1);
                    return;
                }
                // The entry's own seq says which open slot, if it leaves room for the rest of the run.
                hint.filter(|&g| g >= exp && g + remaining <= s).unwrap_or(req)
            }
            None => match e.pos {
                Some(p) if p >= exp => p,
                Some(_) => {
                    self.inserted(exp - 1);
                    return;
                }
                None if self.opts.filtered => e.claim.filter(|&c| c >= req).unwrap_or(req),
                None => req,
            },
        };
        self.modified(at);
    }

    fn inserted(&mut self, after: u64) {
        self.note(Finding::Inserted { after, count: 1 });
    }

    /// The first seq that must come next: the cursor, or after the pruned range.
    fn required(&self) -> u64 {
        self.exp.max(self.opts.pruned_through.saturating_add(1))
    }

    fn modified(&mut self, seq: u64) {
        if seq >= self.exp {
            self.jump(seq);
            self.exp = seq + 1;
        }
        self.seen(seq);
        self.note(Finding::Modified { from: seq, to: seq });
    }

    /// The authentic entry `seq`.
    fn place(&mut self, seq: u64) {
        if seq >= self.exp {
            self.jump(seq);
            self.exp = seq + 1;
        } else {
            self.resume = false;
            self.late(seq);
        }
        self.seen(seq);
    }

    /// An authentic entry below the cursor: it fills a hole (reordered) or was seen (duplicated).
    fn late(&mut self, seq: u64) {
        let i = self.holes.partition_point(|h| h.hi < seq);
        let Some(hole) = self.holes.get(i).copied().filter(|h| h.lo <= seq) else {
            self.note(Finding::Duplicated { seq, after: self.exp - 1 });
            return;
        };
        if !hole.reordered {
            let first = if hole.kind == HoleKind::Gap && !self.opts.filtered { hole.lo } else { seq };
            self.note(Finding::Reordered { seq: first, after: self.exp - 1 });
        }
        let filled = Hole { reordered: true, ..hole };
        if hole.lo == hole.hi {
            self.holes.remove(i);
        } else if seq == hole.lo {
            self.holes[i] = Hole { lo: seq + 1, ..filled };
        } else if seq == hole.hi {
            self.holes[i] = Hole { hi: seq - 1, ..filled };
        } else {
            self.holes[i] = Hole { hi: seq - 1, ..filled };
            self.holes.insert(i + 1, Hole { lo: seq + 1, ..filled });
        }
    }

    /// Moves the cursor up to `to`, remembering what it skips (but not a torn line's seq).
    fn jump(&mut self, to: u64) {
        let mut lo = self.exp;
        if let Some(t) = self.torn_at.take() {
            if t >= lo && t < to {
                self.skip(lo, t);
                lo = t + 1;
            }
        }
        self.skip(lo, to);
        self.exp = to;
        self.resume = false;
    }

    /// Seqs `lo..end` are not in the copy (so far).
    fn skip(&mut self, lo: u64, end: u64) {
        let end = end.min(self.size + 1);
        if lo >= end {
            return;
        }
        let hi = end - 1;
        let p = self.opts.pruned_through;
        if self.resume {
            self.hole(lo, hi, HoleKind::Unknown);
            return;
        }
        if lo <= p {
            self.hole(lo, hi.min(p), HoleKind::Pruned);
        }
        if hi > p {
            self.hole(lo.max(p + 1), hi, HoleKind::Gap);
        }
    }

    fn hole(&mut self, lo: u64, hi: u64, kind: HoleKind) {
        self.holes.push_back(Hole { lo, hi, kind, reordered: false });
        if self.holes.len() > MAX_HOLES {
            let oldest = self.holes.pop_front().expect("holes is not empty");
            self.settle(oldest);
        }
    }

    /// A hole that is final: what it means.
    fn settle(&mut self, hole: Hole) {
        let n = hole.hi - hole.lo + 1;
        match hole.kind {
            HoleKind::Unknown => {}
            HoleKind::Pruned => self.pruned(hole.lo, hole.hi),
            HoleKind::Gap if self.opts.filtered => self.report.absent += n,
            HoleKind::Gap => self.note(Finding::Missing { from: hole.lo, to: hole.hi }),
        }
    }

    fn pruned(&mut self, lo: u64, hi: u64) {
        self.pruned_count += hi - lo + 1;
        self.report.pruned = Some(self.report.pruned.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }

    /// A torn line that nothing followed took its seq's place.
    fn settle_torn(&mut self) {
        if let Some(t) = self.torn_at.take() {
            if t >= self.exp {
                self.skip(self.exp, t);
                self.exp = t + 1;
                self.resume = false;
            }
        }
    }

    fn unverified(&mut self, seq: u64) {
        self.report.unverified += 1;
        self.unverified_range = Some(self.unverified_range.map_or((seq, seq), |(a, b)| (a.min(seq), b.max(seq))));
        if seq >= self.exp {
            self.jump(seq);
            self.exp = seq + 1;
        }
        self.seen(seq);
    }

    fn seen(&mut self, seq: u64) {
        self.report.first.get_or_insert(seq);
        self.report.last = Some(self.report.last.map_or(seq, |l| l.max(seq)));
    }

    fn note(&mut self, finding: Finding) {
        // A stretch of modified entries, or of inserted ones, is one finding.
        match (self.report.findings.last_mut(), &finding) {
            (Some(Finding::Modified { to, .. }), &Finding::Modified { from, to: end }) if *to + 1 == from => {
                *to = end;
                return;
            }
            (Some(Finding::Inserted { after, count }), &Finding::Inserted { after: a, count: c }) if *after == a => {
                *count += c;
                return;
            }
            _ => {}
        }
        if finding.is_error() {
            self.report.errors += 1;
        }
        if self.report.findings.len() < self.opts.max_findings {
            self.report.findings.push(finding);
        } else {
            self.report.omitted += 1;
        }
    }
}

/// The `seq` of an entry's bytes, and whether its digits are followed by anything (are not cut).
fn parse_seq(bytes: &[u8]) -> (Option<u64>, bool) {
    const KEY: &[u8] = b"\"seq\":";
    let Some(at) = find_key(bytes, KEY) else { return (None, false) };
    let rest = &bytes[at + KEY.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    // 19 digits always fit in a u64.
    if digits == 0 || digits > 19 {
        return (None, false);
    }
    let value = rest[..digits].iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    (Some(value), digits < rest.len())
}

/// Whether a line without a `seq` is still a (damaged) native entry: it has keys NORA's six fields do not.
fn looks_native(bytes: &[u8]) -> bool {
    find_key(bytes, b"\"id\":").is_some() || find_key(bytes, b"\"schema\":").is_some()
}

/// Where `key` (starting with a quote) first occurs.
fn find_key(hay: &[u8], key: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = hay[i..].iter().position(|&b| b == b'"') {
        let at = i + off;
        if hay[at..].starts_with(key) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Scans journal rows (seq column, bytes), in seq order.
pub fn scan_journal<L, I, B>(leaves: &L, rows: I, opts: ScanOptions) -> io::Result<ScanReport>
where
    L: TrustedLeaves + ?Sized,
    I: IntoIterator<Item = (u64, B)>,
    B: AsRef<[u8]>,
{
    let mut scanner = Scanner::new(leaves, opts);
    for (seq, bytes) in rows {
        scanner.row(seq, bytes.as_ref())?;
    }
    scanner.finish()
}

/// Scans a sink's files (one, or a rotated set oldest first), each read as JSONL.
pub fn scan_readers<L, I, R>(leaves: &L, files: I, opts: ScanOptions) -> io::Result<ScanReport>
where
    L: TrustedLeaves + ?Sized,
    I: IntoIterator<Item = R>,
    R: BufRead,
{
    let mut scanner = Scanner::new(leaves, opts);
    for file in files {
        scanner.read_file(file)?;
    }
    scanner.finish()
}

/// Scans a sink's files by path, oldest first.
pub fn scan_files<L, P>(leaves: &L, paths: &[P], opts: ScanOptions) -> io::Result<ScanReport>
where
    L: TrustedLeaves + ?Sized,
    P: AsRef<Path>,
{
    let mut scanner = Scanner::new(leaves, opts);
    for path in paths {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        scanner.read_file(BufReader::with_capacity(1 << 20, file))?;
    }
    scanner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_seq_key_is_parsed_and_cut_digits_are_told() {
        assert_eq!(parse_seq(br#"{"ts":"x","detail":"\"seq\":9","seq":42,"id":"a"}"#), (Some(42), true));
        assert_eq!(parse_seq(br#"{"ts":"x","seq":42"#), (Some(42), false));
        assert_eq!(parse_seq(br#"{"ts":"x","seq":"42"}"#), (None, false));
        assert_eq!(parse_seq(br#"{"ts":"x","action":"push"}"#), (None, false));
        assert_eq!(parse_seq(br#"{"seq":99999999999999999999}"#), (None, false));
        assert!(looks_native(br#"{"ts":"x","sEq":1,"id":"a"}"#));
        assert!(!looks_native(br#"{"ts":"x","detail":"\"id\":1"}"#));
    }
}
