//! Building the HTTP requests per target and sending them: retries, Slack's API answers, errors with hints.

use crate::message::{Message, Status};
use crate::target::{Kind, Target};
use crate::{discord, slack, teams, webhook};
use serde_json::Value;
use shipkit_core::http::{Client, HttpError, Request, Response};
use shipkit_core::{mask, term, ExitCode};
use std::time::Duration;

/// How to send: the Slack message to update or thread under, the webhook secret.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// `ts` of the Slack message posted by `started`.
    pub update: Option<String>,
    /// Its channel ID (chat.update needs the ID that chat.postMessage answered).
    pub update_channel: Option<String>,
    /// Reply in the thread of `update` instead of editing it.
    pub thread: bool,
    /// HMAC secret for generic webhooks.
    pub webhook_secret: Option<String>,
    /// Timestamp put in the payloads (RFC 3339).
    pub timestamp: String,
}

/// What happened at one target.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub label: String,
    pub ok: bool,
    /// `posted`, `updated`, `replied in thread`, or what went wrong.
    pub detail: String,
    pub hint: Option<String>,
    pub code: ExitCode,
    /// Slack bot: the message `ts` and channel ID.
    pub message_id: Option<String>,
    pub channel: Option<String>,
}

impl Outcome {
    fn ok(t: &Target, detail: &str) -> Outcome {
        Outcome {
            label: t.label.clone(),
            ok: true,
            detail: detail.into(),
            hint: None,
            code: ExitCode::Success,
            message_id: None,
            channel: None,
        }
    }
    fn fail(t: &Target, code: ExitCode, detail: &str, hint: Option<&str>) -> Outcome {
        Outcome {
            label: t.label.clone(),
            ok: false,
            detail: mask::mask(detail).into_owned(),
            hint: hint.map(str::to_string),
            code,
            message_id: None,
            channel: None,
        }
    }
}

/// The Slack Web API call for a bot target, given the options.
enum BotCall {
    Post { thread_ts: Option<String> },
    Update { channel: String, ts: String },
}

fn bot_call(m: &Message, channel: &str, o: &SendOptions) -> BotCall {
    match (&o.update, m.status) {
        (Some(ts), s) if s != Status::Started && o.thread => BotCall::Post {
            thread_ts: Some(ts.clone()),
        },
        (Some(ts), s) if s != Status::Started => BotCall::Update {
            channel: o.update_channel.clone().unwrap_or_else(|| channel.to_string()),
            ts: ts.clone(),
        },
        _ => BotCall::Post { thread_ts: None },
    }
}

/// One planned request: method, URL, headers (secrets included), JSON body.
pub struct Planned {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Planned {
    fn request(&self) -> Request {
        let mut r = Request::new("POST", &self.url);
        for (k, v) in &self.headers {
            r = r.header(k, v);
        }
        r.body(self.body.clone())
    }

    /// For `--dry-run`: what would be sent, secrets masked, body pretty-printed.
    pub fn display(&self) -> String {
        let mut s = format!("POST {}\n", mask::redact_url(&self.url));
        for (k, v) in &self.headers {
            let v = if k.eq_ignore_ascii_case("authorization") {
                "Bearer ***".to_string()
            } else {
                v.clone()
            };
            s.push_str(&format!("{k}: {v}\n"));
        }
        let pretty = serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| self.body.clone());
        s.push_str(&pretty);
        mask::mask(&s).into_owned()
    }
}

fn json_request(url: String, body: &Value, extra: Vec<(String, String)>) -> Planned {
    let mut headers = vec![(
        "Content-Type".to_string(),
        "application/json; charset=utf-8".to_string(),
    )];
    headers.extend(extra);
    Planned {
        url,
        headers,
        body: body.to_string(),
    }
}

fn bot_request(api_base: &str, token: &str, method: &str, body: &Value) -> Planned {
    json_request(
        format!("{}/{method}", api_base.trim_end_matches('/')),
        body,
        vec![("Authorization".into(), format!("Bearer {token}"))],
    )
}

