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
    rfc3339_utc(secs as i64)
}

/// Parse `10m`, `90s`, `1h`, `1m30s`, `1m 30s`, `500ms`, or plain seconds (`95`, `1.5`).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::usage(format!("invalid duration `{s}`")).hint("write it like 10m, 90s, 1m30s or 500ms");
    let t = s.trim();
    if let Ok(n) = t.parse::<f64>() {
        return if n >= 0.0 && n.is_finite() {
            Ok(Duration::from_secs_f64(n))
        } else {
            Err(bad())
        };
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
        total += Duration::from_secs_f64(n * unit);
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
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
        for bad in ["", "10x", "m", "10m5", "-3"] {
            let e = parse_duration(bad).unwrap_err();
            assert_eq!(e.code, crate::ExitCode::Usage, "{bad}");
        }
    }
}
