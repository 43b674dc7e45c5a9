//! The AWS SDK stack every shipkit tool that talks to AWS shares (feature `aws`): one way to load the
//! SDK config, with deadlines on every call, and one way to turn an SDK error into a shipkit error.
//!
//! - [`load`]: the standard credential chain (env, profile, SSO, web identity, container, instance
//!   metadata), region from flag/env/profile, `AWS_ENDPOINT_URL` honoured, one TLS stack (rustls with
//!   ring), adaptive retries with a bounded number of attempts, and timeouts on everything: connect, read,
//!   each attempt and the whole operation ([`Timeouts`]). A hung endpoint ends a call; it never hangs a tool.
//! - [`error`]: `Operation: AwsCode: message` as one line, the exit code chosen by the error CODE (never by
//!   a substring of a body: a 400 whose body mentions "Credential" is not an auth error), no `Debug` dump.
//!   Access denied / expired or unknown tokens / missing credentials → 8; throttling (after the retries)
//!   → 7; `*NotFound*` → 12; validation → 2; a call that timed out → 9; anything else remote → 7.

mod errors;

pub use errors::{classify_code, error, CodeClass};

use crate::error::{Error, Result};
use std::time::Duration;

/// The most attempts a call may be given (`--max-attempts`): more only multiplies a hang or an outage.
pub const MAX_ATTEMPTS: u32 = 20;

/// Deadlines for every AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a TCP/TLS connection.
    pub connect: Duration,
    /// Waiting for the first byte of a response (per read).
    pub read: Duration,
    /// One attempt (request + response).
    pub attempt: Duration,
    /// The whole call, every retry included.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::for_call(Duration::from_secs(60))
    }
}

impl Timeouts {
    /// Timeouts for calls that must end within `operation`: each attempt within a third of it (at least
    /// 1 s, so retries fit), connect within 5 s, reads within the attempt timeout.
    pub fn for_call(operation: Duration) -> Timeouts {
        let operation = operation.max(Duration::from_millis(100));
        let attempt = (operation / 3).max(Duration::from_secs(1)).min(operation);
        Timeouts {
            connect: Duration::from_secs(5).min(attempt),
            read: attempt,
            attempt,
            operation,
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Region; else AWS_REGION / the profile's.
    pub region: Option<String>,
    /// Endpoint (an emulator, a VPC endpoint); else AWS_ENDPOINT_URL / the profile's.
    pub endpoint_url: Option<String>,
    /// Profile from ~/.aws/config; else AWS_PROFILE.
    pub profile: Option<String>,
    /// Attempts per call (1..=[`MAX_ATTEMPTS`]); 0 means the default of 8.
    pub max_attempts: u32,
    pub timeouts: Timeouts,
}

impl ClientOptions {
    /// Check the numbers before anything is sent: attempts within 1..=[`MAX_ATTEMPTS`].
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts > MAX_ATTEMPTS {
            return Err(Error::usage(format!(
                "--max-attempts {} is above the limit of {MAX_ATTEMPTS}",
                self.max_attempts
            ))
            .hint(format!("pass a number from 1 to {MAX_ATTEMPTS}")));
        }
        Ok(())
    }
}

/// Load the SDK config: credentials, region, endpoint, retries and timeouts as described in the module
/// docs. Fails (exit 2) when no region is known.
pub async fn load(opts: &ClientOptions) -> Result<aws_config::SdkConfig> {
    use aws_smithy_http_client::tls;
    opts.validate()?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let attempts = match opts.max_attempts {
        0 => 8,
        n => n,
    };
    let retry = aws_config::retry::RetryConfig::adaptive()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(10));
    let t = opts.timeouts;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .read_timeout(t.read)
        .operation_attempt_timeout(t.attempt)
        .operation_timeout(t.operation)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(r) = opts.region.as_deref().filter(|r| !r.is_empty()) {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(e) = opts.endpoint_url.as_deref().filter(|e| !e.is_empty()) {
        loader = loader.endpoint_url(e);
    }
    if let Some(p) = opts.profile.as_deref().filter(|p| !p.is_empty()) {
        loader = loader.profile_name(p);
    }
    let conf = loader.load().await;
    if conf.region().is_none_or(|r| r.as_ref().trim().is_empty()) {
        return Err(Error::usage("no AWS region given")
            .hint("pass --region, set AWS_REGION, or set deploy.region / environments.<name>.region in shipkit.yml"));
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_timeouts_fit_inside_the_operation() {
        let t = Timeouts::for_call(Duration::from_secs(60));
        assert_eq!(t.attempt, Duration::from_secs(20));
        assert_eq!(t.connect, Duration::from_secs(5));
        let t = Timeouts::for_call(Duration::from_secs(2));
        assert_eq!((t.attempt, t.connect), (Duration::from_secs(1), Duration::from_secs(1)));
        let t = Timeouts::for_call(Duration::ZERO);
        assert!(t.operation > Duration::ZERO && t.attempt <= t.operation);
    }

    #[test]
    fn attempts_are_bounded() {
        let mut o = ClientOptions {
            max_attempts: 21,
            ..ClientOptions::default()
        };
        let e = o.validate().unwrap_err();
        assert_eq!(e.code, crate::ExitCode::Usage);
        assert!(e.message.contains("limit of 20"), "{}", e.message);
        o.max_attempts = 20;
        assert!(o.validate().is_ok());
    }
}