/// The first request for a target (the one `--dry-run` shows).
pub fn plan(t: &Target, m: &Message, o: &SendOptions) -> Planned {
    match &t.kind {
        Kind::SlackWebhook => json_request(t.url.clone(), &slack::webhook_payload(m), vec![]),
        Kind::SlackBot {
            api_base,
            token,
            channel,
        } => match bot_call(m, channel, o) {
            BotCall::Post { thread_ts } => bot_request(
                api_base,
                token,
                "chat.postMessage",
                &slack::post_payload(m, channel, thread_ts.as_deref()),
            ),
            BotCall::Update { channel, ts } => {
                bot_request(api_base, token, "chat.update", &slack::update_payload(m, &channel, &ts))
            }
        },
        Kind::Discord => json_request(t.url.clone(), &discord::payload(m, &o.timestamp), vec![]),
        Kind::Teams => json_request(t.url.clone(), &teams::payload(m), vec![]),
        Kind::Webhook => {
            let body = webhook::payload(m, &o.timestamp);
            let text = body.to_string();
            let mut p = json_request(t.url.clone(), &body, vec![]);
            if let Some(secret) = &o.webhook_secret {
                p.headers.push((
                    webhook::SIGNATURE_HEADER.to_string(),
                    webhook::signature(secret, text.as_bytes()),
                ));
            }
            p
        }
    }
}

fn http(client: &Client, t: &Target, p: &Planned) -> Result<Response, Box<Outcome>> {
    let label = t.label.clone();
    // After SIGINT/SIGTERM no request starts: a message is sent whole or not at all.
    if let Some(signal) = shipkit_core::cancel::requested() {
        return Err(Box::new(Outcome::fail(
            t,
            signal.exit_code(),
            &format!("not sent: cancelled by {} before sending", signal.name()),
            None,
        )));
    }
    if shipkit_core::exec::verbose() {
        term::info(&format!(
            "+ POST {} ({label}, {} bytes)",
            mask::redact_url(&p.url),
            p.body.len()
        ));
    }
    let r = client.send(&p.request(), |attempt, why, wait| {
        term::info(&format!(
            "notify: {label}: {why}; retrying in {:.1}s (attempt {} of {})",
            wait.as_secs_f64(),
            attempt + 1,
            client.backoff.attempts
        ));
    });
    r.map_err(|e| {
        Box::new(match e {
            HttpError::Transport(ref msg) => {
                if e.is_timeout() {
                    Outcome::fail(
                        t,
                        ExitCode::Timeout,
                        &format!("no answer in time: {msg}"),
                        Some("the service did not answer within --timeout; it may be down"),
                    )
                } else {
                    Outcome::fail(
                        t,
                        ExitCode::Remote,
                        &format!("unreachable: {msg}"),
                        Some("check the URL and that the service is reachable from CI"),
                    )
                }
            }
            HttpError::Status(r) => Outcome::fail(
                t,
                ExitCode::Remote,
                &format!(
                    "HTTP {} after {} attempts{}",
                    r.status,
                    client.backoff.attempts,
                    snippet(&r)
                ),
                (r.status == 429).then_some("rate limited: fewer messages, or more --retries"),
            ),
        })
    })
}

/// A short, masked, one-line excerpt of an error body.
fn snippet(r: &Response) -> String {
    let t = r.text();
    let t = t.trim();
    if t.is_empty() {
        return String::new();
    }
    let one: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(": {}", crate::text::truncate_plain(&one, 200))
}

fn status_failure(t: &Target, r: &Response, hint: Option<&str>) -> Outcome {
    let code = match r.status {
        401 | 403 => ExitCode::Auth,
        404 | 410 => ExitCode::NotFound,
        _ => ExitCode::Remote,
    };
    let generic = match r.status {
        301 | 302 | 303 | 307 | 308 => Some(
            "the target redirected elsewhere; notify does not follow redirects, so neither the message nor a \
             token leaves the configured host: use the final URL",
        ),
        401 | 403 => Some("the URL or token was refused: check it, or create a new webhook"),
        404 | 410 => Some("the webhook does not exist (deleted or mistyped): create a new one"),
        _ => None,
    };
    Outcome::fail(t, code, &format!("HTTP {}{}", r.status, snippet(r)), hint.or(generic))
}

