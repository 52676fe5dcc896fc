//! The scanner against copies of a log with exactly one thing done to them: it must name the right kind of
//! problem at the first seq affected, and nothing else; untouched copies (from mid-log, rotated, pruned, filtered,
//! in NORA's format) must pass.

use proptest::prelude::*;
use proptest::sample::Index;
use vigil_tlog::scan::{scan_journal, scan_readers, Finding, Kind, ScanOptions, ScanReport, Scanner};
use vigil_tlog::{leaf_hash, Hash, TileStore};

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A native entry (schema 2 field order); `seq: None` leaves the field out. Some details quote a `"seq":` of
/// their own, escaped as in real JSON.
fn entry(seq: Option<u64>, salt: u64, n: u64) -> Vec<u8> {
    let r = mix(salt ^ mix(n));
    let action = ["push", "pull", "delete", "login"][(r % 4) as usize];
    let detail = if r.trailing_zeros() >= 3 {
        format!(r#"note \"seq\":{} in text"#, r % 1000)
    } else {
        format!("sha256:{:016x}{:016x}", mix(r), mix(r ^ 1))
    };
    let seq = seq.map(|s| format!(r#""seq":{s},"#)).unwrap_or_default();
    format!(
        r#"{{"ts":"2025-06-01T12:{:02}:{:02}.{:03}Z","action":"{action}","actor":"api","artifact":"acme/app-{}:v{}","registry":"docker","detail":"{detail}",{seq}"id":"{:016x}","schema":2,"kind":"{action}","operation":"{action}","stage":"complete","outcome":"success","user":{{"name":"alice","kind":"user"}},"node":"n1"}}"#,
        (r >> 8) % 60,
        (r >> 16) % 60,
        (r >> 24) % 1000,
        r % 13,
        r % 100,
        mix(r ^ 2),
    )
    .into_bytes()
}

/// NORA's line for the same event: its six fields only.
fn nora(salt: u64, n: u64) -> Vec<u8> {
    let native = String::from_utf8(entry(Some(n), salt, n)).unwrap();
    let cut = native.find(r#","seq":"#).unwrap();
    format!("{}}}", &native[..cut]).into_bytes()
}

fn log(n: u64, salt: u64) -> (Vec<Vec<u8>>, Vec<Hash>) {
    let entries: Vec<Vec<u8>> = (1..=n).map(|s| entry(Some(s), salt, s)).collect();
    let leaves = entries.iter().map(|e| leaf_hash(e)).collect();
    (entries, leaves)
}

fn foreign(claim: Option<u64>, salt: u64) -> Vec<u8> {
    entry(claim, !salt, 1_000_000 + claim.unwrap_or(0))
}

/// Lines (each with its newline, unless torn) cut into files at `cuts`.
fn files(lines: &[Vec<u8>], cuts: &[Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
    at.push(0);
    at.push(lines.len());
    at.sort_unstable();
    at.windows(2).map(|w| lines[w[0]..w[1]].concat()).collect()
}

fn scan_files(leaves: &[Hash], files: &[Vec<u8>], opts: ScanOptions) -> ScanReport {
    scan_readers(leaves, files.iter().map(|f| f.as_slice()), opts).unwrap()
}

fn errors(report: &ScanReport) -> Vec<&Finding> {
    report.errors().collect()
}

const ALL: &[Kind] =
    &[Kind::Modified, Kind::Missing, Kind::Inserted, Kind::Duplicated, Kind::Reordered, Kind::Truncated];

/// What one mutation must produce.
#[derive(Debug, Clone)]
enum Want {
    Ok,
    /// Exactly one error, of this kind, at this seq.
    Exact(Kind, u64),
    /// Exactly one error, of one of these kinds, at a seq in `lo..=hi`; or, if `or_unverified`, no error but an
    /// unverified entry (a changed seq that now points after the tree, in a filtered copy).
    Within {
        kinds: &'static [Kind],
        lo: u64,
        hi: u64,
        or_unverified: bool,
    },
    /// At least one error, all of these kinds, at seqs in `lo..=hi`.
    AllWithin {
        kinds: &'static [Kind],
        lo: u64,
        hi: u64,
    },
}

fn check(report: &ScanReport, want: &Want) -> Result<(), TestCaseError> {
    let errs = errors(report);
    match *want {
        Want::Ok => prop_assert!(errs.is_empty(), "want ok, got {report}"),
        Want::Exact(kind, seq) => {
            prop_assert_eq!(errs.len(), 1, "want one {:?} at {}, got {}", kind, seq, report);
            prop_assert_eq!(errs[0].kind(), kind, "{}", report);
            prop_assert_eq!(errs[0].seq(), seq, "{}", report);
        }
        Want::Within { kinds, lo, hi, or_unverified } => {
            if or_unverified && errs.is_empty() {
                prop_assert!(report.unverified > 0, "want an error or an unverified entry, got {report}");
            } else {
                prop_assert_eq!(errs.len(), 1, "want one of {:?} in {}..={}, got {}", kinds, lo, hi, report);
                prop_assert!(kinds.contains(&errs[0].kind()), "want one of {kinds:?}, got {report}");
                prop_assert!((lo..=hi).contains(&errs[0].seq()), "want a seq in {lo}..={hi}, got {report}");
            }
        }
        Want::AllWithin { kinds, lo, hi } => {
            prop_assert!(!errs.is_empty(), "want errors, got {report}");
            for e in errs {
                prop_assert!(kinds.contains(&e.kind()), "want only {kinds:?}, got {report}");
                prop_assert!((lo..=hi).contains(&e.seq()), "want seqs in {lo}..={hi}, got {report}");
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: Index, byte: Index, value: u8 },
    Delete(Index),
    Insert { at: Index, claim: u8, pick: Index, k: usize },
    Replace { at: Index, claim: u8, k: usize },
    Duplicate { of: Index, after: Index },
    Swap(Index),
    Move { from: Index, to: Index },
    Truncate(Index),
    Tear(Index),
}

fn mutation(tear: bool) -> impl Strategy<Value = Mutation> {
    let tear_weight = if tear { 1 } else { 0 };
    prop_oneof![
        3 => (any::<Index>(), any::<Index>(), any::<u8>()).prop_map(|(at, byte, value)| Mutation::Flip { at, byte, value }),
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => (any::<Index>(), 0u8..3, any::<Index>(), 1usize..4)
            .prop_map(|(at, claim, pick, k)| Mutation::Insert { at, claim, pick, k }),
        1 => (any::<Index>(), 0u8..3, 1usize..4).prop_map(|(at, claim, k)| Mutation::Replace { at, claim, k }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(of, after)| Mutation::Duplicate { of, after }),
        1 => any::<Index>().prop_map(Mutation::Swap),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Mutation::Move { from, to }),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        tear_weight => any::<Index>().prop_map(Mutation::Tear),
    ]
}

/// One entry of a copy: its bytes, the journal row seq it sits under, torn or not.
#[derive(Debug, Clone)]
struct Held {
    row: u64,
    bytes: Vec<u8>,
    torn: bool,
}

/// The span of `"seq":<digits>,` in an entry (a digit in place of the comma changes the seq too).
fn seq_span(bytes: &[u8]) -> std::ops::Range<usize> {
    let at = bytes.windows(6).position(|w| w == br#""seq":"#).unwrap();
    let digits = bytes[at + 6..].iter().take_while(|b| b.is_ascii_digit()).count();
    at..at + 6 + digits + 1
}

/// Applies `m` to the copy of entries `seqs` (in order) of a log of `n`; returns the copy and what a scan must
/// say. `journal`: rows keep their seq column and a new row repeats a neighbour's; otherwise lines may not gain a
/// newline. `filtered`: `seqs` is a filtered subset.
fn mutate(
    entries: &[Vec<u8>],
    seqs: &[u64],
    n: u64,
    m: &Mutation,
    journal: bool,
    filtered: bool,
    salt: u64,
) -> (Vec<Held>, Want) {
    let mut copy: Vec<Held> =
        seqs.iter().map(|&s| Held { row: s, bytes: entries[s as usize - 1].clone(), torn: false }).collect();
    let len = seqs.len();
    let prev = |i: usize| if i == 0 { 1 } else { seqs[i - 1] + 1 };
    let next = |i: usize| seqs.get(i + 1).copied().unwrap_or(n + 1);
    let want = match *m {
        Mutation::Flip { at, byte, value } => {
            let i = at.index(len);
            let b = &mut copy[i].bytes;
            let p = byte.index(b.len());
            let mut v = value;
            while v == b[p] || (!journal && v == b'\n') {
                v = v.wrapping_add(1);
            }
            let in_seq = seq_span(b).contains(&p);
            b[p] = v;
            if filtered && in_seq {
                Want::Within {
                    kinds: &[Kind::Modified, Kind::Inserted],
                    lo: prev(i),
                    hi: next(i),
                    or_unverified: i == len - 1,
                }
            } else {
                Want::Exact(Kind::Modified, seqs[i])
            }
        }
        Mutation::Delete(at) => {
            let i = at.index(len);
            copy.remove(i);
            match (filtered, i == len - 1) {
                (true, _) => Want::Ok,
                (false, true) => Want::Exact(Kind::Truncated, seqs[i]),
                (false, false) => Want::Exact(Kind::Missing, seqs[i]),
            }
        }
        Mutation::Insert { at, claim, pick, k } => {
            let i = at.index(len + 1);
            let here = seqs.get(i).copied().unwrap_or(n + 1);
            let row = seqs.get(i).copied().unwrap_or(seqs[len - 1]);
            for j in (0..k as u64).rev() {
                let claim = match claim {
                    0 => None,
                    1 => Some((here + j).min(n)),
                    _ => Some((pick.index(n as usize) as u64 + j) % n + 1),
                };
                copy.insert(i, Held { row, bytes: foreign(claim, salt ^ j), torn: false });
            }
            match (filtered, k) {
                (true, 1) => Want::Within {
                    kinds: &[Kind::Inserted, Kind::Modified],
                    lo: prev(i),
                    hi: here,
                    or_unverified: false,
                },
                (true, _) => Want::AllWithin { kinds: &[Kind::Inserted, Kind::Modified], lo: prev(i), hi: here },
                (false, _) => Want::Exact(Kind::Inserted, here),
            }
        }
        Mutation::Replace { at, claim, k } => {
            let i = at.index(len);
            let k = k.min(len - i);
            for (j, c) in copy[i..i + k].iter_mut().enumerate() {
                let claim = match claim {
                    0 => None,
                    1 => Some(c.row),
                    _ => Some((c.row * 7 + j as u64) % n + 1),
                };
                c.bytes = foreign(claim, salt ^ j as u64);
            }
            if filtered {
                Want::AllWithin { kinds: &[Kind::Inserted, Kind::Modified], lo: prev(i), hi: next(i + k - 1) }
            } else {
                Want::Exact(Kind::Modified, seqs[i])
            }
        }
        Mutation::Duplicate { of, after } => {
            let i = of.index(len);
            let j = i + after.index(len - i);
            copy.insert(j + 1, Held { row: seqs[j], ..copy[i].clone() });
            Want::Exact(Kind::Duplicated, seqs[i])
        }
        Mutation::Swap(at) if len >= 2 => {
            let i = at.index(len - 1);
            swap(&mut copy, i, i + 1, journal);
            Want::Exact(Kind::Reordered, seqs[i])
        }
        Mutation::Move { from, to } if len >= 2 => {
            let x = from.index(len);
            let mut y = to.index(len - 1);
            if y >= x {
                y += 1;
            }
            // Bubble entry x to position y.
            if x < y {
                (x..y).for_each(|k| swap(&mut copy, k, k + 1, journal));
            } else {
                (y..x).rev().for_each(|k| swap(&mut copy, k, k + 1, journal));
            }
            Want::Exact(Kind::Reordered, seqs[x.min(y)])
        }
        Mutation::Swap(_) | Mutation::Move { .. } => Want::Ok,
        Mutation::Truncate(at) => {
            let t = at.index(len);
            copy.truncate(t);
            if filtered {
                Want::Ok
            } else {
                Want::Exact(Kind::Truncated, seqs[t])
            }
        }
        Mutation::Tear(cut) => {
            let last = copy.last_mut().unwrap();
            let c = 1 + cut.index(last.bytes.len());
            last.bytes.truncate(c);
            last.torn = true;
            if filtered {
                Want::Within { kinds: &[Kind::Truncated], lo: prev(len - 1), hi: seqs[len - 1], or_unverified: false }
            } else {
                Want::Exact(Kind::Truncated, seqs[len - 1])
            }
        }
    };
    (copy, want)
}

/// Swaps two entries of the copy: whole lines, or a journal's bytes between rows (the seq column stays).
fn swap(copy: &mut [Held], a: usize, b: usize, journal: bool) {
    if journal {
        let tmp = std::mem::take(&mut copy[a].bytes);
        copy[a].bytes = std::mem::replace(&mut copy[b].bytes, tmp);
    } else {
        copy.swap(a, b);
    }
}

fn lines(copy: &[Held]) -> Vec<Vec<u8>> {
    copy.iter()
        .map(|c| {
            let mut line = c.bytes.clone();
            if !c.torn {
                line.push(b'\n');
            }
            line
        })
        .collect()
}

fn rows(copy: &[Held]) -> Vec<(u64, Vec<u8>)> {
    copy.iter().map(|c| (c.row, c.bytes.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn journal_mutations_are_named_at_their_first_seq(
        n in 1u64..300, salt in any::<u64>(), pruned in any::<Index>(), m in mutation(false),
    ) {
        let (entries, leaves) = log(n, salt);
        // Rows up to `p` were pruned by retention.
        let p = pruned.index(n as usize) as u64 / 2;
        let seqs: Vec<u64> = (p + 1..=n).collect();
        let (copy, want) = mutate(&entries, &seqs, n, &m, true, false, salt);
        let opts = ScanOptions { pruned_through: p, ..ScanOptions::journal(n) };
        let report = scan_journal(&leaves, rows(&copy), opts).unwrap();
        check(&report, &want)?;
        let pruned_finding = report.findings.iter().find(|f| f.kind() == Kind::Pruned);
        prop_assert!(pruned_finding.is_none_or(|f| f.seq() == 1));
        prop_assert!(report.pruned.is_none_or(|(lo, hi)| lo == 1 && hi <= p), "{report}");
    }

    #[test]
    fn file_mutations_are_named_at_their_first_seq(
        n in 1u64..300, salt in any::<u64>(), start in any::<Index>(), cuts in proptest::collection::vec(any::<Index>(), 0..4),
        m in mutation(true),
    ) {
        let (entries, leaves) = log(n, salt);
        let a = start.index(n as usize) as u64 + 1;
        let seqs: Vec<u64> = (a..=n).collect();
        let (copy, want) = mutate(&entries, &seqs, n, &m, false, false, salt);
        let set = files(&lines(&copy), &cuts);
        let opts = ScanOptions { starts_at: Some(a), ends_at: Some(n), ..ScanOptions::sink() };
        check(&scan_files(&leaves, &set, opts), &want)?;

        // Not told where the copy starts, it can only miss what happened to its first entry: a deletion there is
        // a copy that starts later, and what damaged first lines stand for is a guess.
        let report = scan_files(&leaves, &set, ScanOptions { ends_at: Some(n), ..ScanOptions::sink() });
        match want {
            Want::Exact(_, seq) if seq == a => match m {
                _ if copy.is_empty() => check(&report, &Want::Exact(Kind::Truncated, 1))?,
                Mutation::Delete(_) => check(&report, &Want::Ok)?,
                Mutation::Replace { k, .. } => {
                    check(&report, &Want::AllWithin { kinds: ALL, lo: 1, hi: a + k as u64 })?
                }
                _ => check(&report, &Want::AllWithin { kinds: ALL, lo: 1, hi: a + 1 })?,
            },
            _ => check(&report, &want)?,
        }
    }

    #[test]
    fn filtered_file_mutations_are_caught_except_gaps(
        n in 2u64..300, salt in any::<u64>(), keep in proptest::collection::vec(any::<bool>(), 300),
        cuts in proptest::collection::vec(any::<Index>(), 0..4), m in mutation(true),
    ) {
        let (entries, leaves) = log(n, salt);
        let mut seqs: Vec<u64> = (1..=n).filter(|&s| keep[s as usize - 1]).collect();
        if seqs.is_empty() {
            seqs.push(n / 2 + 1);
        }
        let (copy, want) = mutate(&entries, &seqs, n, &m, false, true, salt);
        let opts = ScanOptions { filtered: true, ..ScanOptions::sink() };
        let report = scan_files(&leaves, &files(&lines(&copy), &cuts), opts);
        check(&report, &want)?;
    }

    #[test]
    fn untouched_copies_pass(
        n in 1u64..300, salt in any::<u64>(), start in any::<Index>(), cuts in proptest::collection::vec(any::<Index>(), 0..4),
        keep in proptest::collection::vec(any::<bool>(), 300),
    ) {
        let (entries, leaves) = log(n, salt);
        let a = start.index(n as usize) as u64 + 1;
        let tail: Vec<Vec<u8>> = entries[a as usize - 1..].iter().map(|e| [e.as_slice(), b"\n"].concat()).collect();

        // A sink file (or a rotated set) that starts mid-log, its start unknown.
        let report = scan_files(&leaves, &files(&tail, &cuts), ScanOptions::sink());
        prop_assert!(report.is_fully_verified() && report.findings.is_empty(), "{report}");
        prop_assert_eq!((report.first, report.last, report.entries, report.verified), (Some(a), Some(n), n - a + 1, n - a + 1));

        // The journal with everything below `a` pruned.
        let rows = (a..=n).map(|s| (s, entries[s as usize - 1].as_slice()));
        let report = scan_journal(&leaves, rows, ScanOptions { pruned_through: a - 1, ..ScanOptions::journal(n) }).unwrap();
        prop_assert!(report.is_fully_verified(), "{report}");
        if a > 1 {
            prop_assert_eq!(report.pruned, Some((1, a - 1)));
            prop_assert_eq!(&report.findings, &vec![Finding::Pruned { from: 1, to: a - 1, count: a - 1 }]);
        } else {
            prop_assert!(report.findings.is_empty(), "{report}");
        }

        // A NORA-format sink: nothing to verify, nothing missing.
        let nora_lines: Vec<Vec<u8>> = (a..=n).map(|s| [nora(salt, s).as_slice(), b"\n"].concat()).collect();
        let report = scan_files(&leaves, &[nora_lines.concat()], ScanOptions::sink());
        prop_assert!(report.is_ok() && !report.verifiable, "{report}");
        prop_assert_eq!(&report.findings, &vec![Finding::NotVerifiable { file: 1 }]);
        prop_assert_eq!((report.skipped, report.entries), (n - a + 1, 0));

        // A filtered sink: gaps everywhere, all fine.
        let kept: Vec<u64> = (1..=n).filter(|&s| keep[s as usize - 1]).collect();
        let lines: Vec<Vec<u8>> = kept.iter().map(|&s| [entries[s as usize - 1].as_slice(), b"\n"].concat()).collect();
        let report = scan_files(&leaves, &files(&lines, &cuts), ScanOptions { filtered: true, ..ScanOptions::sink() });
        prop_assert!(report.is_fully_verified() && report.findings.is_empty(), "{report}");
        if let (Some(&first), Some(&last)) = (kept.first(), kept.last()) {
            prop_assert_eq!(report.absent, last - first + 1 - kept.len() as u64);
        }
    }
}

fn line(bytes: &[u8]) -> Vec<u8> {
    [bytes, b"\n"].concat()
}

#[test]
fn a_nora_line_in_front_of_native_lines_is_an_error() {
    let (entries, leaves) = log(10, 7);
    let mut file = line(&nora(7, 0));
    entries.iter().for_each(|e| file.extend(line(e)));
    let report = scan_files(&leaves, &[file], ScanOptions::sink());
    assert!(!report.is_ok() && !report.verifiable, "{report}");
    assert!(report.findings.contains(&Finding::Mixed { file: 1, line: 2 }), "{report}");

    // In the middle of a native file it is simply not a logged entry.
    let mut file = Vec::new();
    entries[..5].iter().for_each(|e| file.extend(line(e)));
    file.extend(line(&nora(7, 0)));
    entries[5..].iter().for_each(|e| file.extend(line(e)));
    let report = scan_files(&leaves, &[file], ScanOptions::sink());
    assert_eq!(errors(&report), vec![&Finding::Inserted { after: 5, count: 1 }], "{report}");
}

#[test]
fn a_rotated_set_with_a_nora_file_in_the_middle_loses_nothing() {
    let (entries, leaves) = log(30, 3);
    let native = |r: std::ops::Range<usize>| entries[r].iter().flat_map(|e| line(e)).collect::<Vec<u8>>();
    let nora_file: Vec<u8> = (11..=20).flat_map(|s| line(&nora(3, s))).collect();
    let report = scan_files(&leaves, &[native(0..10), nora_file, native(20..30)], ScanOptions::sink());
    assert!(report.is_ok() && !report.verifiable, "{report}");
    assert_eq!(report.findings, vec![Finding::NotVerifiable { file: 2 }]);
    assert_eq!((report.verified, report.skipped), (20, 10));
}

#[test]
fn a_damaged_first_line_of_a_file_that_starts_mid_log() {
    let (entries, leaves) = log(20, 5);
    let mut copy: Vec<Vec<u8>> = entries[9..].to_vec();
    // A byte outside its seq: the claim still places it.
    copy[0][3] ^= 0x20;
    let report = scan_files(&leaves, &[copy.iter().flat_map(|e| line(e)).collect()], ScanOptions::sink());
    assert_eq!(errors(&report), vec![&Finding::Modified { from: 10, to: 10 }], "{report}");
    // A foreign entry in front of it is inserted.
    let mut with_foreign = line(&foreign(Some(3), 5));
    entries[9..].iter().for_each(|e| with_foreign.extend(line(e)));
    let report = scan_files(&leaves, &[with_foreign], ScanOptions::sink());
    assert_eq!(errors(&report), vec![&Finding::Inserted { after: 9, count: 1 }], "{report}");
}

#[test]
fn a_changed_byte_that_is_a_newline_splits_the_entry_but_is_found_there() {
    let (entries, leaves) = log(20, 9);
    let mut copy = entries.clone();
    copy[6][40] = b'\n';
    let file: Vec<u8> = copy.iter().flat_map(|e| line(e)).collect();
    let report =
        scan_files(&leaves, &[file], ScanOptions { starts_at: Some(1), ends_at: Some(20), ..ScanOptions::sink() });
    let errs = errors(&report);
    // Two lines for one entry: one replaces seq 7, the other is extra.
    assert!(errs.contains(&&Finding::Modified { from: 7, to: 7 }), "{report}");
    assert!(errs.iter().all(|f| f.seq() == 7), "{report}");
}

#[test]
fn a_torn_line_rewritten_at_the_top_of_the_next_file_is_reported_once() {
    let (entries, leaves) = log(10, 11);
    let mut first: Vec<u8> = entries[..4].iter().flat_map(|e| line(e)).collect();
    first.extend_from_slice(&entries[4][..30]);
    // Rewritten in full ...
    let second: Vec<u8> = entries[4..].iter().flat_map(|e| line(e)).collect();
    let report = scan_files(&leaves, &[first.clone(), second], ScanOptions::sink());
    assert_eq!(errors(&report), vec![&Finding::Torn { seq: 5, file: 1 }], "{report}");
    // ... or not: the torn line stood for seq 5, nothing is missing besides.
    let second: Vec<u8> = entries[5..].iter().flat_map(|e| line(e)).collect();
    let report = scan_files(&leaves, &[first, second], ScanOptions::sink());
    assert_eq!(errors(&report), vec![&Finding::Torn { seq: 5, file: 1 }], "{report}");
}

#[test]
fn entries_after_the_checkpoint_are_unverified_not_wrong() {
    let (entries, leaves) = log(20, 13);
    let report = scan_journal(
        &leaves[..15],
        entries.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)),
        ScanOptions::journal(15),
    )
    .unwrap();
    assert!(report.is_ok() && !report.is_fully_verified(), "{report}");
    assert_eq!((report.verified, report.unverified), (15, 5));
    assert_eq!(report.findings, vec![Finding::Unverified { from: 16, to: 20, count: 5, size: 15 }]);
    // A sink file too, also when it starts after the checkpoint.
    let report =
        scan_files(&leaves[..15], &[entries[17..].iter().flat_map(|e| line(e)).collect()], ScanOptions::sink());
    assert!(report.is_ok() && report.unverified == 3, "{report}");
}

#[test]
fn the_journal_may_lack_only_what_was_pruned() {
    let (entries, leaves) = log(50, 17);
    let rows = (13..=50).map(|s| (s, entries[s as usize - 1].as_slice()));
    let report = scan_journal(&leaves, rows, ScanOptions { pruned_through: 10, ..ScanOptions::journal(50) }).unwrap();
    assert_eq!(errors(&report), vec![&Finding::Missing { from: 11, to: 12 }], "{report}");
    assert_eq!(report.pruned, Some((1, 10)));
    // Everything pruned and nothing left: the rest is truncated.
    let report = scan_journal(
        &leaves,
        Vec::<(u64, Vec<u8>)>::new(),
        ScanOptions { pruned_through: 10, ..ScanOptions::journal(50) },
    )
    .unwrap();
    assert_eq!(errors(&report), vec![&Finding::Truncated { from: 11, to: 50 }], "{report}");
}

#[test]
fn many_problems_are_capped_and_counted() {
    let (entries, leaves) = log(1000, 19);
    let rows = entries.iter().enumerate().filter(|(i, _)| i % 3 != 1).map(|(i, e)| (i as u64 + 1, e));
    let report = scan_journal(&leaves, rows, ScanOptions { max_findings: 10, ..ScanOptions::journal(1000) }).unwrap();
    assert_eq!((report.errors, report.findings.len(), report.omitted), (333, 10, 323));
    assert!(report.to_string().contains("and 323 more"), "{report}");
}

#[test]
fn display_names_the_seq_and_the_problem() {
    assert_eq!(
        Finding::Modified { from: 42, to: 42 }.to_string(),
        "seq 42: modified (its bytes differ from the logged entry)"
    );
    assert_eq!(
        Finding::Missing { from: 5, to: 7 }.to_string(),
        "seqs 5..=7: missing (3 logged entries absent from the copy)"
    );
    assert_eq!(
        Finding::Inserted { after: 9, count: 1 }.to_string(),
        "after seq 9: inserted (an entry that is not in the log)"
    );
}

#[test]
fn a_block_of_inserted_or_replaced_lines_is_one_finding() {
    let (entries, leaves) = log(40, 29);
    let opts = ScanOptions { starts_at: Some(1), ends_at: Some(40), ..ScanOptions::sink() };
    let forged = |claim| line(&foreign(Some(claim), 29));
    let mut inserted: Vec<u8> = entries[..20].iter().flat_map(|e| line(e)).collect();
    (21..24).for_each(|c| inserted.extend(forged(c)));
    entries[20..].iter().for_each(|e| inserted.extend(line(e)));
    let report = scan_files(&leaves, &[inserted], opts.clone());
    assert_eq!(errors(&report), vec![&Finding::Inserted { after: 20, count: 3 }], "{report}");
    assert!(report.to_string().contains("after seq 20: inserted (3 entries that are not in the log)"), "{report}");

    let mut replaced: Vec<u8> = entries[..20].iter().flat_map(|e| line(e)).collect();
    (21..24).for_each(|c| replaced.extend(forged(c)));
    entries[23..].iter().for_each(|e| replaced.extend(line(e)));
    let report = scan_files(&leaves, &[replaced], opts.clone());
    assert_eq!(errors(&report), vec![&Finding::Modified { from: 21, to: 23 }], "{report}");

    // Two replaced and a third inserted: the entries that must be there are taken first.
    let mut both: Vec<u8> = entries[..20].iter().flat_map(|e| line(e)).collect();
    (21..24).for_each(|c| both.extend(forged(c)));
    entries[22..].iter().for_each(|e| both.extend(line(e)));
    let report = scan_files(&leaves, &[both], opts);
    assert_eq!(
        errors(&report),
        vec![&Finding::Inserted { after: 20, count: 1 }, &Finding::Modified { from: 21, to: 22 }],
        "{report}"
    );
}

#[test]
fn a_journal_row_inserted_by_renumbering_the_rest_is_one_finding() {
    let (entries, leaves) = log(30, 31);
    // Row 11 is forged and every later row moved up by one: the entries still say where they belong.
    let mut rows: Vec<(u64, Vec<u8>)> =
        entries[..10].iter().enumerate().map(|(i, e)| (i as u64 + 1, e.clone())).collect();
    rows.push((11, foreign(Some(11), 31)));
    rows.extend(entries[10..].iter().enumerate().map(|(i, e)| (i as u64 + 12, e.clone())));
    let report = scan_journal(&leaves, rows, ScanOptions::journal(30)).unwrap();
    assert_eq!(errors(&report), vec![&Finding::Inserted { after: 10, count: 1 }], "{report}");
}

#[test]
fn a_tile_store_is_a_source_of_trusted_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (entries, leaves) = log(700, 23);
    let mut store = TileStore::open(dir.path()).unwrap();
    store.append(&leaves).unwrap();
    let mut copy = entries.clone();
    copy.swap(300, 301);
    let rows = copy.iter().enumerate().map(|(i, e)| (i as u64 + 1, e));
    let report = scan_journal(&store, rows, ScanOptions::journal(700)).unwrap();
    assert_eq!(errors(&report), vec![&Finding::Reordered { seq: 301, after: 302 }], "{report}");
}

/// 10 million entries of about 600 bytes, generated on the fly (the leaves are computed first, untimed).
/// `cargo test --release -p vigil-tlog --test scan -- --ignored --nocapture`
#[test]
#[ignore]
fn ten_million_entries_scan_quickly() {
    const N: u64 = 10_000_000;
    let head = br#"{"ts":"2025-06-01T12:00:00.000Z","action":"push","actor":"api","artifact":"acme/app:v1","registry":"docker","detail":""#;
    let pad = "x".repeat(600 - head.len() - r#"","seq":1234567,"id":"0123456789abcdef","schema":2,"node":"n1"}"#.len());
    let make = |seq: u64, buf: &mut Vec<u8>| {
        use std::io::Write;
        buf.clear();
        buf.extend_from_slice(head);
        buf.extend_from_slice(pad.as_bytes());
        write!(buf, r#"","seq":{seq},"id":"{:016x}","schema":2,"node":"n1"}}"#, mix(seq)).unwrap();
    };
    let mut buf = Vec::new();
    let leaves: Vec<Hash> = (1..=N)
        .map(|s| {
            make(s, &mut buf);
            leaf_hash(&buf)
        })
        .collect();
    let started = std::time::Instant::now();
    let mut scanner =
        Scanner::new(&leaves, ScanOptions { starts_at: Some(1), ends_at: Some(N), ..ScanOptions::sink() });
    scanner.begin_file();
    for s in 1..=N {
        make(s, &mut buf);
        buf.push(b'\n');
        scanner.line(&buf).unwrap();
    }
    let report = scanner.finish().unwrap();
    let took = started.elapsed();
    eprintln!("scanned {N} lines of {} bytes in {took:?}", buf.len());
    assert!(report.is_fully_verified() && report.verified == N, "{report}");
    assert!(took.as_secs() < 30);
}
