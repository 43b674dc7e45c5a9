//! Native Amazon ECR: recognising ECR registry hosts and getting their registry password with the standard
//! AWS credential chain and ECR's `GetAuthorizationToken` — no aws CLI, no `docker login`.
//!
//! - Hosts: `<account>.dkr.ecr.<region>.amazonaws.com`, the FIPS form `<account>.dkr.ecr-fips.<region>...`,
//!   the dual-stack forms `<account>.dkr-ecr.<region>.on.aws` / `dkr-ecr-fips`, and the China partition
//!   (`.amazonaws.com.cn`, `.on.amazonwebservices.com.cn`). The region and FIPS/dual-stack choice of the
//!   API call come from the host, so a token is always asked of the registry's own region.
//! - Credentials: aws-config's default chain (environment, profile, SSO, web identity/OIDC, container,
//!   instance metadata); `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_ECR` are honoured (the tests point them at
//!   moto on 127.0.0.1). The SDK stack is shipkit-core's (`aws` feature, shared with deploy-ecs): every
//!   call has a deadline (connect 5 s, attempt 20 s, whole call 60 s, 3 attempts).
//! - Tokens ([`Tokens`]) are kept in memory for the run, one per account and region; one is asked again 5
//!   minutes before its `expiresAt`, or when the registry answers 401 to it ([`Tokens::forget`]). They are
//!   registered for masking and written nowhere by this module (docker-tag-push's `login` and its private
//!   temporary docker config for one `docker push` are the only writers).
//! - Without the `ecr` feature (no AWS SDK), hosts are still recognised and errors explained; asking for a
//!   token is a one-line auth error saying how to log in instead.

use super::auth::Credentials;
use crate::{Error, ExitCode, Result};
use base64::Engine;
use std::collections::HashMap;
use std::sync::Mutex;
#[cfg(feature = "ecr")]
use std::time::Duration;
use std::time::SystemTime;

/// An ECR registry host, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrHost {
    /// The 12-digit AWS account id (the registry id).
    pub account: String,
    pub region: String,
    pub fips: bool,
    pub dual_stack: bool,
}

impl EcrHost {
    /// `Some` for an ECR private registry host (a `:port` is ignored); `None` for anything else.
    pub fn parse(registry: &str) -> Option<EcrHost> {
        let host = super::reference::host_part(registry).to_ascii_lowercase();
        let labels: Vec<&str> = host.split('.').collect();
        let (account, service, region, suffix) = match labels.as_slice() {
            [a, "dkr", s @ ("ecr" | "ecr-fips"), r, rest @ ..]
            | [a, s @ ("dkr-ecr" | "dkr-ecr-fips"), r, rest @ ..] => (*a, *s, *r, rest),
            _ => return None,
        };
        let dual_stack = service.starts_with("dkr-ecr");
        let suffix_ok = if dual_stack {
            matches!(suffix, ["on", "aws"] | ["on", "amazonwebservices", "com", "cn"])
        } else {
            matches!(suffix, ["amazonaws", "com"] | ["amazonaws", "com", "cn"])
        };
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = region.contains('-')
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (suffix_ok && account_ok && region_ok).then(|| EcrHost {
            account: account.to_string(),
            region: region.to_string(),
            fips: service.ends_with("-fips"),
            dual_stack,
        })
    }

    fn key(&self) -> String {
        format!("{}/{}/{}/{}", self.account, self.region, self.fips, self.dual_stack)
    }
}

/// A registry password from ECR and when it stops working.
#[derive(Clone)]
struct Token {
    creds: Credentials,
    /// Ask again after this instant (5 minutes before `expiresAt`); `None` when `expiresAt` was absent or
    /// already past on arrival (a skewed clock): then only a 401 makes us ask again.
    renew_after: Option<SystemTime>,
}

/// ECR tokens of one run, by account and region.
#[derive(Default)]
pub struct Tokens {
    cache: Mutex<HashMap<String, Token>>,
    /// How many GetAuthorizationToken calls this run made (reported with `--verbose`, checked by tests).
    calls: Mutex<u32>,
}