/// Send to one target.
pub fn deliver(client: &Client, t: &Target, m: &Message, o: &SendOptions) -> Outcome {
    match &t.kind {
        Kind::SlackBot {
            api_base,
            token,
            channel,
        } => deliver_bot(client, t, m, o, api_base, token, channel),
        Kind::SlackWebhook => {
            let p = plan(t, m, o);
            match http(client, t, &p) {
                Ok(r) if r.is_success() => Outcome::ok(t, "posted"),
                Ok(r) => {
                    let err = r.text().trim().to_string();
                    status_failure(t, &r, slack::hint(&err))
                }
                Err(o) => *o,
            }
        }
        Kind::Discord | Kind::Teams | Kind::Webhook => {
            let p = plan(t, m, o);
            match http(client, t, &p) {
                Ok(r) if r.is_success() => Outcome::ok(t, "posted"),
                Ok(r) => status_failure(t, &r, None),
                Err(o) => *o,
            }
        }
    }
}

/// Call a Slack Web API method: `Ok(answer)` when `"ok": true`, else the `error` code.
fn slack_api(client: &Client, t: &Target, p: &Planned) -> Result<Value, Box<(Outcome, String)>> {
    let r = http(client, t, p).map_err(|o| Box::new((*o, String::new())))?;
    if !r.is_success() {
        return Err(Box::new((status_failure(t, &r, None), String::new())));
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|_| {
        Box::new((
            Outcome::fail(
                t,
                ExitCode::Remote,
                &format!("the Slack API answered something else than JSON{}", snippet(&r)),
                Some("is the target a Slack API base URL?"),
            ),
            String::new(),
        ))
    })?;
    if v["ok"].as_bool() == Some(true) {
        return Ok(v);
    }
    let err = v["error"].as_str().unwrap_or("unknown_error").to_string();
    let code = match err.as_str() {
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" | "missing_scope" => {
            ExitCode::Auth
        }
        "channel_not_found" | "message_not_found" => ExitCode::NotFound,
        _ => ExitCode::Remote,
    };
    Err(Box::new((
        Outcome::fail(t, code, &format!("Slack said {err}"), slack::hint(&err)),
        err,
    )))
}

fn deliver_bot(
    client: &Client,
    t: &Target,
    m: &Message,
    o: &SendOptions,
    api_base: &str,
    token: &str,
    channel: &str,
) -> Outcome {
    let first = plan(t, m, o);
    let call = bot_call(m, channel, o);
    let answer = match (slack_api(client, t, &first), &call) {
        (Ok(v), BotCall::Update { .. }) => Ok((v, "updated")),
        (Ok(v), BotCall::Post { thread_ts: Some(_) }) => Ok((v, "replied in thread")),
        (Ok(v), BotCall::Post { thread_ts: None }) => Ok((v, "posted")),
        // The message to update is gone or not ours: post a new one rather than say nothing.
        (Err(e), BotCall::Update { .. })
            if matches!(
                e.1.as_str(),
                "message_not_found" | "cant_update_message" | "edit_window_closed" | "channel_not_found"
            ) =>
        {
            term::info(&format!(
                "notify: {}: cannot update the message ({}); posting a new one",
                t.label, e.1
            ));
            let p = bot_request(
                api_base,
                token,
                "chat.postMessage",
                &slack::post_payload(m, channel, None),
            );
            slack_api(client, t, &p).map(|v| (v, "posted (update failed)"))
        }
        (Err(e), _) => Err(e),
    };
    match answer {
        Ok((v, detail)) => {
            let mut out = Outcome::ok(t, detail);
            out.message_id = v["ts"].as_str().map(str::to_string).or_else(|| o.update.clone());
            out.channel = v["channel"].as_str().map(str::to_string);
            out
        }
        Err(e) => e.0,
    }
}

/// Send to every target at once (one thread each); outcomes in target order.
pub fn deliver_all(client: &Client, targets: &[Target], m: &Message, o: &SendOptions) -> Vec<Outcome> {
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(move || deliver(client, t, m, o)))
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(h, t)| {
                h.join()
                    .unwrap_or_else(|_| Outcome::fail(t, ExitCode::Failure, "internal error while sending", None))
            })
            .collect()
    })
}

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
