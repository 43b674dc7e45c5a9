//! `Retry-After` (RFC 9110 §10.2.3) from a server we do not trust, parsed into a bounded wait.
//!
//! | header value | wait |
//! | --- | --- |
//! | delta-seconds (`120`; `1.5` accepted) | that long, at most [`MAX_RETRY_AFTER`] |
//! | an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 and asctime forms too) | until then (zero if past), at most [`MAX_RETRY_AFTER`] |
//! | huge (`1e20`, `99999999999999999999`) or a date years ahead | [`MAX_RETRY_AFTER`] |
//! | negative, `inf`, `nan`, empty, garbage | `None`: the caller's own backoff decides |
//!
//! Never a panic: `Duration::from_secs_f64` aborts on `inf` and on values past `u64::MAX` seconds, so
//! every number goes through [`crate::time::secs_f64_bounded`] first. The caller's backoff `max` caps the
//! wait further (notify's `--max-wait`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait any `Retry-After` can ask for: 5 minutes. A server asking for more is treated as
/// asking for this much; a CI job should not sit idle longer on one server's word.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Parse a `Retry-After` value, as seen at `now`.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    if v.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
        return parse_seconds(v);
    }
    let at = parse_http_date(v)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Some(Duration::from_secs(at.saturating_sub(now)).min(MAX_RETRY_AFTER))
}

fn parse_seconds(v: &str) -> Option<Duration> {
    // All digits: may exceed u64 (then it is huge, i.e. the cap).
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match v.parse::<u64>() {
            Ok(n) => Duration::from_secs(n).min(MAX_RETRY_AFTER),
            Err(_) => MAX_RETRY_AFTER,
        });
    }
    let n: f64 = v.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some(crate::time::secs_f64_bounded(n, MAX_RETRY_AFTER).unwrap_or(MAX_RETRY_AFTER))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// An HTTP-date in any of its three forms, as Unix seconds.
pub fn parse_http_date(v: &str) -> Option<u64> {
    let cleaned = v.replace(',', " ");
    let parts: Vec<&str> = cleaned.split_whitespace().collect();
    let (day, month, year, clock) = match parts.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT; asctime: Sun Nov  6 08:49:37 1994
        [_, d, m, y, t, "GMT"] | [_, m, d, t, y] => (*d, *m, y.parse::<i64>().ok()?, *t),
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [_, dmy, t, "GMT"] => {
            let mut it = dmy.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 2 {
                return None;
            }
            let yy: i64 = y.parse().ok()?;
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
            (d, m, if yy < 70 { 2000 + yy } else { 1900 + yy }, *t)
        }
        _ => return None,
    };
    let month = i64::try_from(MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))?).ok()? + 1;
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let mut hms = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..=60).contains(&s) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, RFC 9110's example date.
    const EXAMPLE: u64 = 784_111_777;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_table() {
        let now = at(EXAMPLE - 30);
        let cap = Some(MAX_RETRY_AFTER);
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("7", Some(Duration::from_secs(7))),
            (" 120 ", Some(Duration::from_secs(120))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("301", cap),
            ("1e20", cap),
            ("1e308", cap),
            ("18446744073709551616", cap),
            ("99999999999999999999999999", cap),
            ("inf", None),
            ("-inf", None),
            ("+inf", None),
            ("infinity", None),
            ("nan", None),
            ("NaN", None),
            ("-1", None),
            ("-0.5", None),
            ("", None),
            ("soon", None),
            ("1 2", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::from_secs(30))),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(Duration::from_secs(30))),
            ("Sun Nov  6 08:49:37 1994", Some(Duration::from_secs(30))),
            ("Sun, 06 Nov 1994 08:40:00 GMT", Some(Duration::ZERO)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", cap),
            ("Sun, 06 Nov 1994 25:49:37 GMT", None),
            ("Sun, 32 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 PST", None),
            ("Sun, 06 Nov 99999999999999999999 08:49:37 GMT", None),
        ];
        for (value, want) in table {
            assert_eq!(parse(value, now), *want, "Retry-After: {value:?}");
        }
    }

    #[test]
    fn dates_are_exact() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(EXAMPLE));
        assert_eq!(parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
    }

    #[test]
    fn no_input_panics() {
        let now = SystemTime::now();
        for s in [
            "\u{0}",
            "٣",
            "1e",
            "e1",
            ".",
            "-",
            "+",
            "..",
            "Mon, -1 Jan 2020 00:00:00 GMT",
            "a b c d e",
        ] {
            let _ = parse(s, now);
        }
        assert_eq!(parse(&"9".repeat(65), now), None);
    }
}