/// How long before `expiresAt` a token is replaced.
#[cfg(feature = "ecr")]
const RENEW_MARGIN: Duration = Duration::from_secs(300);

impl Tokens {
    /// The `AWS` user and the current token for this registry host, asking ECR when there is none yet or
    /// the one we have is about to expire. Serialised: parallel workers of a run share one call.
    pub fn credentials(&self, host: &EcrHost) -> Result<Credentials> {
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = cache.get(&host.key()) {
            if t.renew_after.is_none_or(|at| SystemTime::now() < at) {
                return Ok(t.creds.clone());
            }
        }
        let token = fetch(host)?;
        *self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        crate::term::info(&format!(
            "ECR: registry token for account {} in {} from GetAuthorizationToken",
            host.account, host.region
        ));
        cache.insert(host.key(), token.clone());
        Ok(token.creds)
    }

    /// The registry refused the token (401): the next [`Tokens::credentials`] asks ECR again.
    pub fn forget(&self, host: &EcrHost) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&host.key());
    }

    pub fn calls(&self) -> u32 {
        *self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Built without the `ecr` feature: no token can be asked for.
#[cfg(not(feature = "ecr"))]
fn fetch(host: &EcrHost) -> Result<Token> {
    Err(Error::auth(format!(
        "this build has no native ECR support, so it cannot get a token for account {}",
        host.account
    ))
    .hint(
        "log in first (aws ecr get-login-password | docker login HOST --username AWS --password-stdin), \
           configure the ecr-login credential helper, or use a build with the `ecr` feature",
    ))
}

/// One `GetAuthorizationToken` call on a current-thread runtime of its own.
#[cfg(feature = "ecr")]
fn fetch(host: &EcrHost) -> Result<Token> {
    crate::cancel::check("getting the ECR token")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(fetch_async(host))
}

#[cfg(feature = "ecr")]
async fn fetch_async(host: &EcrHost) -> Result<Token> {
    let opts = crate::aws::ClientOptions {
        region: Some(host.region.clone()),
        max_attempts: 3,
        timeouts: crate::aws::Timeouts::for_call(Duration::from_secs(60)),
        ..Default::default()
    };
    let shared = crate::aws::load(&opts).await?;
    let conf = aws_sdk_ecr::config::Builder::from(&shared)
        .use_fips(host.fips)
        .use_dual_stack(host.dual_stack)
        .build();
    let client = aws_sdk_ecr::Client::from_conf(conf);
    let what = format!("ECR GetAuthorizationToken ({}, {})", host.account, host.region);
    let out = client
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| credentials_hint(crate::aws::error(&what, &e)))?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| Error::remote(format!("{what}: the answer holds no authorization data")))?;
    let token = data
        .authorization_token()
        .ok_or_else(|| Error::remote(format!("{what}: the answer holds no token")))?;
    crate::mask::register(token);
    let creds =
        decode_token(token).ok_or_else(|| Error::remote(format!("{what}: the token is not base64 of AWS:password")))?;
    let renew_after = data
        .expires_at()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .and_then(|t| t.checked_sub(RENEW_MARGIN))
        .filter(|t| *t > SystemTime::now());
    Ok(Token { creds, renew_after })
}

/// An auth failure says which permission the token needs.
#[cfg(feature = "ecr")]
fn credentials_hint(e: Error) -> Error {
    if e.code == ExitCode::Auth {
        let hint = e.hint.clone().unwrap_or_default();
        return e.hint(format!(
            "{hint}{}the identity needs ecr:GetAuthorizationToken (and push/pull on the repository)",
            if hint.is_empty() { "" } else { "; " }
        ));
    }
    e
}

/// `base64("AWS:<password>")` → the user and password (registered for masking).
pub fn decode_token(token: &str) -> Option<Credentials> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| Credentials::new(user, password))
}

