//! Versions as docker tags carry them, and which tags float.
//!
//! A *floating* tag follows the newest release of a line: `latest` (every release), `1` (1.x.y), `1.2`
//! (1.2.x), with or without a leading `v`. Every other tag (`1.2.3`, `1.2.3-rc.1`, `sha-abc1234`,
//! `build-…`) is *exact*: it names one image and is published first; floating tags move only after it.

use std::cmp::Ordering;

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE]` (build metadata ignored; a leading `v` allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Dot-separated prerelease identifiers (empty for a release).
    pub pre: Vec<String>,
}

impl Version {
    /// `1.2.3`, `v1.2.3`, `1.2.3-rc.1`, `1.2.3+build` (metadata dropped). `None` for anything else.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let s = s.split('+').next().unwrap_or(s);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut nums = core.split('.');
        let major = number(nums.next()?)?;
        let minor = number(nums.next()?)?;
        let patch = number(nums.next()?)?;
        if nums.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => vec![],
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(String::from).collect();
                if ids
                    .iter()
                    .any(|i| i.is_empty() || !i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                {
                    return None;
                }
                ids
            }
        };
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    pub fn is_release(&self) -> bool {
        self.pre.is_empty()
    }
}

/// A decimal number without a sign, at most 18 digits (no overflow, no `+1`).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        Ok(())
    }
}

impl Ord for Version {
    /// Semantic-version precedence: a prerelease sorts below its release; numeric identifiers compare
    /// as numbers and below alphanumeric ones.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => cmp_pre(&self.pre, &other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (number(x), number(y)) {
            (Some(m), Some(n)) => m.cmp(&n),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The releases a floating tag follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// `latest`: every release.
    All,
    /// `1`: 1.x.y.
    Major(u64),
    /// `1.2`: 1.2.x.
    Minor(u64, u64),
}

impl Line {
    /// The line a tag floats on, `None` for an exact tag.
    pub fn of_tag(tag: &str) -> Option<Line> {
        if tag == "latest" {
            return Some(Line::All);
        }
        let t = tag.strip_prefix('v').unwrap_or(tag);
        let mut parts = t.split('.');
        let major = number(parts.next()?)?;
        match (parts.next(), parts.next()) {
            (None, _) => Some(Line::Major(major)),
            (Some(m), None) => Some(Line::Minor(major, number(m)?)),
            _ => None,
        }
    }

    /// Does `v` belong to this line?
    pub fn contains(self, v: &Version) -> bool {
        match self {
            Line::All => true,
            Line::Major(m) => v.major == m,
            Line::Minor(m, n) => v.major == m && v.minor == n,
        }
    }
}

/// Is this tag floating (`latest`, `1`, `1.2`, `v1`, `v1.2`)?
pub fn is_floating(tag: &str) -> bool {
    Line::of_tag(tag).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_and_orders_like_semver() {
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert_eq!(v("1.2.3+build.5").to_string(), "1.2.3");
        assert!(v("1.2.4") > v("1.2.3"));
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(v("1.2.3") > v("1.2.3-rc.1"));
        assert!(v("1.2.3-rc.10") > v("1.2.3-rc.9"));
        assert!(v("1.2.3-rc.1") > v("1.2.3-1"));
        assert!(v("1.2.3-alpha.1") > v("1.2.3-alpha"));
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "x.y.z",
            "+1.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "99999999999999999999.0.0",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn floating_tags_and_their_lines() {
        assert_eq!(Line::of_tag("latest"), Some(Line::All));
        assert_eq!(Line::of_tag("1"), Some(Line::Major(1)));
        assert_eq!(Line::of_tag("v4.2"), Some(Line::Minor(4, 2)));
        for exact in [
            "1.2.3",
            "1.2.3-rc.1",
            "sha-abc1234",
            "build-1f2e",
            "stable",
            "pr-7",
            "1.x",
            "",
        ] {
            assert!(!is_floating(exact), "{exact}");
        }
        assert!(Line::Minor(1, 2).contains(&v("1.2.9")));
        assert!(!Line::Minor(1, 2).contains(&v("1.3.0")));
        assert!(Line::Major(1).contains(&v("1.3.0")));
        assert!(Line::All.contains(&v("7.0.0")));
    }
}
