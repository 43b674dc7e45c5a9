//! Secret masking by value: every line a shipkit tool prints goes through [`mask`] — stdout, stderr,
//! GitHub annotations, step summaries and output files ([`crate::term`], [`crate::output`],
//! [`crate::app::report`]).
//!
//! The registry holds secret values registered by the code that reads them ([`register`]: a token flag, a
//! registry password; [`register_url`]: a webhook URL) and, at start-up, the values of environment
//! variables whose names say they are secrets ([`register_from_env`]: `*TOKEN*`, `*SECRET*`,
//! `*PASSWORD*`, `*WEBHOOK*`, `*API_KEY*`, ...).
//!
//! Each value is masked in the forms a server or a log may echo it in: as is, percent-encoded (upper- and
//! lower-case hex, and `+` for spaces), JSON-escaped (with `/` plain and as `\/`, as Slack writes it).
//! A URL also registers its userinfo, every path segment and every query value that may be a secret
//! (see [`url_pieces`]), percent-decoded too, so a server answering `HTTP 401: invalid token: <segment>`
//! prints `***`.
//!
//! Values shorter than [`MIN_SECRET_LEN`] (4) characters are not masked, nor `true`/`false`/`yes`/`no`/
//! `on`/`off`/`null`/`none`: no credential is that short, and masking `1`, `on` or `true` everywhere
//! would rewrite ordinary output (JSON booleans, counts) without protecting anything. `hunt2` is masked.

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The shortest value masked (see the module docs for why not shorter).
pub const MIN_SECRET_LEN: usize = 4;

/// Values that are never secrets, whatever the variable's name (`SLACK_WEBHOOK_ENABLED=true`).
const NOT_SECRETS: [&str; 8] = ["true", "false", "yes", "no", "on", "off", "null", "none"];

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

fn maskable(value: &str) -> bool {
    value.chars().count() >= MIN_SECRET_LEN && !NOT_SECRETS.iter().any(|n| value.eq_ignore_ascii_case(n))
}

/// Register a secret value (and its encoded forms) so that it is masked in all output from now on.
pub fn register(secret: impl AsRef<str>) {
    let secret = secret.as_ref().trim();
    if !maskable(secret) {
        return;
    }
    let forms = encoded_forms(secret);
    let mut list = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = list.len();
    for f in forms {
        if f.chars().count() >= MIN_SECRET_LEN && !list.contains(&f) {
            list.push(f);
        }
    }
    if list.len() != before {
        // Longest first, so that a secret containing another is masked whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The forms a value may be echoed in: itself, percent-encoded (`%2F` and `%2f`, `+` for spaces) and
/// JSON-escaped (`/` plain and as `\/`).
pub fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let upper = percent_encode(secret);
    forms.push(upper.replace("%20", "+"));
    forms.push(lower_hex(&upper));
    forms.push(upper);
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or("").to_string();
    forms.push(json.replace('/', "\\/"));
    forms.push(json);
    let mut unique: Vec<String> = vec![];
    for f in forms {
        if !f.is_empty() && !unique.contains(&f) {
            unique.push(f);
        }
    }
    unique
}

/// RFC 3986 percent-encoding of everything but the unreserved characters, upper-case hex.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// `%XX` sequences decoded (invalid ones kept as written); `None` when the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Register a URL whose path or query carries a secret (webhooks): the whole URL, its path-and-query
/// part, its userinfo, and each piece from [`url_pieces`], so the secret is masked even when a server
/// echoes one piece of it.
pub fn register_url(url: &str) {
    let url = url.trim();
    register(url);
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let tail = &rest[authority_end..];
    if tail.len() > 1 {
        register(tail);
    }
    if let Some((userinfo, _)) = rest[..authority_end].rsplit_once('@') {
        register(userinfo);
        for part in userinfo.split(':') {
            register(part);
        }
    }
    for piece in url_pieces(url) {
        register(&piece);
    }
}

/// The path segments and query values of a URL that may be secrets, percent-decoded forms included.
/// Left out: pieces shorter than [`MIN_SECRET_LEN`] and plain words (only lower-case letters, `-`, `_`,
/// `.`, `/`, under 20 characters: `services`, `webhooks`, `api`, `triggers`, `invoke`), which name
/// places rather than hold credentials and would otherwise mask ordinary words like `services` in every
/// output. Such a URL is still masked whole and as its path-and-query.
pub fn url_pieces(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return vec![];
    };
    let start = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let tail = &rest[start..];
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q.split('#').next().unwrap_or("")),
        None => (tail.split('#').next().unwrap_or(""), ""),
    };
    let mut raw: Vec<&str> = path.split('/').collect();
    raw.extend(query.split('&').filter_map(|kv| kv.split_once('=').map(|(_, v)| v)));
    let mut pieces = vec![];
    for piece in raw {
        for form in [Some(piece.to_string()), percent_decode(piece)].into_iter().flatten() {
            if maskable(&form) && !plain_word(&form) && !pieces.contains(&form) {
                pieces.push(form);
            }
        }
    }
    pieces
}

fn plain_word(s: &str) -> bool {
    s.len() < 20 && s.chars().all(|c| c.is_ascii_lowercase() || "-_./".contains(c))
}

/// Does this environment variable name say its value is a secret?
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "WEBHOOK",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|k| n.contains(k))
}

/// Register every environment variable whose name says it is a secret.
pub fn register_from_env() {
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str()) {
            if is_secret_name(name) {
                register_value(value);
            }
        }
    }
}

/// Register a value that may be a URL (then its pieces too) or a plain secret.
pub fn register_value(value: &str) {
    if value.contains("://") {
        register_url(value);
    } else {
        register(value);
    }
}

/// Replace every registered secret (in any registered form) in `text` with `***`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let list = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if list.is_empty() || !list.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in list.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    Cow::Owned(out)
}

/// A URL fit to print: scheme and host kept, userinfo, path and query replaced
/// (`https://hooks.slack.com/***`).
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if rest.len() > end {
                format!("{scheme}://{host}/{MASK}")
            } else {
                format!("{scheme}://{host}")
            }
        }
        None => MASK.to_string(),
    }
}

#[cfg(test)]
#[path = "mask_tests.rs"]
mod tests;
