//! A small blocking HTTP client (ureq, rustls with ring) with deadlines, retries and credentials that stay
//! with their origin, for the tools that talk to registries and webhooks. Status codes are returned, not
//! raised: the caller decides.
//!
//! - **Deadlines**: every request has a connect deadline ([`Timeouts::connect`], default 10 s) and an
//!   overall one ([`Timeouts::total`]: connect, send, wait, read the body), both at most
//!   [`crate::time::MAX_DURATION`].
//! - **Retries**: [`Client::send`] retries connection errors, 408, 429 and 5xx with backoff, waiting for
//!   `Retry-After` when the server gives one ([`crate::retry_after`]: bounded, never a panic; capped again
//!   by the backoff's `max`). A SIGINT/SIGTERM stops the retries (see [`crate::retry`]).
//! - **Redirects**: not followed unless [`Client::redirects`] is above 0 (callers that handle 3xx
//!   themselves see them). When followed, `Authorization`, `Proxy-Authorization` and `Cookie` go only to
//!   the origin of the original request: a redirect to another origin (an S3/CDN-backed registry's blob
//!   storage) is followed without them, as docker and crane do; an `https` → `http` redirect is refused.

use crate::net::Origin;
use crate::retry::{retry, Attempt, Backoff};
use std::time::{Duration, SystemTime};

/// One HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: vec![],
            body: vec![],
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("Content-Type", "application/json").body(value.to_string())
    }
}

/// A response: status, headers (names lower-case), body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }
    /// `Retry-After` as a bounded wait (delta-seconds or HTTP-date; see [`crate::retry_after`]).
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| crate::retry_after::parse(v, SystemTime::now()))
    }
    /// Should this status be retried?
    pub fn is_transient(&self) -> bool {
        matches!(self.status, 408 | 429) || (500..600).contains(&self.status)
    }
}

/// What went wrong with a request that got no usable response.
#[derive(Debug, Clone)]
pub enum HttpError {
    /// Could not connect, reset, timed out, TLS failure, refused redirect... (message is masked text).
    Transport(String),
    /// The last response when retries ran out on a transient status.
    Status(Response),
}

impl HttpError {
    /// Did the request run out of time (connect or overall deadline)?
    pub fn is_timeout(&self) -> bool {
        match self {
            HttpError::Transport(m) => {
                let lower = m.to_ascii_lowercase();
                lower.contains("timeout") || lower.contains("timed out")
            }
            HttpError::Status(r) => r.status == 408,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Transport(m) => write!(f, "{}", crate::mask::mask(m)),
            HttpError::Status(r) => write!(f, "HTTP {}", r.status),
        }
    }
}

/// Per-request deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving and connecting (TCP and TLS).
    pub connect: Duration,
    /// The whole exchange: connect, send, wait for the answer, read the body.
    pub total: Duration,
}

impl Timeouts {
    /// The default connect deadline.
    pub const CONNECT: Duration = Duration::from_secs(10);

    /// `total` overall, connect within [`Timeouts::CONNECT`] (or `total` if shorter). Both bounded by
    /// [`crate::time::MAX_DURATION`]; a zero deadline becomes 1 ms (never "no deadline").
    pub fn new(total: Duration) -> Timeouts {
        let total = total.clamp(Duration::from_millis(1), crate::time::MAX_DURATION);
        Timeouts {
            connect: Self::CONNECT.min(total),
            total,
        }
    }
}

/// Headers that carry credentials: sent only to the origin they were meant for.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The client: deadlines per request, backoff for retries, max body size read, redirects followed.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub backoff: Backoff,
    pub max_body: u64,
    pub timeouts: Timeouts,
    /// Redirects to follow per request (0: return 3xx responses to the caller). At most 10.
    pub redirects: u8,
}

impl Client {
    /// A client with `timeout` as each request's overall deadline (see [`Timeouts::new`]).
    pub fn new(timeout: Duration, backoff: Backoff) -> Self {
        Self::with_timeouts(Timeouts::new(timeout), backoff)
    }

