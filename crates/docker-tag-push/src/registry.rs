//! A small client for the OCI distribution API (the registry HTTP API v2) on top of
//! `shipkit_core::http`: manifests (HEAD, GET, PUT the same bytes), blobs (HEAD, GET, cross-repository
//! mount, monolithic upload), and the registry auth flow (anonymous, Basic, Bearer tokens from the
//! `WWW-Authenticate` challenge) with credentials from the docker config.
//!
//! Retries: connection errors, 408, 429 and 5xx are retried with backoff (`Retry-After` through
//! `shipkit_core::retry_after`: bounded, never a panic, capped by the backoff's `max`); a
//! 401 on a request that carried a token (an expired token in the middle of a push) fetches a new token
//! and tries again once. Every request has the `--registry-timeout` deadline; after SIGINT/SIGTERM no new
//! request starts and a retry wait ends at once.
//!
//! Credentials stay with their origin: an `Authorization` header goes only to the scheme, host and port of
//! the registry that challenged (compared parsed, `shipkit_core::net::same_origin`); a redirect to another origin
//! (S3 or a CDN behind the registry) is followed without it.
//!
//! Amazon ECR hosts get their password from ECR itself ([`crate::ecr`]) unless the docker config names a
//! credential helper for the host; a 401 to such a token asks ECR again once; ECR's own errors (immutable
//! tag, missing repository) are explained.

use crate::auth::{Challenge, Credentials};
use crate::reference::{is_plain_http, ImageRef, Repo};
use serde_json::Value;
use shipkit_core::http::{Client as Http, HttpError, Request, Response};
use shipkit_core::net::same_origin;
use shipkit_core::retry::Backoff;
use shipkit_core::{Error, ExitCode, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod blobs;

pub use crate::manifest::{
    hex, sha256_digest, Descriptor, Manifest, ACCEPT_MANIFESTS, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
    OCI_MANIFEST,
};

/// Pages of 1,000 tags read at most by [`Client::list_tags`].
pub const MAX_TAG_PAGES: usize = 100;

/// The target of `Link: </v2/x/tags/list?n=1000&last=y>; rel="next"`.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "").eq_ignore_ascii_case("rel=\"next\"") || p.trim() == "rel=next")
            .then(|| target.to_string())
    })
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Registries reached over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    pub backoff: Backoff,
    /// Per request (blob uploads included).
    pub timeout: Duration,
    /// Publishing policy: may a release tag holding another digest be moved (`--allow-retag`)?
    pub allow_retag: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure: vec![],
            backoff: Backoff::default(),
            timeout: Duration::from_secs(600),
            allow_retag: false,
        }
    }
}

#[derive(Default)]
struct HostAuth {
    /// Looked up once, lazily (`None` = not looked up yet).
    creds: Option<Option<Credentials>>,
    /// The credentials are an ECR token from GetAuthorizationToken (asked again after a 401).
    native_ecr: bool,
    challenge: Option<Challenge>,
    /// `Authorization` header values by scope set.
    headers: HashMap<String, String>,
}

/// The registry client. One per run (clones share it); it keeps tokens per registry and scope.
#[derive(Clone)]
pub struct Client {
    http: Http,
    /// For streaming blobs between registries (no body held in memory).
    agent: ureq::Agent,
    opts: Options,
    hosts: Arc<Mutex<HashMap<String, HostAuth>>>,
    /// ECR registry tokens of this run.
    pub ecr: Arc<crate::ecr::Tokens>,
}

fn scope_pull(repo: &Repo) -> String {
    format!("repository:{}:pull", repo.path)
}
fn scope_push(repo: &Repo) -> String {
    format!("repository:{}:pull,push", repo.path)
}

impl Client {
    pub fn new(opts: Options) -> Client {
        let mut http = Http::new(opts.timeout, opts.backoff);
        http.max_body = 64 * 1024 * 1024;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .timeout_connect(Some(opts.timeout.min(Duration::from_secs(30))))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("shipkit-docker-tag-push/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            http,
            agent,
            opts,
            hosts: Arc::new(Mutex::new(HashMap::new())),
            ecr: Arc::default(),
        }
    }

