//! A small client for the OCI distribution API (the registry HTTP API v2) on top of
//! `crate::http`: manifests (HEAD, GET, PUT the same bytes), blobs (HEAD, GET, cross-repository
//! mount, monolithic upload), and the registry auth flow (anonymous, Basic, Bearer tokens from the
//! `WWW-Authenticate` challenge) with credentials from the docker config.
//!
//! Retries: connection errors, 408, 429 and 5xx are retried with backoff (`Retry-After` through
//! `crate::retry_after`: bounded, never a panic, capped by the backoff's `max`); a
//! 401 on a request that carried a token (an expired token in the middle of a push) fetches a new token
//! and tries again once. Every request has the `--registry-timeout` deadline; after SIGINT/SIGTERM no new
//! request starts and a retry wait ends at once.
//!
//! Credentials stay with their origin: an `Authorization` header goes only to the scheme, host and port of
//! the registry that challenged (compared parsed, `crate::net::same_origin`); a redirect to another origin
//! (S3 or a CDN behind the registry) is followed without it.
//!
//! Amazon ECR hosts get their password from ECR itself ([`crate::ecr`]) unless the docker config names a
//! credential helper for the host; a 401 to such a token asks ECR again once; ECR's own errors (immutable
//! tag, missing repository) are explained.

use crate::http::{Client as Http, Request, Response};
use crate::net::same_origin;
use crate::retry::Backoff;
use crate::{Error, ExitCode, Result};
use auth::{Challenge, Credentials};
use reference::{is_plain_http, ImageRef, Repo};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub mod auth;
mod blobs;
pub mod ecr;
pub mod manifest;
pub mod reference;
pub mod referrers;
mod session;
pub mod tag_schema;

pub use manifest::{
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
    /// How the user logs in, for hints: `docker login` by default (docker-tag-push names its own `login`).
    pub login_command: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure: vec![],
            backoff: Backoff::default(),
            timeout: Duration::from_secs(600),
            allow_retag: false,
            login_command: "docker login".into(),
        }
    }
}

/// What is known of a host's credentials: they are looked up once, lazily.
#[derive(Clone, Default)]
enum KnownCreds {
    /// Not looked up yet (or forgotten after a 401 to an ECR token we got ourselves).
    #[default]
    NotLookedUp,
    /// Looked up: `None` = no credentials (anonymous requests).
    Known(Option<Credentials>),
}

#[derive(Default)]
struct HostAuth {
    creds: KnownCreds,
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
    pub ecr: Arc<crate::registry::ecr::Tokens>,
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
            .user_agent(concat!("shipkit/", env!("CARGO_PKG_VERSION")))
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
        self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Use these credentials for a registry instead of the docker config (for `login`).
    pub fn set_credentials(&self, registry: &str, creds: Credentials) {
        self.hosts().entry(registry.to_string()).or_default().creds = KnownCreds::Known(Some(creds));
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
        format!("{scheme}://{}", crate::registry::reference::api_host(registry))
    }

    /// The credentials for a registry: given (`login`), an ECR token, or from the docker config.
    pub fn creds(&self, registry: &str) -> Result<Option<Credentials>> {
        if let Some(KnownCreds::Known(c)) = self.hosts().get(registry).map(|h| h.creds.clone()) {
            return Ok(c);
        }
        let ecr = match crate::registry::ecr::EcrHost::parse(registry) {
            Some(h) if !crate::registry::auth::has_helper(registry)? => Some(h),
            _ => None,
        };
        let c = match &ecr {
            Some(h) => Some(self.ecr.credentials(h)?),
            None => crate::registry::auth::lookup(registry)?,
        };
        let mut hosts = self.hosts();
        let entry = hosts.entry(registry.to_string()).or_default();
        entry.creds = KnownCreds::Known(c.clone());
        entry.native_ecr = ecr.is_some();
        Ok(c)
    }