/// An ECR-specific reading of a registry error, when there is one: an immutable tag, a repository that
/// does not exist. `code` and `message` are the registry's `errors[0]`.
pub fn explain(target: &str, status: u16, code: &str, message: &str) -> Option<Error> {
    let registry = target.split('/').next().unwrap_or(target);
    let host = EcrHost::parse(registry)?;
    let repo = target
        .split_once('/')
        .map_or("", |(_, r)| r.split([':', '@']).next().unwrap_or(r));
    let lower = message.to_ascii_lowercase();
    if code == "TAG_INVALID" && (lower.contains("immutable") || lower.contains("cannot be overwritten")) {
        return Some(
            Error::new(
                ExitCode::Refused,
                format!("{target}: the ECR repository has immutable tags and this tag already holds another image"),
            )
            .hint(
                "publish a new version tag, drop floating tags (latest, 1.2) for this repository, or make its tags \
                   MUTABLE / IMMUTABLE_WITH_EXCLUSION",
            ),
        );
    }
    let missing =
        code == "NAME_UNKNOWN" || (status == 404 && lower.contains("repository") && lower.contains("does not exist"));
    if missing {
        return Some(
            Error::not_found(format!(
                "{target}: ECR repository {repo} does not exist in registry {} ({})",
                host.account, host.region
            ))
            .hint(format!(
                "create it first: aws ecr create-repository --repository-name {repo} --region {} (or in your \
                 infrastructure code)",
                host.region
            )),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_every_ecr_host_form_and_nothing_else() {
        let h = EcrHost::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(
            (h.account.as_str(), h.region.as_str(), h.fips, h.dual_stack),
            ("123456789012", "eu-west-1", false, false)
        );
        let h = EcrHost::parse("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").unwrap();
        assert!(h.fips && !h.dual_stack && h.region == "us-gov-west-1");
        let h = EcrHost::parse("123456789012.dkr-ecr.eu-central-1.on.aws").unwrap();
        assert!(h.dual_stack && !h.fips);
        let h = EcrHost::parse("123456789012.dkr-ecr-fips.us-east-1.on.aws").unwrap();
        assert!(h.dual_stack && h.fips);
        assert_eq!(
            EcrHost::parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")
                .unwrap()
                .region,
            "cn-north-1"
        );
        assert!(
            EcrHost::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com:5000").is_some(),
            "port ignored"
        );
        assert!(
            EcrHost::parse("123456789012.DKR.ECR.us-east-1.AMAZONAWS.com").is_some(),
            "case-insensitive"
        );
        for not in [
            "docker.io",
            "public.ecr.aws",
            "127.0.0.1:5000",
            "12345.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "123456789012.dkr.ecr.us-east-1.amazonaws.co",
            "123456789012.dkr-ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.useast1.amazonaws.com",
            "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
        ] {
            assert_eq!(EcrHost::parse(not), None, "{not}");
        }
    }

    #[test]
    fn decodes_tokens_and_rejects_garbage() {
        let c = decode_token("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("AWS", "123456789012-auth-token")
        );
        assert!(decode_token("not base64!").is_none());
        assert!(decode_token("bm9jb2xvbg==").is_none(), "no colon");
    }

    #[test]
    fn explains_immutable_tags_and_missing_repositories_on_ecr_only() {
        let t = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:latest";
        let e = explain(t, 400, "TAG_INVALID", "The image tag 'latest' already exists in the 'team/app' repository and cannot be overwritten because the repository is immutable.").unwrap();
        assert_eq!(e.code, ExitCode::Refused);
        let e = explain(
            t,
            404,
            "NAME_UNKNOWN",
            "The repository with name 'team/app' does not exist in the registry with id '123456789012'",
        )
        .unwrap();
        assert_eq!(e.code, ExitCode::NotFound);
        assert!(
            e.one_line()
                .contains("aws ecr create-repository --repository-name team/app --region eu-west-1"),
            "{}",
            e.one_line()
        );
        assert!(explain("127.0.0.1:5000/team/app:1", 404, "NAME_UNKNOWN", "x").is_none());
    }
}