    fn hosts(&self) -> MutexGuard<'_, HashMap<String, HostAuth>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Use these credentials for a registry instead of the docker config (for `login`).
    pub fn set_credentials(&self, registry: &str, creds: Credentials) {
        self.hosts().entry(registry.to_string()).or_default().creds = Some(Some(creds));
    }

    /// May release tags holding another digest be moved (`--allow-retag`)?
    pub fn allow_retag(&self) -> bool {
        self.opts.allow_retag
    }

    pub fn base_url(&self, registry: &str) -> String {
        let scheme = if is_plain_http(registry, &self.opts.insecure) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", crate::reference::api_host(registry))
    }

    /// The credentials for a registry: given (`login`), an ECR token, or from the docker config.
    pub fn creds(&self, registry: &str) -> Result<Option<Credentials>> {
        if let Some(c) = self.hosts().get(registry).and_then(|h| h.creds.clone()) {
            return Ok(c);
        }
        let ecr = match crate::ecr::EcrHost::parse(registry) {
            Some(h) if !crate::auth::has_helper(registry)? => Some(h),
            _ => None,
        };
        let c = match &ecr {
            Some(h) => Some(self.ecr.credentials(h)?),
            None => crate::auth::lookup(registry)?,
        };
        let mut hosts = self.hosts();
        let entry = hosts.entry(registry.to_string()).or_default();
        entry.creds = Some(c.clone());
        entry.native_ecr = ecr.is_some();
        Ok(c)
    }

    /// After a 401 to an ECR token we got ourselves: forget it, so the next request asks ECR again.
    fn forget_native_token(&self, registry: &str) {
        let mut hosts = self.hosts();
        let Some(h) = hosts.get_mut(registry).filter(|h| h.native_ecr) else {
            return;
        };
        h.creds = None;
        h.headers.clear();
        if let Some(host) = crate::ecr::EcrHost::parse(registry) {
            self.ecr.forget(&host);
        }
    }

    /// One HTTP exchange with transient-failure retries; a transport failure is exit code 7. No request
    /// starts after SIGINT/SIGTERM, and a retry wait ends at the signal.
    fn exchange(&self, req: &Request) -> Result<Response> {
        let target = format!("{} {}", req.method, strip_query(&req.url));
        let attempts = self.opts.backoff.attempts.max(1);
        // core's transport messages start with the method and a redacted URL: say it once, in full.
        let redacted = format!("{} {}: ", req.method, shipkit_core::mask::redact_url(&req.url));
        let clean = |why: &str| why.strip_prefix(&redacted).unwrap_or(why).to_string();
        let mut attempt = 1;
        loop {
            shipkit_core::cancel::check(&format!("before {target}"))?;
            if shipkit_core::exec::verbose() {
                shipkit_core::term::info(&format!("> {} {}", req.method, req.url));
            }
            let (why, retry_after) = match self.http.send_once(req) {
                Ok(r) if !r.is_transient() => return Ok(r),
                Ok(r) if attempt >= attempts => {
                    return Err(
                        Error::remote(format!("{target}: {} (after {attempts} attempts)", describe(&r)))
                            .hint("the registry is failing; run again later: tags already published are skipped"),
                    )
                }
                Ok(r) => (describe(&r), r.retry_after()),
                Err(e) => {
                    let why = match e {
                        HttpError::Transport(m) => clean(&m),
                        HttpError::Status(r) => describe(&r),
                    };
                    if attempt >= attempts {
                        return Err(Error::remote(format!("{target}: {why} (after {attempts} attempts)")).hint(
                            "check that the registry is up and reachable, then run again: tags already published are skipped",
                        ));
                    }
                    (why, None)
                }
            };
            let wait = self.opts.backoff.delay(attempt, retry_after);
            shipkit_core::term::warn(&format!(
                "{target}: {why}; retrying in {:.1}s (attempt {}/{attempts})",
                wait.as_secs_f64(),
                attempt + 1
            ));
            shipkit_core::cancel::sleep(wait, &format!("while waiting to retry {target}"))?;
            attempt += 1;
        }
    }

