//! Dates and durations without a date crate: RFC 3339 timestamps for labels, tags and messages, and
//! the `10m` / `1m30s` / `500ms` durations every tool's flags take.

use crate::error::{Error, Result};
use std::time::Duration;

/// Seconds since the epoch (UTC) as RFC 3339, e.g. `2023-11-14T22:13:20Z`.
pub fn rfc3339_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, as [`rfc3339_utc`].
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339_utc(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// The longest duration any flag, env var or config value may give: 7 days. Anything longer is a typo
/// (or an attack on `Instant` arithmetic) and is refused with exit 2 naming this limit.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// `now + d`, saturating far in the future instead of panicking on overflow.
pub fn deadline_after(d: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    let mut d = d;
    loop {
        if let Some(t) = now.checked_add(d) {
            return t;
        }
        d /= 2;
    }
}

/// Seconds (any float text) into a `Duration` no longer than `max`; `None` for negative, NaN, infinite or
/// too-large values. The one place outside numbers become durations (`Retry-After`, flags, config).
pub fn secs_f64_bounded(n: f64, max: Duration) -> Option<Duration> {
    if n.is_finite() && n >= 0.0 && n <= max.as_secs_f64() {
        Some(Duration::from_secs_f64(n))
    } else {
        None
    }
}

/// Parse `10m`, `90s`, `1h`, `1m30s`, `1m 30s`, `500ms`, or plain seconds (`95`, `1.5`), at most
/// [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration> {
    parse_duration_max(s, MAX_DURATION)
}

/// [`parse_duration`] with a tighter limit; out of range is exit 2 naming the limit.
pub fn parse_duration_max(s: &str, max: Duration) -> Result<Duration> {
    let shown: String = s.chars().take(40).collect();
    let bad = || Error::usage(format!("invalid duration `{shown}`")).hint("write it like 10m, 90s, 1m30s or 500ms");
    let too_long = || {
        Error::usage(format!("duration `{shown}` is too long")).hint(format!("the limit is {}", human_duration(max)))
    };
    let t = s.trim();
    if let Ok(n) = t.parse::<f64>() {
        if n.is_nan() || n < 0.0 {
            return Err(bad());
        }
        return secs_f64_bounded(n, max).ok_or_else(too_long);
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut any = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return Err(bad()),
            }
        };
        if !n.is_finite() || n < 0.0 {
            return Err(bad());
        }
        let part = secs_f64_bounded(n * unit, max).ok_or_else(too_long)?;
        total = total.checked_add(part).filter(|t| *t <= max).ok_or_else(too_long)?;
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

/// A duration as people write it: `1h2m3s`, `4m10s`, `12s`, `850ms` (the one human formatter).
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.subsec_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("95").unwrap(), Duration::from_secs(95));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for huge in ["1e30", "18446744073709551615", "1e20s", "9999999h", "168h1s", "inf"] {
            let e = parse_duration(huge).unwrap_err();
            assert_eq!(e.code, crate::ExitCode::Usage, "{huge}");
        }
        assert!(parse_duration("1e30")
            .unwrap_err()
            .one_line()
            .contains("the limit is 168h"));
        assert_eq!(parse_duration("168h").unwrap(), MAX_DURATION);
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert!(deadline_after(Duration::MAX) > std::time::Instant::now());
        for bad in ["", "10x", "m", "10m5", "-3", "NaN", "-inf"] {
            let e = parse_duration(bad).unwrap_err();
            assert_eq!(e.code, crate::ExitCode::Usage, "{bad}");
        }
    }
}
