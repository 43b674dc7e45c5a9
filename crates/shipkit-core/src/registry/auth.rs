//! Registry credentials as the docker CLI keeps them, and the `WWW-Authenticate` challenges registries send.
//!
//! Credentials come from `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`): `credHelpers`
//! for the host, then `auths.<host>.auth` (base64 `user:password`), then `credsStore`. Helpers are run as
//! `docker-credential-<name> get` with the server on stdin. Every secret read is registered for masking.

use crate::exec::Command;
use crate::{Error, ExitCode, Result, ResultExt};
use base64::Engine;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// A user name and password (or identity token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Self {
        let c = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        crate::mask::register(&c.password);
        crate::mask::register(c.basic_token());
        c
    }
    /// `base64(user:password)`, the `auths.<host>.auth` form and the Basic header's value.
    pub fn basic_token(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.username, self.password))
    }
}

/// The user name docker uses for an identity (OAuth2 refresh) token instead of a password.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// The docker CLI's config file.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

fn read_config() -> Result<Option<(PathBuf, Map<String, Value>)>> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::auth(format!("cannot read {}: {e}", path.display()))),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some((path, m))),
        _ => Err(Error::auth(format!("{} is not a JSON object", path.display()))
            .hint("fix or remove the docker config file, then log in again")),
    }
}

/// The keys a registry may be stored under in `auths` / sent to helpers.
fn server_keys(registry: &str) -> Vec<String> {
    if registry == crate::registry::reference::DOCKER_HUB {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
            format!("https://{registry}/v1/"),
        ]
    }
}

/// The key `login` writes and helpers are asked with.
fn server_key(registry: &str) -> String {
    server_keys(registry).swap_remove(0)
}

/// Look up stored credentials for a registry (`docker.io`, `127.0.0.1:5000`). `Ok(None)` when none.
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    let Some((path, config)) = read_config()? else {
        return Ok(None);
    };
    let keys = server_keys(registry);
    if let Some(Value::Object(helpers)) = config.get("credHelpers") {
        if let Some(Value::String(helper)) = keys.iter().find_map(|k| helpers.get(k)) {
            return helper_get(helper, &server_key(registry));
        }
    }
    if let Some(Value::Object(auths)) = config.get("auths") {
        for k in &keys {
            let Some(entry) = auths.get(k) else { continue };
            if let Some(token) = entry
                .get("identitytoken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                return Ok(Some(Credentials::new(IDENTITY_TOKEN_USER, token)));
            }
            if let Some(Value::String(auth)) = entry.get("auth").filter(|a| a.as_str().is_some_and(|s| !s.is_empty())) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                    return Err(Error::auth(format!(
                        "{}: auths.\"{k}\".auth is not base64 of user:password",
                        path.display()
                    ))
                    .hint(format!("log in again: docker login {registry}")));
                };
                return Ok(Some(Credentials::new(user, pass)));
            }
        }
    }
    if let Some(Value::String(store)) = config.get("credsStore") {
        if !store.is_empty() {
            return helper_get(store, &server_key(registry));
        }
    }
    Ok(None)
}

/// Does the docker config name a credential helper for this registry (`credHelpers`)?
pub fn has_helper(registry: &str) -> Result<bool> {
    let Some((_, config)) = read_config()? else {
        return Ok(false);
    };
    let keys = server_keys(registry);
    Ok(
        matches!(config.get("credHelpers"), Some(Value::Object(h)) if keys.iter().any(|k| h.get(k).is_some_and(Value::is_string))),
    )
}

/// `docker-credential-<helper> get`: JSON `{"Username", "Secret"}`; "not found" is `None`.
fn helper_get(helper: &str, server: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{helper}");
    let out = Command::new(&program)
        .arg("get")
        .stdin_bytes(server.as_bytes().to_vec())
        .output()?;
    if out.status != 0 {
        if out.stdout.contains("not found") || out.stderr.contains("not found") {
            return Ok(None);
        }
        return Err(Error::auth(format!(
            "credential helper {program} failed for {server} (exit code {}): {}",
            out.status,
            out.stderr.trim()
        )));
    }
    let v: Value = serde_json::from_str(out.stdout.trim()).with_code(ExitCode::Auth, || {
        format!("credential helper {program} printed invalid JSON")
    })?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or_default();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(user, secret)))
}

/// Store credentials the way `docker login` does: through the configured helper, else in `auths`
/// (file mode 0600, written atomically, other keys kept). Returns where they went.
pub fn store(registry: &str, creds: &Credentials) -> Result<String> {
    let path = docker_config_path()
        .ok_or_else(|| Error::auth("cannot find the docker config directory").hint("set HOME or DOCKER_CONFIG"))?;
    let mut config = read_config()?.map(|(_, m)| m).unwrap_or_default();
    let key = server_key(registry);
    let helper = match (config.get("credHelpers"), config.get("credsStore")) {
        (Some(Value::Object(h)), _) if h.get(&key).is_some_and(Value::is_string) => h[&key].as_str().map(String::from),
        (_, Some(Value::String(s))) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if let Some(helper) = helper {
        let program = format!("docker-credential-{helper}");
        let payload = serde_json::json!({"ServerURL": key, "Username": creds.username, "Secret": creds.password});
        let out = Command::new(&program)
            .arg("store")
            .stdin_bytes(payload.to_string())
            .output()?;
        if out.status != 0 {
            return Err(Error::auth(format!(
                "credential helper {program} could not store: {}",
                out.stderr.trim()
            )));
        }
        return Ok(program);
    }
    let auths = config.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Value::Object(a) = auths {
        a.insert(key, serde_json::json!({ "auth": creds.basic_token() }));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_code(ExitCode::Auth, || format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(&Value::Object(config)).unwrap_or_default() + "\n";
    write_private(&tmp, &text).with_code(ExitCode::Auth, || format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_code(ExitCode::Auth, || format!("cannot write {}", path.display()))?;
    Ok(path.display().to_string())
}

/// Write a file only its owner can read (mode 0600).
pub fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"`
    /// or `Basic realm="..."`. Unknown schemes are `None`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(rest);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: get("realm")?,
                service: get("service"),
                scope: get("scope"),
            }),
            _ => None,
        }
    }
}

/// `k="v", k2=v2` with commas allowed inside quotes.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if chars.next().is_none() || name.trim().is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name.trim().to_string(), value.trim().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:samalba/my-app:pull,push".into()),
            }
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="shipkit-test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None, "realm is required");
    }

    #[test]
    fn debug_never_shows_password() {
        let c = Credentials::new("me", "pa55word-xyz");
        assert!(!format!("{c:?}").contains("pa55word"));
        assert_eq!(c.basic_token(), "bWU6cGE1NXdvcmQteHl6");
    }
}