    /// Send a request to a registry with auth: a known challenge is answered up front; a 401 is answered
    /// (token fetched or refreshed, Basic credentials) and the request sent once more.
    pub fn send(&self, registry: &str, scopes: &[String], mut req: Request) -> Result<Response> {
        // Parsed origins, never a string prefix: 127.0.0.1:4000 is not 127.0.0.1:40001.
        let same_host = same_origin(&req.url, &self.base_url(registry));
        let base_headers = req.headers.clone();
        if same_host {
            if let Some(h) = self.auth_header(registry, scopes, false)? {
                req.headers.push(("Authorization".into(), h));
            }
        }
        let sent_auth = req.headers.iter().any(|(k, _)| k == "Authorization");
        let resp = self.exchange(&req)?;
        if resp.status != 401 || !same_host {
            return Ok(resp);
        }
        if sent_auth {
            self.forget_native_token(registry);
        }
        let challenge = resp
            .header("www-authenticate")
            .and_then(Challenge::parse)
            .ok_or_else(|| {
                Error::auth(format!(
                    "{registry} answered 401 Unauthorized without a usable challenge"
                ))
            })?;
        self.hosts().entry(registry.to_string()).or_default().challenge = Some(challenge);
        let header = self.auth_header(registry, scopes, true)?;
        req.headers = base_headers;
        if let Some(h) = header {
            req.headers.push(("Authorization".into(), h));
        }
        let resp = self.exchange(&req)?;
        if resp.status == 401 {
            return Err(
                Error::auth(format!("{registry} refused the credentials (401 Unauthorized)")).hint(format!(
                    "check the user and password: docker-tag-push login {registry} --username USER --password-stdin"
                )),
            );
        }
        Ok(resp)
    }

    /// The `Authorization` value for these scopes, if the registry asked for one.
    fn auth_header(&self, registry: &str, scopes: &[String], refresh: bool) -> Result<Option<String>> {
        let key = scopes.join(" ");
        let challenge = {
            let hosts = self.hosts();
            let Some(h) = hosts.get(registry) else { return Ok(None) };
            if !refresh {
                if let Some(v) = h.headers.get(&key) {
                    return Ok(Some(v.clone()));
                }
            }
            match &h.challenge {
                Some(c) => c.clone(),
                None => return Ok(None),
            }
        };
        let header = match challenge {
            Challenge::Basic => {
                let creds = self.creds(registry)?.ok_or_else(|| {
                    Error::auth(format!("{registry} requires credentials and none are stored for it")).hint(format!(
                        "log in first: docker-tag-push login {registry} --username USER --password-stdin (or docker login)"
                    ))
                })?;
                format!("Basic {}", creds.basic_token())
            }
            Challenge::Bearer { realm, service, scope } => {
                let token = self.fetch_token(registry, &realm, service.as_deref(), scope.as_deref(), scopes)?;
                format!("Bearer {token}")
            }
        };
        self.hosts()
            .entry(registry.to_string())
            .or_default()
            .headers
            .insert(key, header.clone());
        Ok(Some(header))
    }

    fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        challenge_scope: Option<&str>,
        scopes: &[String],
    ) -> Result<String> {
        let realm_host = realm
            .split_once("://")
            .map(|(_, r)| r.split(['/', '?']).next().unwrap_or(r))
            .unwrap_or("");
        if realm.starts_with("http://") && !is_plain_http(realm_host, &self.opts.insecure) {
            return Err(Error::auth(format!(
                "{registry} sends its token realm over plain HTTP ({realm}): refusing to send credentials"
            ))
            .hint(format!(
                "add --insecure-registry {realm_host} if that is really intended"
            )));
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut push = |k: &str, v: &str| {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&url_encode(v));
            sep = '&';
        };
        if let Some(s) = service {
            push("service", s);
        }
        let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
        if let Some(c) = challenge_scope {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        for s in &all {
            push("scope", s);
        }
        let creds = self.creds(registry)?;
        let req = match &creds {
            // An identity (refresh) token, as `az acr login` stores: the OAuth2 form of the token request.
            Some(c) if c.username == crate::auth::IDENTITY_TOKEN_USER => {
                let mut form = format!("grant_type=refresh_token&refresh_token={}", url_encode(&c.password));
                if let Some(s) = service {
                    form.push_str(&format!("&service={}", url_encode(s)));
                }
                form.push_str(&format!("&scope={}", url_encode(&all.join(" "))));
                Request::new("POST", realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form)
            }
            Some(c) => Request::new("GET", &url).header("Authorization", &format!("Basic {}", c.basic_token())),
            None => Request::new("GET", &url),
        };
        let resp = self.exchange(&req)?;
        match resp.status {
            200 => {}
            401 | 403 => {
                return Err(Error::auth(format!(
                    "the token service of {registry} refused the credentials (HTTP {})",
                    resp.status
                ))
                .hint(format!(
                    "log in again: docker-tag-push login {registry} --username USER --password-stdin"
                )))
            }
            _ => {
                return Err(Error::remote(format!(
                    "token request to {} failed: {}",
                    shipkit_core::mask::redact_url(realm),
                    describe(&resp)
                )))
            }
        }
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::auth(format!("the token service of {registry} returned no token")))?;
        shipkit_core::mask::register(token);
        Ok(token.to_string())
    }

    fn url(&self, repo: &Repo, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base_url(&repo.registry), repo.path)
    }

    /// `GET /v2/`: reachable, and (with auth) the credentials work.
    pub fn ping(&self, registry: &str) -> Result<()> {
        let url = format!("{}/v2/", self.base_url(registry));
        let resp = self.send(registry, &[], Request::new("GET", &url))?;
        if resp.is_success() {
            Ok(())
        } else {
            Err(unexpected("GET /v2/", registry, &resp))
        }
    }

    /// The digest a tag or digest points at, `None` when it does not exist.
    pub fn head_manifest(&self, r: &ImageRef) -> Result<Option<String>> {
        let url = self.url(&r.repo, &format!("manifests/{}", r.reference.as_str()));
        let req = Request::new("HEAD", &url).header("Accept", ACCEPT_MANIFESTS);
        let resp = self.send(&r.repo.registry, &[scope_pull(&r.repo)], req)?;
        match resp.status {
            200 => match resp.header("docker-content-digest") {
                Some(d) if !d.is_empty() => Ok(Some(d.to_string())),
                _ => Ok(self.get_manifest(r)?.map(|m| m.digest)),
            },
            404 => Ok(None),
            _ => Err(unexpected("HEAD manifest", &r.to_string(), &resp)),
        }
    }

    /// The manifest bytes, `None` when it does not exist. The digest is computed from the bytes.
    pub fn get_manifest(&self, r: &ImageRef) -> Result<Option<Manifest>> {
        let url = self.url(&r.repo, &format!("manifests/{}", r.reference.as_str()));
        let req = Request::new("GET", &url).header("Accept", ACCEPT_MANIFESTS);
        let resp = self.send(&r.repo.registry, &[scope_pull(&r.repo)], req)?;
        match resp.status {
            200 => {
                let m = Manifest::from_bytes(resp.body.clone(), resp.header("content-type"))?;
                if let crate::reference::Reference::Digest(d) = &r.reference {
                    if *d != m.digest {
                        return Err(Error::remote(format!(
                            "{r}: the registry served a manifest whose digest is {}",
                            m.digest
                        )));
                    }
                }
                Ok(Some(m))
            }
            404 => Ok(None),
            _ => Err(unexpected("GET manifest", &r.to_string(), &resp)),
        }
    }

    /// Every tag of a repository (`GET /v2/<name>/tags/list`, following `Link: rel="next"` pages on the same
    /// origin, at most [`MAX_TAG_PAGES`] pages); empty when the repository does not exist.
    pub fn list_tags(&self, repo: &Repo) -> Result<Vec<String>> {
        let base = self.base_url(&repo.registry);
        let mut url = self.url(repo, "tags/list?n=1000");
        let mut tags = vec![];
        for _ in 0..MAX_TAG_PAGES {
            let resp = self.send(&repo.registry, &[scope_pull(repo)], Request::new("GET", &url))?;
            match resp.status {
                200 => {}
                404 => return Ok(tags),
                _ => return Err(unexpected("list tags", &repo.to_string(), &resp)),
            }
            let v: Value = serde_json::from_slice(&resp.body)
                .map_err(|e| Error::remote(format!("{repo}: the tag list is not JSON: {e}")))?;
            if let Some(Value::Array(page)) = v.get("tags") {
                tags.extend(page.iter().filter_map(Value::as_str).map(String::from));
            }
            match resp.header("link").and_then(next_link) {
                Some(next) if next.starts_with('/') => url = format!("{base}{next}"),
                Some(next) if same_origin(&next, &base) => url = next,
                _ => return Ok(tags),
            }
        }
        Ok(tags)
    }

    /// PUT the same bytes with the same content type under a tag (or its digest); checks the digest kept.
    pub fn put_manifest(&self, repo: &Repo, reference: &str, m: &Manifest) -> Result<()> {
        let url = self.url(repo, &format!("manifests/{reference}"));
        let req = Request::new("PUT", &url)
            .header("Content-Type", &m.media_type)
            .body(m.bytes.clone());
        let resp = self.send(&repo.registry, &[scope_push(repo)], req)?;
        if !resp.is_success() {
            return Err(unexpected("PUT manifest", &format!("{repo}:{reference}"), &resp));
        }
        if let Some(d) = resp.header("docker-content-digest").filter(|d| !d.is_empty()) {
            if d != m.digest {
                return Err(Error::remote(format!(
                    "{repo}:{reference}: the registry stored digest {d}, expected {}",
                    m.digest
                )));
            }
        }
        Ok(())
    }
}