    pub fn with_timeouts(timeouts: Timeouts, backoff: Backoff) -> Self {
        let timeouts = Timeouts {
            connect: timeouts
                .connect
                .clamp(Duration::from_millis(1), crate::time::MAX_DURATION),
            total: timeouts
                .total
                .clamp(Duration::from_millis(1), crate::time::MAX_DURATION),
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeouts.total))
            .timeout_connect(Some(timeouts.connect))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("shipkit/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            backoff,
            max_body: 64 * 1024 * 1024,
            timeouts,
            redirects: 0,
        }
    }

    /// Follow up to `n` redirects (at most 10), credentials kept to their origin.
    pub fn follow_redirects(mut self, n: u8) -> Self {
        self.redirects = n.min(10);
        self
    }

    /// One attempt, no retries, redirects followed as configured. Any status is a response.
    pub fn send_once(&self, req: &Request) -> Result<Response, HttpError> {
        let origin = Origin::parse(&req.url);
        let mut current = req.clone();
        let mut hops = 0u8;
        loop {
            let resp = self.exchange(&current)?;
            if !resp.is_redirect() || hops >= self.redirects {
                return Ok(resp);
            }
            current = redirected(&current, &resp, origin.as_ref())?;
            hops += 1;
        }
    }

    fn exchange(&self, req: &Request) -> Result<Response, HttpError> {
        let shown = || format!("{} {}", req.method, crate::mask::redact_url(&req.url));
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(req.url.as_str());
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder
            .body(req.body.clone())
            .map_err(|e| HttpError::Transport(format!("bad request {}: {e}", shown())))?;
        let mut resp = self
            .agent
            .run(request)
            .map_err(|e| HttpError::Transport(format!("{}: {e}", shown())))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = if req.method == "HEAD" {
            vec![]
        } else {
            resp.body_mut()
                .with_config()
                .limit(self.max_body)
                .read_to_vec()
                .map_err(|e| HttpError::Transport(format!("reading the response to {}: {e}", shown())))?
        };
        Ok(Response { status, headers, body })
    }

    /// Send with retries on connection errors, 408, 429 and 5xx. `on_retry(attempt, why, wait)` reports
    /// each retry (to print a progress line). A non-transient status is returned as a response.
    pub fn send(&self, req: &Request, mut on_retry: impl FnMut(u32, &str, Duration)) -> Result<Response, HttpError> {
        retry(
            self.backoff,
            |attempt, e: &HttpError, wait| on_retry(attempt, &e.to_string(), wait),
            |_| match self.send_once(req) {
                Ok(r) if r.is_transient() => {
                    let ra = r.retry_after();
                    Err(Attempt::Retry(HttpError::Status(r), ra))
                }
                Ok(r) => Ok(r),
                Err(e) => Err(Attempt::Retry(e, None)),
            },
        )
    }
}

/// The request a redirect asks for: `Location` resolved against the current URL; 303 (and 301/302 of a
/// POST) become a GET without body; credential headers dropped when the new origin is not `origin`.
pub fn redirected(current: &Request, resp: &Response, origin: Option<&Origin>) -> Result<Request, HttpError> {
    let shown = crate::mask::redact_url(&current.url);
    let location = resp
        .header("location")
        .ok_or_else(|| HttpError::Transport(format!("{shown}: HTTP {} redirect without Location", resp.status)))?;
    let next_url = resolve_location(&current.url, location)
        .ok_or_else(|| HttpError::Transport(format!("{shown}: redirect to an invalid Location")))?;
    let next_origin = Origin::parse(&next_url);
    let from_https = Origin::parse(&current.url).is_some_and(|o| o.scheme == "https");
    if from_https && next_origin.as_ref().is_some_and(|o| o.scheme != "https") {
        return Err(HttpError::Transport(format!(
            "{shown}: refused a redirect from https to {}",
            crate::mask::redact_url(&next_url)
        )));
    }
    let mut next = current.clone();
    next.url = next_url;
    let to_get = resp.status == 303 || (matches!(resp.status, 301 | 302) && current.method == "POST");
    if to_get {
        next.method = "GET".into();
        next.body.clear();
        next.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type") && !k.eq_ignore_ascii_case("content-length"));
    }
    if origin.is_none() || next_origin.as_ref() != origin {
        next.headers
            .retain(|(k, _)| !CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c)));
    }
    Ok(next)
}

/// Resolve a `Location` header against the URL that sent it (absolute, `//host/...`, `/path`, `path`).
pub fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() || location.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    if let Some((scheme, _)) = location.split_once("://") {
        if scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Origin::parse(location).map(|_| location.to_string());
        }
    }
    let (scheme, rest) = base.split_once("://")?;
    if let Some(netpath) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{netpath}"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = rest[authority_end..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    Some(format!("{scheme}://{authority}{dir}/{location}"))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
