//! The usage logs' chart: counts per day (or hour) stacked by kind, drawn as SVG on the server from the audit
//! index's aggregates, so it needs no script and shows exactly what `/api/v1/audit/aggregate` answers.

use std::collections::BTreeMap;
use std::fmt::Write;

use vigil_store::index::{Aggregate, Bucket};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
/// Kinds drawn in their own colour; the rest are stacked together as "other".
const PALETTE: [&str; 9] =
    ["#3b6fd4", "#d4823b", "#3ba86b", "#c94848", "#8a5cc7", "#4aa8b8", "#b8a23b", "#c75c9e", "#6b7280"];
const OTHER: &str = "#a3a3a3";

pub struct LegendItem {
    pub key: String,
    pub count: u64,
}

pub struct Chart {
    /// The SVG element; every text in it escaped here.
    pub svg: String,
    pub legend: Vec<LegendItem>,
    pub total: u64,
    /// `day` or `hour`.
    pub unit: &'static str,
}

/// The bucket a range is drawn in: hours up to two days, days beyond.
pub fn bucket_for(from_ms: i64, to_ms: i64) -> Bucket {
    if to_ms - from_ms <= 2 * 86_400_000 {
        Bucket::Hour
    } else {
        Bucket::Day
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn label(ms: i64, bucket: Bucket) -> String {
    let t = vigil_core::time::rfc3339_ms(ms);
    match bucket {
        Bucket::Day => t[..10].to_owned(),
        Bucket::Hour => format!("{} {}:00", &t[5..10], &t[11..13]),
    }
}

pub fn draw(groups: &[Aggregate], from_ms: i64, to_ms: i64, bucket: Bucket) -> Chart {
    let step = match bucket {
        Bucket::Day => 86_400_000,
        Bucket::Hour => 3_600_000,
    };
    let first = from_ms.div_euclid(step) * step;
    let buckets = ((to_ms - first).max(1) + step - 1) / step;
    let buckets = buckets.clamp(1, 1000) as usize;
    // Kinds by their total, largest first; the palette goes to the largest.
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for g in groups {
        *totals.entry(g.key.as_deref().unwrap_or("unknown")).or_default() += g.count;
    }
    let mut kinds: Vec<(&str, u64)> = totals.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let color_of = |kind: &str| -> &'static str {
        kinds.iter().position(|(k, _)| *k == kind).and_then(|i| PALETTE.get(i)).copied().unwrap_or(OTHER)
    };
    // Per bucket, the count of each colour, stacked in the legend's order.
    let mut stacks: Vec<BTreeMap<usize, (String, u64)>> = vec![BTreeMap::new(); buckets];
    for g in groups {
        let Some(at) = g.bucket_ms else { continue };
        let i = ((at - first) / step).clamp(0, buckets as i64 - 1) as usize;
        let kind = g.key.as_deref().unwrap_or("unknown");
        let rank = kinds.iter().position(|(k, _)| *k == kind).unwrap_or(usize::MAX).min(PALETTE.len());
        let slot = stacks[i]
            .entry(rank)
            .or_insert_with(|| (if rank < PALETTE.len() { kind.to_owned() } else { "other".to_owned() }, 0));
        slot.1 += g.count;
    }
    let max = stacks.iter().map(|s| s.values().map(|(_, n)| n).sum::<u64>()).max().unwrap_or(0).max(1);
    let (plot_w, plot_h) = (WIDTH - LEFT, HEIGHT - BOTTOM);
    let bar_w = plot_w / buckets as f64;
    let unit = if bucket == Bucket::Day { "day" } else { "hour" };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" preserveAspectRatio="none"><title id="chart-title">Events per {unit}, stacked by kind (most {max} in one {unit})</title>"#
    );
    for (frac, value) in [(0.0, 0), (0.5, max / 2), (1.0, max)] {
        let y = plot_h - frac * (plot_h - 8.0);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#d4d4d8" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#52525b">{value}</text>"##,
            LEFT - 6.0,
            y + 4.0
        );
    }
    for (i, stack) in stacks.iter().enumerate() {
        let x = LEFT + i as f64 * bar_w;
        let at = first + i as i64 * step;
        let mut y = plot_h;
        for (rank, (kind, count)) in stack {
            let h = *count as f64 / max as f64 * (plot_h - 8.0);
            y -= h;
            let color = if *rank < PALETTE.len() { color_of(kind) } else { OTHER };
            let _ = write!(
                svg,
                r#"<rect x="{:.2}" y="{y:.2}" width="{:.2}" height="{h:.2}" fill="{color}"><title>{}: {count} ({})</title></rect>"#,
                x + bar_w * 0.1,
                (bar_w * 0.8).max(0.5),
                escape(kind),
                escape(&label(at, bucket)),
            );
        }
    }
    let every = (buckets / 8).max(1);
    for i in (0..buckets).step_by(every) {
        let x = LEFT + (i as f64 + 0.5) * bar_w;
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#52525b">{}</text>"##,
            HEIGHT - 6.0,
            escape(&label(first + i as i64 * step, bucket))
        );
    }
    svg.push_str("</svg>");
    let mut legend: Vec<LegendItem> =
        kinds.iter().take(PALETTE.len()).map(|(k, n)| LegendItem { key: (*k).to_owned(), count: *n }).collect();
    let rest: u64 = kinds.iter().skip(PALETTE.len()).map(|(_, n)| n).sum();
    if rest > 0 {
        legend.push(LegendItem { key: "other".into(), count: rest });
    }
    Chart { svg, total: kinds.iter().map(|(_, n)| n).sum(), legend, unit }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(at: i64, key: &str, count: u64) -> Aggregate {
        Aggregate { bucket_ms: Some(at), key: Some(key.to_owned()), count }
    }

    #[test]
    fn bars_stack_counts_per_bucket_and_escape_names() {
        let day = 86_400_000;
        let groups = [group(0, "pull_repo", 3), group(0, "<script>", 1), group(2 * day, "pull_repo", 5)];
        let chart = draw(&groups, 0, 3 * day, Bucket::Day);
        assert_eq!(chart.total, 9);
        assert_eq!(chart.legend[0].key, "pull_repo");
        assert_eq!(chart.legend[0].count, 8);
        assert_eq!(chart.svg.matches("<rect").count(), 3, "one rect per kind and bucket with events");
        assert!(chart.svg.contains("&lt;script&gt;: 1") && !chart.svg.contains("<script>"));
        assert_eq!(bucket_for(0, day), Bucket::Hour);
        assert_eq!(bucket_for(0, 7 * day), Bucket::Day);
    }
}