/// The error for a status we did not expect, with the registry's own error code and message.
fn unexpected(what: &str, target: &str, resp: &Response) -> Error {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let first = v.get("errors").and_then(|e| e.get(0));
    let field = |k: &str| first.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or("");
    if let Some(e) = crate::ecr::explain(target, resp.status, field("code"), field("message")) {
        return e;
    }
    let code = match resp.status {
        401 | 403 => ExitCode::Auth,
        404 => ExitCode::NotFound,
        400..=499 => ExitCode::Failure,
        _ => ExitCode::Remote,
    };
    let e = Error::new(code, format!("{what} {target}: {}", describe(resp)));
    match resp.status {
        403 => e.hint("the credentials lack push/pull permission on this repository"),
        _ => e,
    }
}

/// `HTTP 400 (MANIFEST_INVALID: manifest invalid)`.
fn describe(resp: &Response) -> String {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let detail = v
        .get("errors")
        .and_then(|e| e.get(0))
        .map(|e| {
            format!(
                "{}: {}",
                e.get("code").and_then(Value::as_str).unwrap_or(""),
                e.get("message").and_then(Value::as_str).unwrap_or("")
            )
        })
        .unwrap_or_else(|| {
            let t = resp.text();
            t.trim().chars().take(200).collect()
        });
    if detail.trim().is_empty() {
        format!("HTTP {}", resp.status)
    } else {
        format!("HTTP {} ({})", resp.status, detail.trim())
    }
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn url_encode(s: &str) -> String {
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

/// Run `f` on every item, each on its own scoped thread (registry calls are latency-bound, not CPU-bound),
/// and return the results in order; a worker that panicked becomes an error.
pub(crate) fn parallel_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> Result<T> + Sync) -> Vec<Result<T>> {
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items.iter().map(|item| scope.spawn(move || f(item))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::failure("a worker thread panicked")))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_parsed_defensively() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<https://x/y>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn encodes() {
        assert_eq!(
            url_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
