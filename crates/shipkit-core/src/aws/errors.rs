//! AWS SDK errors as one-line shipkit errors, classified by the error CODE the service returned (or by
//! the kind of failure when there is no response): never by searching the text of a body, and never with
//! the SDK's `Debug` output, which can hold request internals.

use crate::error::{Error, ExitCode};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What an AWS error code means to a shipkit tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// Credentials missing, refused, expired, or not allowed: exit 8.
    Auth,
    /// Throttled (the SDK already retried): exit 7.
    Throttling,
    /// The thing asked about does not exist: exit 12.
    NotFound,
    /// The request was invalid: exit 2.
    Validation,
    /// Anything else the service answered (server errors, conflicts, limits): exit 7.
    Other,
}

impl CodeClass {
    pub fn exit_code(self) -> ExitCode {
        match self {
            CodeClass::Auth => ExitCode::Auth,
            CodeClass::Throttling | CodeClass::Other => ExitCode::Remote,
            CodeClass::NotFound => ExitCode::NotFound,
            CodeClass::Validation => ExitCode::Usage,
        }
    }
}

const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "AuthorizationError",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "NotAuthorized",
    "NotAuthorizedException",
    "RequestExpired",
    "SignatureDoesNotMatch",
    "UnauthorizedOperation",
    "UnrecognizedClient",
    "UnrecognizedClientException",
];

const THROTTLING_CODES: &[&str] = &[
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ThrottledException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
];

const VALIDATION_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidParameterCombination",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidRequestException",
    "MissingParameter",
    "SerializationException",
    "ValidationError",
    "ValidationException",
];

/// The class of an AWS error code (exact codes; `*NotFound`/`*NotFoundException` are not-found).
pub fn classify_code(code: &str) -> CodeClass {
    if AUTH_CODES.contains(&code) {
        CodeClass::Auth
    } else if THROTTLING_CODES.contains(&code) {
        CodeClass::Throttling
    } else if code.ends_with("NotFoundException") || code.ends_with("NotFound") || code.starts_with("NoSuch") {
        CodeClass::NotFound
    } else if VALIDATION_CODES.contains(&code) {
        CodeClass::Validation
    } else {
        CodeClass::Other
    }
}

/// The longest piece of remote text (an error message) put in a line: a hostile or broken endpoint can
/// send megabytes.
const MAX_REMOTE_TEXT: usize = 300;

/// Remote text made safe for one line: control characters out, whitespace folded, length bounded.
fn clean(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if folded.chars().count() > MAX_REMOTE_TEXT {
        let cut: String = folded.chars().take(MAX_REMOTE_TEXT).collect();
        format!("{cut}…")
    } else {
        folded
    }
}

/// Turn an SDK error from `operation` (e.g. `DescribeServices web`) into a shipkit error:
/// `DescribeServices web: AccessDeniedException: User ... is not authorized ...`, exit code by class.
pub fn error<E>(operation: &str, e: &SdkError<E, Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(ctx) => service_error(operation, ctx.err(), ctx.raw()),
        SdkError::TimeoutError(_) => {
            Error::timeout(format!("{operation}: no answer from AWS before the call's deadline"))
                .hint("check the network and --endpoint-url / AWS_ENDPOINT_URL; AWS may be degraded")
        }
        SdkError::DispatchFailure(d) => {
            if let Some(cred) = find_source::<aws_credential_types::provider::error::CredentialsError>(e) {
                return credentials_error(operation, cred);
            }
            let cause = innermost(e).map_or_else(|| "connection failed".into(), |t| clean(&t));
            if d.is_timeout() {
                Error::timeout(format!("{operation}: AWS did not answer in time ({cause})"))
                    .hint("check the network and --endpoint-url / AWS_ENDPOINT_URL")
            } else {
                Error::remote(format!("{operation}: cannot reach AWS ({cause})"))
                    .hint("check the network, --endpoint-url / AWS_ENDPOINT_URL and --region")
            }
        }
        SdkError::ResponseError(r) => Error::remote(format!(
            "{operation}: unreadable answer from AWS (HTTP {})",
            r.raw().status().as_u16()
        ))
        .hint("check --endpoint-url / AWS_ENDPOINT_URL: it may not be an AWS endpoint"),
        SdkError::ConstructionFailure(_) => {
            let cause = innermost(e).map_or_else(|| "invalid request".into(), |t| clean(&t));
            Error::usage(format!("{operation}: cannot build the request ({cause})"))
        }
        _ => Error::remote(format!("{operation}: the AWS call failed")),
    }
}

/// A service's answer: by code when it gave one, else by HTTP status.
fn service_error(operation: &str, err: &(impl ProvideErrorMetadata + ?Sized), raw: &Response) -> Error {
    let status = raw.status().as_u16();
    let Some(code) = err.code().filter(|c| !c.is_empty()) else {
        // No code: an answer the SDK could not read as an AWS error. Its body is not quoted.
        let (exit, what) = match status {
            401 | 403 => (ExitCode::Auth, "credentials refused"),
            404 => (ExitCode::NotFound, "not found"),
            429 => (ExitCode::Remote, "throttled"),
            _ => (ExitCode::Remote, "failed"),
        };
        return Error::new(exit, format!("{operation}: HTTP {status}: {what} (no AWS error code)"))
            .hint("check --endpoint-url / AWS_ENDPOINT_URL and --region");
    };
    let code = clean(code);
    let message = err.message().map(clean).filter(|m| !m.is_empty());
    let line = match &message {
        Some(m) => format!("{operation}: {code}: {m}"),
        None => format!("{operation}: {code}"),
    };
    let class = classify_code(&code);
    let e = Error::new(class.exit_code(), line);
    match class {
        CodeClass::Auth => e.hint("check the AWS credentials and the IAM permissions of the CI role"),
        CodeClass::Throttling => {
            e.hint("AWS throttled every attempt: make fewer calls at once, or raise --max-attempts")
        }
        _ => e,
    }
}

