//! The SQLite audit query index and its hourly rollup, checked black-box through [`MetadataStore`] against a
//! brute-force model: every aggregate (each bucket × each grouping), every page of seqs and every page of journal
//! entries must equal what a plain scan of the index rows gives, after batched indexing, after pruning (which
//! subtracts from the rollup) and after a reset with a partial re-index (which empties and rebuilds it).
//!
//! The data is deterministic (a seeded generator): a few thousand events over about three days, timestamps never
//! decreasing along seq, many events sharing a timestamp, some on exact hour boundaries, some hours empty; the
//! filters cover ranges with ends on and between hour boundaries, open ends, empty ranges, equality and GLOB
//! text filters (which never match a missing value), list filters, and the fields only the index has (which
//! force the aggregate off the rollup).

use std::collections::{BTreeMap, HashMap};

use tempfile::TempDir;
use vigil_store::index::{Aggregate, Bucket, EventFilter, GroupBy, IndexRow, Order};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{JournalEvent, JournalRecord, JournalStore, StoreError};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2024-01-01T00:17:00.123Z: the data starts inside an hour.
const T0: i64 = 1_704_067_200_000 + 17 * 60_000 + 123;
/// Events in the journal and the index.
const N: u64 = 3_000;

const KINDS: &[&str] = &["push_repo", "pull_repo", "delete_tag", "login_success", "create_repo"];
const ACTIONS: &[&str] = &["push", "pull", "delete", "login", "create"];
const OUTCOMES: &[&str] = &["success", "denied", "failed"];
const OPERATIONS: &[&str] = &["PutManifest", "GetManifest", "DeleteTag", "Login", "GetBlob"];
const NAMESPACES: &[Option<&str>] = &[None, None, Some("acme"), Some("ns1"), Some("ns2"), Some("nsx"), Some("beta")];
const REPO_NAMES: &[&str] = &["app1", "app2", "repo", "web"];
const USERS: &[Option<&str>] =
    &[None, None, Some("alice"), Some("bob"), Some("carol"), Some("dave"), Some("eve.admin")];
const STATUSES: &[Option<u16>] = &[None, Some(200), Some(201), Some(401), Some(404), Some(500)];
const ADDRS: &[Option<&str>] = &[None, Some("10.0.0.1"), Some("10.0.0.2"), Some("192.168.1.7")];

// Text filter values: present values, absent ones and GLOB patterns (`*`, `?`, `[...]`).
const NAMESPACE_FILTERS: &[&str] = &["ns*", "ns?", "[ab]*", "*", "acme", "ns1", "nobody", "*x", "n?1", "[^n]*"];
const REPOSITORY_FILTERS: &[&str] =
    &["acme/*", "*/app?", "ns?/repo", "*", "acme/app1", "beta/web", "library/*", "zzz/*", "*[12]", "library/app1"];
const USER_FILTERS: &[&str] = &["alice", "bob", "*", "?ave", "[ac]*", "nobody", "e*", "*.*"];
const ADDR_FILTERS: &[&str] = &["10.0.0.1", "10.0.0.*", "192.168.1.7", "*", "10.0.0.9"];

const BUCKETS: [Option<Bucket>; 3] = [None, Some(Bucket::Day), Some(Bucket::Hour)];
const GROUPS: [Option<GroupBy>; 6] = [
    None,
    Some(GroupBy::Kind),
    Some(GroupBy::Action),
    Some(GroupBy::User),
    Some(GroupBy::Repository),
    Some(GroupBy::Outcome),
];

/// A deterministic generator (SplitMix64), so every run checks the same cases and a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn some_of(&mut self, xs: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = (0..self.range(1, 3)).map(|_| self.pick(xs).to_owned()).collect();
        if self.chance(15) {
            out.push("no_such_value".into());
        }
        out
    }
}

/// A journal event whose bytes name its seq.
struct Ev;

