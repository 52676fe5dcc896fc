//! Timestamps as RFC 3339 text, without a calendar dependency (UTC only, which is all vigil writes).

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let ms = ts_ms.rem_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Formats milliseconds since the Unix epoch as RFC 2822 in UTC, the way Quay writes log times:
/// `Tue, 02 Jan 2024 10:11:12 -0000`.
pub fn rfc2822(ts_ms: i64) -> String {
    format!("{} -0000", day_and_time(ts_ms))
}

/// Formats milliseconds since the Unix epoch as an HTTP date (RFC 9110 IMF-fixdate, for `Last-Modified`):
/// `Tue, 02 Jan 2024 10:11:12 GMT`.
pub fn http_date(ts_ms: i64) -> String {
    format!("{} GMT", day_and_time(ts_ms))
}

/// `Tue, 02 Jan 2024 10:11:12`, in UTC.
fn day_and_time(ts_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = ts_ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[m as usize - 1],
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The number written at `r` in `s`, when every character there is an ASCII digit.
fn digits(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(r)?;
    part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok()).flatten()
}

/// Quay's `MM/DD/YYYY` (UTC midnight), in milliseconds; `None` unless it is a real date in that exact form.
pub fn parse_us_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[2] != b'/' || b[5] != b'/' {
        return None;
    }
    date_ms(digits(s, 6..10)?, digits(s, 0..2)?, digits(s, 3..5)?)
}

/// An ISO 8601 calendar date `YYYY-MM-DD` (UTC midnight), in milliseconds; `None` unless it is a real date in
/// that exact form. Quay's documentation uses it beside `MM/DD/YYYY`.
pub fn parse_iso_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    date_ms(digits(s, 0..4)?, digits(s, 5..7)?, digits(s, 8..10)?)
}

/// RFC 3339 to the second or finer (`2026-11-21T09:15:02Z`, `…T09:15:02.481+01:00`), in milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r| digits(s, r);
    let day = date_ms(num(0..4)?, num(5..7)?, num(8..10)?)?;
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3 = format!("{:0<3}", &frac[..digits.min(3)]);
        ms = first3.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || !matches!(ob[0], b'+' | b'-') || ob[3] != b':' {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if ob[0] == b'-' { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
    };
    Some(day + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + ms)
}

/// Milliseconds at UTC midnight of a real calendar date.
fn date_ms(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
    if d > len {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000)
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_instants() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::rfc3339_ms(1_795_000_000_000), "2026-11-18T11:06:40.000Z");
    }

    #[test]
    fn rfc2822_as_quay_writes_it() {
        assert_eq!(super::rfc2822(0), "Thu, 01 Jan 1970 00:00:00 -0000");
        assert_eq!(super::rfc2822(1_704_190_272_000), "Tue, 02 Jan 2024 10:11:12 -0000");
        assert_eq!(super::http_date(1_704_190_272_000), "Tue, 02 Jan 2024 10:11:12 GMT");
    }

    #[test]
    fn dates_parse_strictly() {
        use super::{parse_iso_date, parse_rfc3339, parse_us_date};
        assert_eq!(parse_iso_date("2024-01-02"), Some(1_704_153_600_000));
        assert_eq!(parse_iso_date("2024-02-29"), Some(1_709_164_800_000));
        for bad in ["2023-02-29", "2024-13-01", "2024-1-02", "2024/01/02", "2024-01-02T00:00:00Z", "+024-01-02"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        assert_eq!(parse_us_date("01/02/2024"), Some(1_704_153_600_000));
        assert_eq!(parse_us_date("02/29/2024"), Some(1_709_164_800_000));
        for bad in ["02/30/2024", "13/01/2024", "1/2/2024", "01-02-2024", "00/10/2024", "02/29/2023", "aa/bb/cccc"] {
            assert_eq!(parse_us_date(bad), None, "{bad}");
        }
        assert_eq!(parse_rfc3339("2024-01-02T10:11:12Z"), Some(1_704_190_272_000));
        assert_eq!(parse_rfc3339("2024-01-02T10:11:12.5Z"), Some(1_704_190_272_500));
        assert_eq!(parse_rfc3339("2024-01-02T11:11:12+01:00"), Some(1_704_190_272_000));
        for bad in ["2024-01-02", "2024-01-02T25:00:00Z", "2024-02-30T00:00:00Z", "2024-01-02T10:11:12", "x"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
