//! Secret masking: every line a shipkit tool prints goes through [`mask`].
//!
//! Secrets are registered explicitly ([`register`]) by the code that reads them (a token flag, a webhook
//! URL, a registry password) and, at start-up, from environment variables whose names say they are secrets
//! ([`register_from_env`]: `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*WEBHOOK*`, `*API_KEY*`, ...).

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Shorter values are not masked: masking "1" or "yes" everywhere would make output unreadable
/// and protects nothing.
const MIN_SECRET_LEN: usize = 6;

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Register a secret value so that it is masked in all output from now on.
pub fn register(secret: impl AsRef<str>) {
    let secret = secret.as_ref().trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut list = registry().lock().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|s| s == secret) {
        list.push(secret.to_string());
        // Longest first, so that a secret containing another is masked whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Register a URL whose path or query carries a secret (webhooks): the whole URL, and its
/// path-and-query part alone, so the secret is masked even when printed without the host.
pub fn register_url(url: &str) {
    register(url);
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        if let Some(idx) = rest.find(['/', '?']) {
            let tail = &rest[idx..];
            if tail.len() > 1 {
                register(tail);
            }
        }
        if let Some((userinfo, _)) = rest.split_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                register(password);
            }
        }
    }
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
                if value.contains("://") {
                    register_url(value);
                } else {
                    register(value);
                }
            }
        }
    }
}

/// Replace every registered secret in `text` with `***`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let list = registry().lock().unwrap_or_else(|p| p.into_inner());
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
            let rest = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if rest.len() > host.len() {
                format!("{scheme}://{host}/{MASK}")
            } else {
                format!("{scheme}://{host}")
            }
        }
        None => MASK.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secrets_longest_first() {
        register("supersecret-token-123");
        register("supersecret");
        let out = mask("auth supersecret-token-123 and supersecret");
        assert_eq!(out, "auth *** and ***");
    }

    #[test]
    fn short_values_are_not_masked() {
        register("abc");
        assert_eq!(mask("abc def"), "abc def");
    }

    #[test]
    fn url_path_is_masked_alone_too() {
        register_url("https://hooks.example.test/services/T000/B000/XXXXXXXXXXXX");
        assert_eq!(
            mask("posting to /services/T000/B000/XXXXXXXXXXXX failed"),
            "posting to *** failed"
        );
        assert_eq!(
            redact_url("https://user:pw@hooks.example.test/services/x?y=1"),
            "https://hooks.example.test/***"
        );
        assert_eq!(redact_url("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("SLACK_WEBHOOK_URL"));
        assert!(is_secret_name("GITHUB_TOKEN"));
        assert!(is_secret_name("registry_password"));
        assert!(!is_secret_name("AWS_REGION"));
        assert!(!is_secret_name("CIRCLE_BRANCH"));
    }
}