impl JournalEvent for Ev {
    fn encode(&self, seq: u64, ts_ms: i64) -> Vec<u8> {
        format!(r#"{{"seq":{seq},"ts":{ts_ms},"kind":"test"}}"#).into_bytes()
    }
}

/// Index rows for seqs `1..=n`: timestamps never decrease, often repeat, sometimes land exactly on an hour
/// boundary or its last millisecond, sometimes jump over empty hours.
fn generate_rows(n: u64, seed: u64) -> Vec<IndexRow> {
    let mut rng = Rng(seed);
    let mut ts = T0;
    (1..=n)
        .map(|seq| {
            if seq > 1 {
                match rng.below(1000) {
                    0..=349 => {}                                           // the same time as the previous event
                    350..=364 => ts = (ts.div_euclid(HOUR) + 1) * HOUR,     // on the next hour boundary
                    365..=369 => ts = (ts.div_euclid(HOUR) + 1) * HOUR - 1, // that hour's last ms
                    370..=372 => ts += rng.range(HOUR, 4 * HOUR),           // over empty hours
                    _ => ts += rng.range(1, 40_000),
                }
            }
            let namespace = rng.pick(NAMESPACES);
            let repository = match namespace {
                Some(ns) if rng.chance(80) => Some(format!("{ns}/{}", rng.pick(REPO_NAMES))),
                None if rng.chance(30) => Some(format!("library/{}", rng.pick(REPO_NAMES))),
                _ => None,
            };
            IndexRow {
                seq,
                ts_ms: ts,
                kind: rng.pick(KINDS).into(),
                action: rng.pick(ACTIONS).into(),
                operation: rng.pick(OPERATIONS).into(),
                outcome: rng.pick(OUTCOMES).into(),
                status: rng.pick(STATUSES),
                namespace: namespace.map(str::to_owned),
                repository,
                user_name: rng.pick(USERS).map(str::to_owned),
                remote_addr: rng.pick(ADDRS).map(str::to_owned),
                request_id: rng.chance(80).then(|| format!("req-{}", seq % 97)),
            }
        })
        .collect()
}

/// SQLite's `GLOB` (case-sensitive `*`, `?`, `[...]` with ranges and `^`), for the model.
fn glob(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some('?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some('[') => {
            let Some(&c) = s.first() else { return false };
            let mut i = 1;
            let negate = p.get(i) == Some(&'^');
            if negate {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            while i < p.len() && (first || p[i] != ']') {
                first = false;
                if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                    hit |= p[i] <= c && c <= p[i + 2];
                    i += 3;
                } else {
                    hit |= p[i] == c;
                    i += 1;
                }
            }
            assert!(i < p.len(), "unterminated class in test pattern {p:?}");
            hit != negate && glob(&p[i + 1..], &s[1..])
        }
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

fn text_matches(filter: &Option<String>, value: &Option<String>) -> bool {
    let Some(f) = filter else { return true };
    let Some(v) = value else { return false }; // a missing value matches nothing, not even `*`
    if f.contains(['*', '?', '[']) {
        glob(&f.chars().collect::<Vec<_>>(), &v.chars().collect::<Vec<_>>())
    } else {
        f == v
    }
}

fn list_matches(filter: &[String], value: &str) -> bool {
    filter.is_empty() || filter.iter().any(|f| f == value)
}

/// The model: whether `f` selects `r`.
fn matches(f: &EventFilter, r: &IndexRow) -> bool {
    f.from_ms.is_none_or(|from| r.ts_ms >= from)
        && f.to_ms.is_none_or(|to| r.ts_ms < to)
        && text_matches(&f.namespace, &r.namespace)
        && text_matches(&f.repository, &r.repository)
        && text_matches(&f.user_name, &r.user_name)
        && text_matches(&f.remote_addr, &r.remote_addr)
        && text_matches(&f.request_id, &r.request_id)
        && list_matches(&f.kinds, &r.kind)
        && list_matches(&f.actions, &r.action)
        && list_matches(&f.operations, &r.operation)
        && list_matches(&f.outcomes, &r.outcome)
        && f.status.is_none_or(|s| r.status == Some(s))
}

/// The model's aggregate of the rows a filter selected: ordered by bucket then key (`None` first), no empty
/// groups.
fn model_aggregate(selected: &[&IndexRow], bucket: Option<Bucket>, group: Option<GroupBy>) -> Vec<Aggregate> {
    let mut counts: BTreeMap<(Option<i64>, Option<String>), u64> = BTreeMap::new();
    for r in selected {
        let b = bucket.map(|b| {
            let size = match b {
                Bucket::Day => DAY,
                Bucket::Hour => HOUR,
            };
            r.ts_ms.div_euclid(size) * size
        });
        let k = match group {
            None => None,
            Some(GroupBy::Kind) => Some(r.kind.clone()),
            Some(GroupBy::Action) => Some(r.action.clone()),
            Some(GroupBy::Outcome) => Some(r.outcome.clone()),
            Some(GroupBy::User) => r.user_name.clone(),
            Some(GroupBy::Repository) => r.repository.clone(),
        };
        *counts.entry((b, k)).or_default() += 1;
    }
    counts.into_iter().map(|((bucket_ms, key), count)| Aggregate { bucket_ms, key, count }).collect()
}

/// The groups on which `got` and `want` differ, for a readable failure.
fn aggregate_diff(got: &[Aggregate], want: &[Aggregate]) -> String {
    let as_map = |v: &[Aggregate]| -> BTreeMap<(Option<i64>, Option<String>), u64> {
        v.iter().map(|a| ((a.bucket_ms, a.key.clone()), a.count)).collect()
    };
    let (g, w) = (as_map(got), as_map(want));
    let mut keys: Vec<_> = g.keys().chain(w.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| g.get(k) != w.get(k))
        .take(10)
        .map(|k| format!("  bucket {:?} key {:?}: got {:?}, want {:?}", k.0, k.1, g.get(&k), w.get(&k)))
        .collect();
    if diffs.is_empty() {
        "  (same groups, different order or duplicates)".into()
    } else {
        diffs.join("\n")
    }
}

/// A time point worth testing: an hour or day boundary, an event's exact time or one ms either side of it, or
/// anything around the data.
fn time_point(rng: &mut Rng, rows: &[IndexRow]) -> i64 {
    let (first, last) = (rows[0].ts_ms, rows[rows.len() - 1].ts_ms);
    let row = rows[rng.below(rows.len() as u64) as usize].ts_ms;
    match rng.below(6) {
        0 | 1 => rng.range(first.div_euclid(HOUR) - 2, last.div_euclid(HOUR) + 2) * HOUR,
        2 => row,
        3 => row + rng.range(-1, 1),
        4 => (first.div_euclid(DAY) + rng.range(-1, 4)) * DAY,
        _ => rng.range(first - HOUR, last + HOUR),
    }
}

/// A pseudo-random filter over `rows` (never a reversed range).
fn random_filter(rng: &mut Rng, rows: &[IndexRow]) -> EventFilter {
    let mut f = EventFilter::default();
    let mut a = time_point(rng, rows);
    let mut b = time_point(rng, rows);
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    (f.from_ms, f.to_ms) = match rng.below(10) {
        0 => (None, None),
        1 => (Some(a), None),
        2 => (None, Some(b)),
        3 => (Some(a), Some(a)),                          // empty
        4 => (Some(a), Some(a + rng.range(1, 2 * HOUR))), // short: often no whole hour
        5 => {
            let h = a.div_euclid(HOUR) * HOUR; // exactly whole hours
            (Some(h), Some(h + rng.range(1, 30) * HOUR))
        }
        _ => (Some(a), Some(b)),
    };
    if rng.chance(25) {
        f.namespace = Some(rng.pick(NAMESPACE_FILTERS).into());
    }
    if rng.chance(25) {
        f.repository = Some(rng.pick(REPOSITORY_FILTERS).into());
    }
    if rng.chance(25) {
        f.user_name = Some(rng.pick(USER_FILTERS).into());
    }
    if rng.chance(20) {
        f.kinds = rng.some_of(KINDS);
    }
    if rng.chance(15) {
        f.actions = rng.some_of(ACTIONS);
    }
    if rng.chance(20) {
        f.outcomes = rng.some_of(OUTCOMES);
    }
    // Fields the rollup does not have: the aggregate must read the index alone.
    if rng.chance(20) {
        match rng.below(4) {
            0 => f.operations = rng.some_of(OPERATIONS),
            1 => f.status = rng.pick(STATUSES).or(Some(200)),
            2 => f.remote_addr = Some(rng.pick(ADDR_FILTERS).into()),
            _ => f.request_id = Some(format!("req-{}", rng.below(100))),
        }
    }
    f
}

/// Checks every aggregate of `f` (each bucket × each grouping) against the model, given the rows `f` selects.
async fn check_aggregates(store: &SqliteStore, selected: &[&IndexRow], f: &EventFilter, label: &str) {
    for bucket in BUCKETS {
        for group in GROUPS {
            let got = store.aggregate_events(f, bucket, group).await.unwrap();
            let want = model_aggregate(selected, bucket, group);
            assert!(
                got == want,
                "{label}: aggregate_events({f:?}, {bucket:?}, {group:?}) differs from the model:\n{}",
                aggregate_diff(&got, &want)
            );
        }
    }
}

/// Pages through `query_events` and `query_entries` from `start` with `limit` until a short page, checking each
/// page's size and the whole run against `want` (the model's seqs in page order).
async fn check_pages(
    store: &SqliteStore,
    journal: &HashMap<u64, JournalRecord>,
    f: &EventFilter,
    start: Order,
    limit: u32,
    want: &[u64],
    label: &str,
) {
    let next = |order: Order, last: u64| match order {
        Order::NewestFirst { .. } => Order::NewestFirst { before: Some(last) },
        Order::OldestFirst { .. } => Order::OldestFirst { after: last },
    };
    let max_pages = want.len() / limit as usize + 2;

    let (mut seqs, mut order) = (Vec::new(), start);
    for _ in 0..max_pages {
        let page = store.query_events(f, order, limit).await.unwrap();
        assert!(page.len() <= limit as usize, "{label}: query_events page over the limit {limit}");
        seqs.extend_from_slice(&page);
        match page.last() {
            Some(&last) if page.len() == limit as usize => order = next(order, last),
            _ => break,
        }
    }
    assert_eq!(seqs, want, "{label}: query_events({f:?}, {start:?}, limit {limit}), paged to the end");

    let (mut entries, mut order) = (Vec::new(), start);
    for _ in 0..max_pages {
        let page = store.query_entries(f, order, limit).await.unwrap();
        assert!(page.len() <= limit as usize, "{label}: query_entries page over the limit {limit}");
        entries.extend_from_slice(&page);
        match page.last() {
            Some(last) if page.len() == limit as usize => order = next(order, last.seq),
            _ => break,
        }
    }
    let got: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(got, want, "{label}: query_entries({f:?}, {start:?}, limit {limit}) seqs, paged to the end");
    for e in &entries {
        assert_eq!(Some(e), journal.get(&e.seq), "{label}: query_entries returned a record unlike the journal's");
    }
}

/// Checks `filters` pseudo-random filters (plus a few fixed ones) against the model of `rows`, the index's
/// entire content.
async fn check_against_model(
    store: &SqliteStore,
    journal: &HashMap<u64, JournalRecord>,
    rows: &[IndexRow],
    seed: u64,
    filters: usize,
    label: &str,
) {
    let mut rng = Rng(seed);
    let whole = |from: i64, to: i64| EventFilter { from_ms: Some(from), to_ms: Some(to), ..EventFilter::default() };
    let first_hour = rows[0].ts_ms.div_euclid(HOUR) * HOUR;
    let mut fixed = vec![
        EventFilter::default(),
        whole(first_hour, first_hour + 24 * HOUR),
        whole(first_hour + 1, first_hour + 24 * HOUR - 1),
        EventFilter { namespace: Some("*".into()), ..EventFilter::default() },
        EventFilter { repository: Some("*".into()), user_name: Some("*".into()), ..EventFilter::default() },
        EventFilter { status: Some(200), ..EventFilter::default() },
    ];
    fixed.extend((0..filters).map(|_| random_filter(&mut rng, rows)));
    for (i, f) in fixed.iter().enumerate() {
        let label = format!("{label}, filter #{i}");
        let selected: Vec<&IndexRow> = rows.iter().filter(|r| matches(f, r)).collect();
        check_aggregates(store, &selected, f, &label).await;

        let matching: Vec<u64> = selected.iter().map(|r| r.seq).collect();
        let mut limit = rng.pick(&[1u32, 7, 100, 1000, 5000]);
        if matching.len() / limit as usize > 4 {
            limit = (matching.len() / 4) as u32 + 1; // keep the number of pages small
        }
        let newest: Vec<u64> = matching.iter().rev().copied().collect();
        check_pages(store, journal, f, Order::NewestFirst { before: None }, limit, &newest, &label).await;
        check_pages(store, journal, f, Order::OldestFirst { after: 0 }, limit, &matching, &label).await;
        // Starting from a cursor inside the data.
        let cursor = rng.range(0, N as i64 + 1) as u64;
        let below: Vec<u64> = newest.iter().copied().filter(|&s| s < cursor).collect();
        check_pages(store, journal, f, Order::NewestFirst { before: Some(cursor) }, limit, &below, &label).await;
        let above: Vec<u64> = matching.iter().copied().filter(|&s| s > cursor).collect();
        check_pages(store, journal, f, Order::OldestFirst { after: cursor }, limit, &above, &label).await;
    }
}

/// A store holding `N` journal events, and their index rows (not yet indexed).
struct Fixture {
    _dir: TempDir,
    store: SqliteStore,
    rows: Vec<IndexRow>,
    journal: HashMap<u64, JournalRecord>,
}

impl Fixture {
    async fn new(seed: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap();
        let mut seqs = Vec::new();
        for _ in 0..3 {
            let events: Vec<Box<dyn JournalEvent>> =
                (0..N / 3).map(|_| Box::new(Ev) as Box<dyn JournalEvent>).collect();
            seqs.extend(store.append_events(events).await.unwrap());
        }
        assert_eq!(seqs, (1..=N).collect::<Vec<_>>());
        let records = store.journal(1, N as usize + 10).await.unwrap();
        assert_eq!(records.len() as u64, N);
        let journal = records.into_iter().map(|r| (r.seq, r)).collect();
        let rows = generate_rows(N, seed);
        let span = rows[rows.len() - 1].ts_ms - rows[0].ts_ms;
        assert!((2 * DAY..5 * DAY).contains(&span), "the generated rows span {span} ms, not about three days");
        Fixture { _dir: dir, store, rows, journal }
    }

    /// Indexes `rows` (consecutive seqs) in pseudo-random batches, the first after `after`.
    async fn index(&self, rows: &[IndexRow], mut after: u64, seed: u64) -> u64 {
        let mut rng = Rng(seed);
        let mut rest = rows;
        while !rest.is_empty() {
            let n = (rng.range(1, 700) as usize).min(rest.len());
            let (batch, tail) = rest.split_at(n);
            let through = batch[n - 1].seq;
            self.store.index_events(batch.to_vec(), after, through).await.unwrap();
            after = through;
            rest = tail;
        }
        assert_eq!(self.store.indexed_through().await.unwrap(), after);
        after
    }

    fn journal_after(&self, through: u64) -> HashMap<u64, JournalRecord> {
        self.journal.iter().filter(|(&s, _)| s > through).map(|(&s, r)| (s, r.clone())).collect()
    }
}

#[tokio::test]
async fn aggregates_and_pages_equal_a_full_scan_after_batched_indexing() {
    let fx = Fixture::new(1).await;
    fx.index(&fx.rows, 0, 2).await;
    check_against_model(&fx.store, &fx.journal, &fx.rows, 3, 80, "indexed").await;
}

#[tokio::test]
async fn pruning_subtracts_exactly_the_pruned_rows_from_the_rollup() {
    let fx = Fixture::new(11).await;
    fx.index(&fx.rows, 0, 12).await;

    // Prune inside an hour (and inside a run of equal timestamps when there is one), so the rollup keeps part of
    // that hour's counts; then prune again further on, subtracting from rows already subtracted from.
    let inside_an_hour = |around: usize| {
        (around..fx.rows.len() - 1)
            .find(|&i| fx.rows[i].ts_ms == fx.rows[i + 1].ts_ms && fx.rows[i].ts_ms % HOUR != 0)
            .map(|i| fx.rows[i].seq)
            .unwrap()
    };
    for (round, through) in [inside_an_hour(1000), inside_an_hour(1700)].into_iter().enumerate() {
        fx.store.prune_journal(through, Vec::new()).await.unwrap();
        let rows: Vec<IndexRow> = fx.rows.iter().filter(|r| r.seq > through).cloned().collect();
        let label = format!("pruned through {through}");
        check_against_model(&fx.store, &fx.journal_after(through), &rows, 13 + round as u64, 35, &label).await;
    }

    // The newest entry always stays: pruning it is refused and changes nothing.
    assert!(matches!(fx.store.prune_journal(N, Vec::new()).await, Err(StoreError::Conflict(_))));
    let all = fx.store.aggregate_events(&EventFilter::default(), None, None).await.unwrap();
    assert_eq!(all, vec![Aggregate { bucket_ms: None, key: None, count: N - inside_an_hour(1700) }]);
}

#[tokio::test]
async fn reset_empties_the_rollup_and_a_partial_reindex_rebuilds_it() {
    let fx = Fixture::new(21).await;
    fx.index(&fx.rows, 0, 22).await;
    let pruned = 600;
    fx.store.prune_journal(pruned, Vec::new()).await.unwrap();

    fx.store.reset_index(Vec::new()).await.unwrap();
    assert_eq!(fx.store.indexed_through().await.unwrap(), 0);
    // Nothing indexed: every aggregate is empty, also over whole hours (the rollup's part), and so are the pages.
    let first_hour = fx.rows[0].ts_ms.div_euclid(HOUR) * HOUR;
    let whole =
        EventFilter { from_ms: Some(first_hour), to_ms: Some(first_hour + 48 * HOUR), ..EventFilter::default() };
    for f in [EventFilter::default(), whole] {
        for bucket in BUCKETS {
            for group in GROUPS {
                let got = fx.store.aggregate_events(&f, bucket, group).await.unwrap();
                assert_eq!(got, vec![], "after reset: aggregate_events({f:?}, {bucket:?}, {group:?})");
            }
        }
        assert_eq!(fx.store.query_events(&f, Order::NewestFirst { before: None }, 100).await.unwrap(), vec![]);
        assert_eq!(fx.store.query_entries(&f, Order::OldestFirst { after: 0 }, 100).await.unwrap(), vec![]);
    }

    // The indexer starts again from the journal's first entry (after the pruned ones), and gets part way.
    let part = 2_200;
    let rows: Vec<IndexRow> = fx.rows.iter().filter(|r| r.seq > pruned && r.seq <= part).cloned().collect();
    let through = fx.index(&rows, 0, 23).await;
    assert_eq!(through, part);
    check_against_model(&fx.store, &fx.journal_after(pruned), &rows, 24, 45, "re-indexed after reset").await;

    // An indexer still at its position from before the reset is refused, and writes nothing (the check below
    // would count its rows twice otherwise).
    let rest: Vec<IndexRow> = fx.rows[part as usize..].to_vec();
    let refused = fx.store.index_events(rest.clone(), N - 1, N).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(fx.store.indexed_through().await.unwrap(), part);

    // The rest, indexed on top.
    fx.index(&rest, part, 25).await;
    let rows: Vec<IndexRow> = fx.rows.iter().filter(|r| r.seq > pruned).cloned().collect();
    check_against_model(&fx.store, &fx.journal_after(pruned), &rows, 26, 20, "fully re-indexed after reset").await;
}

/// Compares every aggregate of each of `filters` with the model, and `query_events` with the model's seqs.
async fn check_filters(fx: &Fixture, rows: &[IndexRow], filters: &[EventFilter], label: &str) {
    for f in filters {
        let selected: Vec<&IndexRow> = rows.iter().filter(|r| matches(f, r)).collect();
        check_aggregates(&fx.store, &selected, f, label).await;
        let seqs = fx.store.query_events(f, Order::OldestFirst { after: 0 }, N as u32).await.unwrap();
        assert_eq!(seqs, selected.iter().map(|r| r.seq).collect::<Vec<_>>(), "{label}: query_events({f:?})");
    }
}

// The indexer indexes an entry it cannot parse with empty kind, action and outcome.
#[tokio::test]
async fn an_empty_kind_action_or_outcome_is_the_same_group_from_rollup_and_index() {
    let fx = Fixture::new(31).await;
    let mut rows = fx.rows.clone();
    for r in rows.iter_mut().filter(|r| r.seq % 10 == 0) {
        (r.kind, r.action, r.outcome) = (String::new(), String::new(), String::new());
    }
    fx.index(&rows, 0, 32).await;
    let h = rows[0].ts_ms.div_euclid(HOUR) * HOUR;
    let filters = [
        EventFilter::default(), // rollup alone
        EventFilter { from_ms: Some(h + 5), to_ms: Some(h + 30 * HOUR + 7), ..Default::default() }, // both
        EventFilter { kinds: vec![String::new()], ..Default::default() },
        EventFilter { status: Some(200), ..Default::default() }, // index alone
    ];
    check_filters(&fx, &rows, &filters, "empty kind, action, outcome").await;
}

#[tokio::test]
async fn an_empty_text_filter_matches_no_event_from_rollup_or_index() {
    let fx = Fixture::new(41).await;
    fx.index(&fx.rows, 0, 42).await;
    let h = fx.rows[0].ts_ms.div_euclid(HOUR) * HOUR;
    let filters = [
        EventFilter { namespace: Some(String::new()), ..Default::default() },
        EventFilter { repository: Some(String::new()), from_ms: Some(h + 5), ..Default::default() },
        EventFilter { user_name: Some(String::new()), to_ms: Some(h + 20 * HOUR), ..Default::default() },
    ];
    check_filters(&fx, &fx.rows, &filters, "empty text filter").await;
}

// Cursors come from clients too (an SSE `Last-Event-ID`): past every seq, they must not wrap around.
#[tokio::test]
async fn cursors_beyond_every_seq_do_not_wrap() {
    let fx = Fixture::new(51).await;
    fx.index(&fx.rows, 0, 52).await;
    let all = EventFilter::default();
    for after in [N, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let page = fx.store.query_entries(&all, Order::OldestFirst { after }, 10).await.unwrap();
        assert!(page.is_empty(), "after {after}: {} entries", page.len());
    }
    for before in [N + 1, i64::MAX as u64 + 1, u64::MAX] {
        let page = fx.store.query_events(&all, Order::NewestFirst { before: Some(before) }, 3).await.unwrap();
        assert_eq!(page, vec![N, N - 1, N - 2], "before {before}");
    }
    let first = fx.store.query_events(&all, Order::NewestFirst { before: Some(1) }, 3).await.unwrap();
    assert!(first.is_empty());
}
