//! URL origins (scheme, host, port) compared as parsed values, never as string prefixes: credentials go
//! only to the origin that asked for them. `http://127.0.0.1:4000` is not `http://127.0.0.1:40001`, and
//! `https://registry.example.com` is not `https://registry.example.com.attacker.net` nor
//! `https://registry.example.com@attacker.net`.

/// The origin of an absolute `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`, lower-case.
    pub scheme: String,
    /// The host, lower-case, without brackets for IPv6 and without a trailing dot.
    pub host: String,
    /// The port, the scheme's default when not written.
    pub port: u16,
}

impl Origin {
    /// Parse the origin of `url`; `None` when it is not an absolute http(s) URL with a valid authority
    /// (an unparseable URL never matches anything, so it never receives credentials).
    pub fn parse(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        // The authority ends at the first `/`, `?` or `#`; user info ends at its last `@`.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.contains(['\\', ' ', '\t', '\r', '\n']) {
            return None;
        }
        let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (h, port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        let port = match port {
            None | Some("") => default_port,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5 => p.parse::<u16>().ok()?,
            Some(_) => return None,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Origin { scheme, host, port })
    }

    /// Do two URLs have the same origin? `false` when either does not parse.
    pub fn same(a: &str, b: &str) -> bool {
        matches!((Origin::parse(a), Origin::parse(b)), (Some(x), Some(y)) if x == y)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_only_when_scheme_host_and_port_match() {
        let base = "http://127.0.0.1:4000";
        assert!(Origin::same(base, "http://127.0.0.1:4000/v2/a/blobs/x"));
        assert!(Origin::same("https://r.example.com", "https://R.Example.com:443/v2/"));
        assert!(Origin::same("http://[::1]:5000", "http://[::1]:5000/v2/"));
        for other in [
            "http://127.0.0.1:40001/blob",
            "https://127.0.0.1:4000/v2/",
            "http://127.0.0.1/v2/",
            "http://127.0.0.1:4000.evil.example/x",
            "http://127.0.0.1:4000@evil.example/x",
            "http://localhost:4000/v2/",
            "ftp://127.0.0.1:4000/",
            "/v2/relative",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:4000\\@evil/",
        ] {
            assert!(!Origin::same(base, other), "{other}");
        }
        assert!(!Origin::same(
            "https://registry.example.com",
            "https://registry.example.com.attacker.net/x"
        ));
        assert!(!Origin::same(
            "https://registry.example.com",
            "https://registry.example.com@attacker.net/x"
        ));
        assert!(Origin::same(
            "https://registry.example.com",
            "https://user@registry.example.com/x"
        ));
    }

    #[test]
    fn parses_hostile_text_without_panic() {
        for s in [
            "",
            "://",
            "http://",
            "http://:80",
            "http://[::1",
            "http://[::1]x",
            "http://a:",
            "https://é:1/",
        ] {
            let _ = Origin::parse(s);
        }
        assert_eq!(Origin::parse("http://a:").map(|o| o.port), Some(80));
        assert_eq!(Origin::parse("http://[::1").map(|o| o.port), None);
    }
}
