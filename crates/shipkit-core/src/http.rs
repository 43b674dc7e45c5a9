//! A small blocking HTTP client (ureq, rustls with ring) with timeouts and retries, for the tools that
//! talk to registries and webhooks. Status codes are returned, not raised: the caller decides.
//!
//! [`Client::send`] retries connection errors, 408, 429 and 5xx with backoff, waiting for
//! `Retry-After` when the server gives one (capped by the backoff's `max`).

use crate::retry::{retry, Attempt, Backoff};
use std::time::Duration;

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
    /// `Retry-After` in seconds (the HTTP-date form is not used by the services we call). A hostile value
    /// (`inf`, `1e20`, NaN, over [`crate::time::MAX_DURATION`]) is ignored, never a panic; negative is 0.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(|s| crate::time::secs_f64_bounded(s.max(0.0), crate::time::MAX_DURATION))
    }
    /// Should this status be retried?
    pub fn is_transient(&self) -> bool {
        matches!(self.status, 408 | 429) || (500..600).contains(&self.status)
    }
}

/// What went wrong with a request that got no usable response.
#[derive(Debug, Clone)]
pub enum HttpError {
    /// Could not connect, reset, timed out, TLS failure... (message is masked text).
    Transport(String),
    /// The last response when retries ran out on a transient status.
    Status(Response),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Transport(m) => write!(f, "{}", crate::mask::mask(m)),
            HttpError::Status(r) => write!(f, "HTTP {}", r.status),
        }
    }
}

/// The client: timeout per request, backoff for retries, max body size read.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub backoff: Backoff,
    pub max_body: u64,
}

impl Client {
    pub fn new(timeout: Duration, backoff: Backoff) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("shipkit/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            backoff,
            max_body: 64 * 1024 * 1024,
        }
    }

    /// One attempt, no retries. Any status is a response.
    pub fn send_once(&self, req: &Request) -> Result<Response, HttpError> {
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(req.url.as_str());
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder
            .body(req.body.clone())
            .map_err(|e| HttpError::Transport(format!("bad request to {}: {e}", crate::mask::redact_url(&req.url))))?;
        let mut resp = self
            .agent
            .run(request)
            .map_err(|e| HttpError::Transport(format!("{} {}: {e}", req.method, crate::mask::redact_url(&req.url))))?;
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
                .map_err(|e| {
                    HttpError::Transport(format!(
                        "reading response from {}: {e}",
                        crate::mask::redact_url(&req.url)
                    ))
                })?
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