    fn url(&self, repo: &Repo, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base_url(&repo.registry), repo.path)
    }

    /// `.../manifests/<tag or digest>`, the reference checked first (one that came from a registry's
    /// answer, a child digest say, never reaches a URL unchecked).
    fn manifest_url(&self, repo: &Repo, reference: &str) -> Result<String> {
        checked_reference(reference)?;
        Ok(self.url(repo, &format!("manifests/{reference}")))
    }

    /// `.../blobs/<digest>`, the digest checked first.
    fn blob_url(&self, repo: &Repo, digest: &str) -> Result<String> {
        checked_digest(digest)?;
        Ok(self.url(repo, &format!("blobs/{digest}")))
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
        let url = self.manifest_url(&r.repo, r.reference.as_str())?;
        let req = Request::new("HEAD", &url).header("Accept", ACCEPT_MANIFESTS);
        let resp = self.send(&r.repo.registry, &[scope_pull(&r.repo)], req)?;
        match resp.status {
            200 => match resp.header("docker-content-digest") {
                Some(d) if !d.is_empty() => {
                    if crate::registry::reference::validate_digest(d).is_err() {
                        return Err(Error::remote(format!(
                            "{r}: the registry answered an invalid digest {:?}",
                            d.chars().take(100).collect::<String>()
                        )));
                    }
                    if let crate::registry::reference::Reference::Digest(asked) = &r.reference {
                        if asked != d {
                            return Err(Error::remote(format!("{r}: the registry answered another digest, {d}")));
                        }
                    }
                    Ok(Some(d.to_string()))
                }
                _ => Ok(self.get_manifest(r)?.map(|m| m.digest)),
            },
            404 => Ok(None),
            _ => Err(unexpected("HEAD manifest", &r.to_string(), &resp)),
        }
    }

    /// The manifest bytes, `None` when it does not exist. The digest is computed from the bytes.
    pub fn get_manifest(&self, r: &ImageRef) -> Result<Option<Manifest>> {
        let url = self.manifest_url(&r.repo, r.reference.as_str())?;
        let req = Request::new("GET", &url).header("Accept", ACCEPT_MANIFESTS);
        let resp = self.send(&r.repo.registry, &[scope_pull(&r.repo)], req)?;
        match resp.status {
            200 => {
                if resp.body.len() > crate::registry::manifest::MAX_MANIFEST_BYTES {
                    return Err(Error::remote(format!(
                        "{r}: the manifest is {} bytes, more than the {} a manifest may be",
                        resp.body.len(),
                        crate::registry::manifest::MAX_MANIFEST_BYTES
                    )));
                }
                let m = Manifest::from_bytes(resp.body.clone(), resp.header("content-type"))?;
                if let crate::registry::reference::Reference::Digest(d) = &r.reference {
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
        let url = self.manifest_url(repo, reference)?;
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

/// A tag or digest about to go into a URL; a malformed one (from a registry's answer) is a remote error.
fn checked_reference(reference: &str) -> Result<()> {
    if reference.contains(':') {
        return checked_digest(reference);
    }
    crate::registry::reference::validate_tag(reference).map_err(|_| {
        Error::remote(format!(
            "refusing to request the invalid tag {:?}",
            reference.chars().take(100).collect::<String>()
        ))
    })
}

/// A digest about to go into a URL.
pub(crate) fn checked_digest(digest: &str) -> Result<()> {
    crate::registry::reference::validate_digest(digest).map_err(|_| {
        Error::remote(format!(
            "refusing to request the invalid digest {:?}",
            digest.chars().take(100).collect::<String>()
        ))
        .hint("it came from a registry's answer: the registry or a proxy in front of it is broken or hostile")
    })
}

/// The error for a status we did not expect, with the registry's own error code and message.
fn unexpected(what: &str, target: &str, resp: &Response) -> Error {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let first = v.get("errors").and_then(|e| e.get(0));
    let field = |k: &str| first.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or("");
    if let Some(e) = crate::registry::ecr::explain(target, resp.status, field("code"), field("message")) {
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
    let detail = v.get("errors").and_then(|e| e.get(0)).map_or_else(
        || {
            let t = resp.text();
            t.trim().chars().take(200).collect()
        },
        |e| {
            format!(
                "{}: {}",
                e.get("code").and_then(Value::as_str).unwrap_or(""),
                e.get("message").and_then(Value::as_str).unwrap_or("")
            )
        },
    );
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
    crate::mask::percent_encode(s)
}

/// Run `f` on every item, each on its own scoped thread (registry calls are latency-bound, not CPU-bound),
/// and return the results in order; a worker that panicked becomes an error.
pub fn parallel_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> Result<T> + Sync) -> Vec<Result<T>> {
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
