//! Addresses, parsed rather than compared as text.
//!
//! - [`is_loopback_host`]: plain `http://` is allowed only to loopback. Loopback is an *address*:
//!   `127.0.0.0/8`, `::1` (also in its long forms and as `::ffff:127.x.y.z`) and the name `localhost`.
//!   Nothing else: `127.0.0.1.nip.io`, `127.attacker.example` and `localhost.evil.example` are names that
//!   any DNS server may point anywhere.
//! - [`Origin`]: scheme, host and port of a URL (RFC 6454). Credentials stay with their origin: two URLs
//!   share credentials only when their parsed origins are equal — never by string prefix
//!   (`http://127.0.0.1:4000` is not a prefix-owner of `http://127.0.0.1:40001`, nor
//!   `https://registry.example.com` of `https://registry.example.com.attacker.net`).

use std::net::{IpAddr, Ipv6Addr};

/// Is `host` (a URL host: a name, an IPv4 address, or an IPv6 address with or without brackets) a
/// loopback address?
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// The origin of a URL: lower-case scheme, lower-case host (IPv6 in brackets, normalised), and the port
/// (the scheme's default when none is written).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// Parse `scheme://[userinfo@]host[:port][/path...]`. `None` for anything that is not an absolute URL
    /// with a host, or whose port is not a number in 1..=65535.
    pub fn parse(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_host_port(hostport)?;
        let port = match port {
            Some(p) => p,
            None => default_port(&scheme)?,
        };
        Some(Origin { scheme, host, port })
    }

    /// `scheme://host:port`, fit to print (no path, no credentials).
    pub fn to_url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// Is this origin's host a loopback address?
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_url())
    }
}

/// Do two URLs have the same origin? `false` when either does not parse.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (Origin::parse(a), Origin::parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.rsplit('+').next().unwrap_or(scheme) {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// `host[:port]` or `[v6][:port]` → (normalised host, port).
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(after) = s.strip_prefix('[') {
        let (v6, tail) = after.split_once(']')?;
        let addr: Ipv6Addr = v6.parse().ok()?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?),
        };
        (format!("[{addr}]"), port)
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let valid = !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
        if !valid {
            return None;
        }
        let host = h.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            // `http://./` or `http://.../`: dots alone name no host.
            return None;
        }
        (host, p)
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|n| *n != 0)?),
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_an_address() {
        for yes in [
            "127.0.0.1",
            "127.1.2.3",
            "127.255.255.254",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "::1",
            "[::1]",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(yes), "{yes} is loopback");
        }
        for no in [
            "127.0.0.1.nip.io",
            "127.attacker.example",
            "localhost.evil.example",
            "evil-localhost",
            "128.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "127.0.0.256",
            "127.1",
            "0x7f.0.0.1",
            "",
            "[::1",
        ] {
            assert!(!is_loopback_host(no), "{no} is not loopback");
        }
    }

    #[test]
    fn origins_compare_parsed_parts_not_prefixes() {
        assert!(same_origin(
            "http://127.0.0.1:4000/v2/x",
            "http://127.0.0.1:4000/other?q=1"
        ));
        assert!(!same_origin("http://127.0.0.1:4000/v2", "http://127.0.0.1:40001/v2"));
        assert!(!same_origin(
            "https://registry.example.com/v2",
            "https://registry.example.com.attacker.net/v2"
        ));
        assert!(!same_origin("https://r.example/v2", "http://r.example/v2"));
        assert!(same_origin("https://R.Example:443/a", "https://r.example/b"));
        assert!(same_origin("http://u:p@h.example/a", "http://h.example:80/b"));
        assert!(!same_origin("https://h.example@evil.example/", "https://h.example/"));
        assert!(same_origin("http://[::1]:5000/a", "http://[0:0::1]:5000/b"));
        assert!(!same_origin("not a url", "not a url"));
        assert!(!same_origin("https://h.example:0/", "https://h.example:0/"));
        assert!(!same_origin("https://h.example:99999/", "https://h.example:99999/"));
        assert_eq!(
            Origin::parse("HTTPS://Hooks.Example.Test/services/x").map(|o| o.to_url()),
            Some("https://hooks.example.test:443".to_string())
        );
    }

    /// Every 4-piece combination of URL syntax (83,521 strings): no parser panics.
    #[test]
    fn url_syntax_combinations_never_panic() {
        const PIECES: [&str; 17] = [
            "http",
            "https",
            "://",
            "[",
            "]",
            ":",
            "@",
            "/",
            "?",
            "#",
            "127.0.0.1",
            "::1",
            "99999",
            "0",
            "%",
            "é",
            "",
        ];
        let n = PIECES.len();
        for i in 0..n.pow(4) {
            let s: String = (0..4).map(|k| PIECES[(i / n.pow(k)) % n]).collect();
            let _ = Origin::parse(&s);
            let _ = is_loopback_host(&s);
            let _ = crate::mask::url_pieces(&s);
            let _ = crate::mask::percent_decode(&s);
            let _ = crate::mask::redact_url(&s);
        }
    }
}
