//! C2SP tlog-tiles paths and entry bundles.
//!
//! A path is `tile/<L>/<N>[.p/<W>]` (hashes) or `tile/entries/<N>[.p/<W>]` (entries), where `N` is written in
//! groups of three digits, every group but the last prefixed with `x` (`x001/x234/067`). Parsing accepts only the
//! canonical spelling, so one tile has one URL and caches never hold two copies.

use crate::store::TILE_WIDTH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Hashes of tree level `8 * L`.
    Hashes(u8),
    Entries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    pub kind: TileKind,
    pub index: u64,
    /// Number of hashes or entries: 256 for a full tile, 1..=255 for a partial one.
    pub width: u64,
}

impl TilePath {
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Parses the part of the path after `tile/`.
    pub fn parse(rest: &str) -> Result<TilePath, String> {
        let bad = || format!("not a tile path: tile/{rest}");
        let (kind_part, rest_n) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            let level: u8 = kind_part.parse().map_err(|_| bad())?;
            if level > 63 || kind_part != level.to_string() {
                return Err(bad());
            }
            TileKind::Hashes(level)
        };
        let (index_part, width) = match rest_n.split_once(".p/") {
            Some((n, w)) => {
                let width: u64 = w.parse().map_err(|_| bad())?;
                if !(1..TILE_WIDTH).contains(&width) || w != width.to_string() {
                    return Err(bad());
                }
                (n, width)
            }
            None => (rest_n, TILE_WIDTH),
        };
        let index = parse_index(index_part).ok_or_else(bad)?;
        Ok(TilePath { kind, index, width })
    }

    /// The canonical path, starting `tile/`.
    pub fn to_path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".into(),
        };
        let mut path = format!("tile/{kind}/{}", format_index(self.index));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }
}

fn format_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { *g } else { g.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    // No leading zero groups: `x000/005` is not the canonical spelling of 5.
    (format_index(n) == s).then_some(n)
}

/// An entry bundle: each entry prefixed by its length as a big-endian u16.
pub fn bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| format!("an entry of {} bytes does not fit a bundle", e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of a bundle.
pub fn unbundle(mut data: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        if data.len() < 2 {
            return Err("an entry bundle ends inside a length prefix".into());
        }
        let len = u16::from_be_bytes([data[0], data[1]]) as usize;
        if data.len() < 2 + len {
            return Err("an entry bundle ends inside an entry".into());
        }
        entries.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_in_their_canonical_form_only() {
        let p = TilePath::parse("1/x001/x234/067.p/8").unwrap();
        assert_eq!(p, TilePath { kind: TileKind::Hashes(1), index: 1_234_067, width: 8 });
        assert_eq!(p.to_path(), "tile/1/x001/x234/067.p/8");
        assert_eq!(TilePath::parse("entries/005").unwrap().to_path(), "tile/entries/005");
        assert_eq!(TilePath::parse("0/x001/000").unwrap().index, 1000);
        for bad in ["0/5", "0/x000/005", "0/005.p/0", "0/005.p/256", "0/005.p/08", "01/005", "64/000", "e/000", "0/x05"]
        {
            assert!(TilePath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bundles_round_trip_and_reject_oversized_entries() {
        let b = bundle([b"ab".as_slice(), b"", b"xyz"]).unwrap();
        assert_eq!(b, b"\x00\x02ab\x00\x00\x00\x03xyz");
        assert_eq!(unbundle(&b).unwrap(), vec![b"ab".as_slice(), b"", b"xyz"]);
        assert!(unbundle(&b[..b.len() - 1]).is_err());
        assert!(bundle([vec![0u8; 70_000].as_slice()]).is_err());
    }
}
