//! The registry auth flow and the retrying exchange: a known challenge is answered up front, a 401 is
//! answered once (Bearer token fetched or refreshed, Basic credentials), an ECR token we got ourselves is
//! asked again after a 401, and `Authorization` goes only to the registry's own origin.

use super::auth::Challenge;
use super::reference::is_plain_http;
use super::{describe, strip_query, url_encode, Client};
use crate::http::{HttpError, Request, Response};
use crate::net::same_origin;
use crate::{Error, Result};
use serde_json::Value;

impl Client {
    /// After a 401 to an ECR token we got ourselves: forget it, so the next request asks ECR again.
    fn forget_native_token(&self, registry: &str) {
        let mut hosts = self.hosts();
        let Some(h) = hosts.get_mut(registry).filter(|h| h.native_ecr) else {
            return;
        };
        h.creds = super::KnownCreds::NotLookedUp;
        h.headers.clear();
        if let Some(host) = crate::registry::ecr::EcrHost::parse(registry) {
            self.ecr.forget(&host);
        }
    }

    /// One HTTP exchange with transient-failure retries; a transport failure is exit code 7. No request
    /// starts after SIGINT/SIGTERM, and a retry wait ends at the signal.
    fn exchange(&self, req: &Request) -> Result<Response> {
        let target = format!("{} {}", req.method, strip_query(&req.url));
        let attempts = self.opts.backoff.attempts.max(1);
        // core's transport messages start with the method and a redacted URL: say it once, in full.
        let redacted = format!("{} {}: ", req.method, crate::mask::redact_url(&req.url));
        let clean = |why: &str| why.strip_prefix(&redacted).unwrap_or(why).to_string();
        let mut attempt = 1;
        loop {
            crate::cancel::check(&format!("before {target}"))?;
            if crate::exec::verbose() {
                crate::term::info(&format!("> {} {}", req.method, req.url));
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
            crate::term::warn(&format!(
                "{target}: {why}; retrying in {:.1}s (attempt {}/{attempts})",
                wait.as_secs_f64(),
                attempt + 1
            ));
            crate::cancel::sleep(wait, &format!("while waiting to retry {target}"))?;
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
                    "check the user and password: {} {registry} --username USER --password-stdin",
                    self.opts.login_command
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
                        "log in first: {} {registry} --username USER --password-stdin",
                        self.opts.login_command
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
            .map_or("", |(_, r)| r.split(['/', '?']).next().unwrap_or(r));
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
            Some(c) if c.username == crate::registry::auth::IDENTITY_TOKEN_USER => {
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
                    "log in again: {} {registry} --username USER --password-stdin",
                    self.opts.login_command
                )))
            }
            _ => {
                return Err(Error::remote(format!(
                    "token request to {} failed: {}",
                    crate::mask::redact_url(realm),
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
        crate::mask::register(token);
        Ok(token.to_string())
    }
}