fn credentials_error(operation: &str, cred: &aws_credential_types::provider::error::CredentialsError) -> Error {
    use aws_credential_types::provider::error::CredentialsError as C;
    let what = match cred {
        C::CredentialsNotLoaded(_) => "no AWS credentials found".to_string(),
        C::ProviderTimedOut(_) => clean(&cred.to_string()),
        C::InvalidConfiguration(_) => format!(
            "invalid AWS credentials configuration ({})",
            innermost_of(cred).map(|t| clean(&t)).unwrap_or_default()
        ),
        _ => format!(
            "cannot load AWS credentials ({})",
            innermost_of(cred).map(|t| clean(&t)).unwrap_or_default()
        ),
    };
    Error::auth(format!("{operation}: {what}"))
        .hint("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or web identity (OIDC) for the CI job")
}

/// The first error of type `T` in `e`'s source chain.
fn find_source<'a, T: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// The Display text of the innermost error of the chain below `e` (the root cause, e.g.
/// `Connection refused (os error 111)`).
fn innermost(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = e.source()?;
    while let Some(next) = cur.source() {
        cur = next;
    }
    Some(cur.to_string())
}

fn innermost_of(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    innermost(e).or_else(|| Some(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn response(status: u16, body: &str) -> Response {
        Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        )
    }

    fn service(code: Option<&str>, message: &str, status: u16, body: &str) -> SdkError<ErrorMetadata, Response> {
        let mut m = ErrorMetadata::builder().message(message);
        if let Some(c) = code {
            m = m.code(c);
        }
        SdkError::service_error(m.build(), response(status, body))
    }

    #[test]
    fn codes_choose_the_exit_code() {
        let cases = [
            ("AccessDeniedException", 8),
            ("ExpiredTokenException", 8),
            ("UnrecognizedClientException", 8),
            ("ThrottlingException", 7),
            ("ClusterNotFoundException", 12),
            ("RepositoryNotFoundException", 12),
            ("ValidationException", 2),
            ("InternalFailure", 7),
            ("ServerException", 7),
        ];
        for (code, exit) in cases {
            let e = error("Op", &service(Some(code), "msg", 400, ""));
            assert_eq!(e.code.code(), exit, "{code}");
            assert!(e.message.starts_with(&format!("Op: {code}: msg")), "{}", e.message);
        }
    }

    #[test]
    fn a_body_mentioning_credential_is_not_an_auth_error() {
        let body = r#"{"__type":"InvalidParameterException","message":"Credential scope is fine; bad value"}"#;
        let e = error(
            "RegisterTaskDefinition web",
            &service(Some("InvalidParameterException"), "Credential field bad", 400, body),
        );
        assert_eq!(e.code, ExitCode::Usage);
        let e = error("Op", &service(None, "", 400, "<html>Credential expired?</html>"));
        assert_eq!(e.code, ExitCode::Remote, "{}", e.message);
        assert!(!e.message.contains("html"), "the body is not quoted: {}", e.message);
        let e = error("Op", &service(None, "", 403, ""));
        assert_eq!(e.code, ExitCode::Auth);
    }

    #[test]
    fn hostile_messages_stay_one_bounded_line() {
        let long = format!("line1\nline2\r\u{1b}[31m{}", "x".repeat(10_000));
        let e = error("Op", &service(Some("Weird\nCode"), &long, 500, ""));
        let line = e.one_line();
        assert!(
            !line.contains('\n') && !line.contains('\r') && !line.contains('\u{1b}'),
            "{line}"
        );
        assert!(line.len() < 1_000, "{}", line.len());
    }

    #[test]
    fn missing_credentials_and_dead_endpoints_are_classified_by_type() {
        use aws_credential_types::provider::error::CredentialsError;
        let cred = CredentialsError::not_loaded("no providers in chain provided credentials");
        let e: SdkError<ErrorMetadata, Response> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(cred), None));
        let err = error("DescribeServices", &e);
        assert_eq!(err.code, ExitCode::Auth);
        assert!(err.message.contains("no AWS credentials"), "{}", err.message);

        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e: SdkError<ErrorMetadata, Response> = SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
        let err = error("DescribeServices", &e);
        assert_eq!(err.code, ExitCode::Remote);
        assert!(err.message.contains("Connection refused"), "{}", err.message);
        assert!(!err.one_line().contains("ConnectorError"), "{}", err.one_line());

        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
        let e: SdkError<ErrorMetadata, Response> = SdkError::dispatch_failure(ConnectorError::timeout(Box::new(io)));
        assert_eq!(error("Op", &e).code, ExitCode::Timeout);
        let e: SdkError<ErrorMetadata, Response> = SdkError::timeout_error("operation timeout (all attempts)");
        assert_eq!(error("Op", &e).code, ExitCode::Timeout);
    }
}
