//! The three lookups `verify` makes outside ECS — IAM GetRole, CloudWatch Logs DescribeLogGroups, ELBv2
//! DescribeTargetGroups — as single SigV4-signed HTTP requests (aws-sigv4 and the credentials of the SDK
//! config already in the tree, shipkit-core's HTTP client with its deadline) instead of three more SDK
//! crates: only "is it there?" is asked, answered by the status and the AWS error code.
//!
//! Endpoints: `--endpoint-url`/`AWS_ENDPOINT_URL` when given (an emulator serves every service there),
//! else IAM's global endpoint (signed for us-east-1) and the regional Logs and ELB endpoints.

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use futures_util::FutureExt;
use shipkit_core::http::{Client, Request, Response};
use shipkit_core::{Error, Result};
use std::time::{Duration, SystemTime};

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Found,
    /// AWS answered that it does not exist (the error code, e.g. `NoSuchEntity`).
    Missing(String),
    /// No answer to rely on (access denied, unreachable, an unexpected answer): said as not checked.
    Unknown(String),
}

/// Signed calls with the SDK config's credentials and region.
pub struct RawAws {
    credentials: Credentials,
    region: String,
    endpoint: Option<String>,
    http: Client,
}

impl RawAws {
    /// Credentials from the standard chain (the same as the ECS client), `timeout` per request.
    pub async fn connect(c: &crate::aws::Connect, timeout: Duration) -> Result<RawAws> {
        let conf = shipkit_core::aws::load(c).boxed().await?;
        let provider = conf
            .credentials_provider()
            .ok_or_else(|| Error::auth("no AWS credentials").hint("set AWS_PROFILE or AWS_ACCESS_KEY_ID"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::auth(format!("no AWS credentials: {e}")))?;
        let region = conf
            .region()
            .map_or_else(|| "us-east-1".into(), std::string::ToString::to_string);
        let backoff = shipkit_core::retry::Backoff {
            attempts: c.max_attempts.clamp(1, 3),
            ..Default::default()
        };
        Ok(RawAws {
            credentials,
            region,
            endpoint: c.endpoint_url.clone().filter(|e| !e.is_empty()),
            http: Client::new(timeout, backoff),
        })
    }

    /// IAM GetRole by name (the last part of a role ARN).
    pub fn role(&self, arn: &str) -> Probe {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        let body = format!("Action=GetRole&Version=2010-05-08&RoleName={}", form(name));
        let url = self.url("https://iam.amazonaws.com");
        self.probe("iam", "us-east-1", &url, query(body), &["NoSuchEntity"])
    }

    /// CloudWatch Logs DescribeLogGroups by prefix, then the exact name among the answers.
    pub fn log_group(&self, name: &str) -> Probe {
        let url = self.url(&format!("https://logs.{}.amazonaws.com", self.region));
        let body = serde_json::json!({ "logGroupNamePrefix": name, "limit": 50 }).to_string();
        let req = Request::new("POST", &url)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
            .body(body);
        match self.send("logs", &self.region.clone(), req) {
            Ok(r) if r.is_success() => {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let groups = v["logGroups"].as_array().cloned().unwrap_or_default();
                if groups.iter().any(|g| g["logGroupName"].as_str() == Some(name)) {
                    Probe::Found
                } else {
                    Probe::Missing("no such log group".into())
                }
            }
            Ok(r) => classify(&r, &[]),
            Err(e) => Probe::Unknown(e),
        }
    }

    /// ELBv2 DescribeTargetGroups by ARN.
    pub fn target_group(&self, arn: &str) -> Probe {
        let body = format!(
            "Action=DescribeTargetGroups&Version=2015-12-01&TargetGroupArns.member.1={}",
            form(arn)
        );
        let url = self.url(&format!("https://elasticloadbalancing.{}.amazonaws.com", self.region));
        let region = self.region.clone();
        self.probe(
            "elasticloadbalancing",
            &region,
            &url,
            query(body),
            &["TargetGroupNotFound"],
        )
    }

    fn url(&self, default: &str) -> String {
        let base = self.endpoint.as_deref().unwrap_or(default);
        format!("{}/", base.trim_end_matches('/'))
    }

    /// A Query-protocol call: 200 is found, an error code in `missing` is missing, anything else unknown.
    fn probe(
        &self,
        service: &str,
        region: &str,
        url: &str,
        req: (Vec<(String, String)>, String),
        missing: &[&str],
    ) -> Probe {
        let mut r = Request::new("POST", url).body(req.1);
        r.headers = req.0;
        match self.send(service, region, r) {
            Ok(resp) if resp.is_success() => Probe::Found,
            Ok(resp) => classify(&resp, missing),
            Err(e) => Probe::Unknown(e),
        }
    }

    /// Sign (SigV4, headers) and send with retries on 5xx/429 and connection errors.
    fn send(&self, service: &str, region: &str, mut req: Request) -> std::result::Result<Response, String> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let headers: Vec<(String, String)> = req.headers.clone();
        let signable = SignableRequest::new(
            &req.method,
            req.url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&req.body),
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        for (k, v) in instructions.headers() {
            req = req.header(k, v);
        }
        self.http.send(&req, |_, _, _| {}).map_err(|e| e.to_string())
    }
}

/// The AWS error code of a failed answer (JSON `__type` or XML `<Code>`), bounded and printable.
fn error_code(r: &Response) -> String {
    let text = String::from_utf8_lossy(&r.body[..r.body.len().min(64 * 1024)]).into_owned();
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v["__type"]
                .as_str()
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        })
        .or_else(|| {
            let start = text.find("<Code>")? + 6;
            let end = text[start..].find("</Code>")? + start;
            Some(text[start..end].to_string())
        })
        .unwrap_or_else(|| format!("HTTP {}", r.status));
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c))
        .take(80)
        .collect()
}

fn classify(r: &Response, missing: &[&str]) -> Probe {
    let code = error_code(r);
    if missing.contains(&code.as_str()) || code == "ResourceNotFoundException" {
        Probe::Missing(code)
    } else {
        Probe::Unknown(code)
    }
}

fn query(body: String) -> (Vec<(String, String)>, String) {
    (
        vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body,
    )
}

/// `application/x-www-form-urlencoded` value encoding.
fn form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_from_json_and_xml_bounded() {
        let r = |body: &str| Response {
            status: 400,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            error_code(&r(r#"{"__type":"com.amazonaws#ResourceNotFoundException"}"#)),
            "ResourceNotFoundException"
        );
        assert_eq!(
            error_code(&r(
                "<ErrorResponse><Error><Code>NoSuchEntity</Code></Error></ErrorResponse>"
            )),
            "NoSuchEntity"
        );
        assert_eq!(error_code(&r("<html>")), "HTTP 400");
        let hostile = format!("<Code>\x1b[31m{}</Code>", "A".repeat(10_000));
        let c = error_code(&r(&hostile));
        assert!(c.len() <= 80 && !c.contains('\x1b'), "{c}");
        assert_eq!(
            classify(&r("<Code>NoSuchEntity</Code>"), &["NoSuchEntity"]),
            Probe::Missing("NoSuchEntity".into())
        );
        assert_eq!(
            classify(&r("<Code>AccessDenied</Code>"), &["NoSuchEntity"]),
            Probe::Unknown("AccessDenied".into())
        );
        assert_eq!(form("arn:aws:x/y z"), "arn%3Aaws%3Ax%2Fy%20z");
    }
}
