//! Targets are URLs, in the style users know from apprise and shoutrrr.
//!
//! | form | provider |
//! | --- | --- |
//! | `https://hooks.slack.com/services/T/B/X` | Slack incoming webhook |
//! | `slack://T/B/X` | the same, short |
//! | `slack://xoxb-TOKEN@CHANNEL`, `slack://CHANNEL` (token from `--slack-token`) | Slack bot: `chat.postMessage` / `chat.update` |
//! | `https://discord.com/api/webhooks/ID/TOKEN`, `discord://ID/TOKEN` | Discord webhook |
//! | `https://…logic.azure.com/workflows/…`, `…powerplatform.com/…`, `…powerautomate.com/…` | Teams Workflows |
//! | `teams://HOST/PATH?QUERY` | Teams Workflows at `https://HOST/PATH?QUERY` |
//! | any other `https://` URL (`http://` only to loopback) | generic JSON webhook |
//! | `slack+https://host/path`, `discord+`, `teams+`, `webhook+` (also `+http`) | that provider at any host |
//!
//! A forced Slack URL with a token as its user (`slack+https://xoxb-…@host/api?channel=C123`) or a
//! `channel=` query is a bot target whose API base is `scheme://host/path`.

use shipkit_core::{mask, Error, Result};

/// Which provider and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Incoming webhook: POST the message to the URL.
    SlackWebhook,
    /// Bot token: `chat.postMessage` / `chat.update` under `api_base`.
    SlackBot {
        api_base: String,
        token: String,
        channel: String,
    },
    Discord,
    Teams,
    Webhook,
}

/// One place to send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    /// Where to POST (for a Slack bot: the API base).
    pub url: String,
    /// Safe to print: provider and the URL with its secret parts replaced.
    pub label: String,
}

impl Target {
    pub fn provider(&self) -> &'static str {
        match self.kind {
            Kind::SlackWebhook => "slack",
            Kind::SlackBot { .. } => "slack-bot",
            Kind::Discord => "discord",
            Kind::Teams => "teams",
            Kind::Webhook => "webhook",
        }
    }
}

/// The parts of a URL we need.
struct Parts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    /// `host[:port]`
    authority: &'a str,
    /// Path with query, starting with `/` or empty.
    rest: &'a str,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority_full, rest) = after.split_at(end);
    let (userinfo, authority) = match authority_full.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, authority_full),
    };
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    Some(Parts {
        scheme,
        userinfo,
        host,
        authority,
        rest,
    })
}

fn bad(raw: &str, why: &str) -> Error {
    Error::usage(format!("bad notify target `{}`: {why}", mask::redact_url(raw))).hint(
        "targets look like https://hooks.slack.com/services/..., slack://TOKEN@CHANNEL, discord://ID/TOKEN, \
         teams://HOST/PATH or webhook+https://HOST/PATH (see README \"notify\")",
    )
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && (host.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
}

fn check_authority(raw: &str, p: &Parts<'_>) -> Result<()> {
    if !valid_host(p.host) {
        return Err(bad(raw, "missing or invalid host"));
    }
    let port = p.authority[p.host.len()..].strip_prefix(':');
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(bad(raw, "invalid port"));
        }
    } else if p.authority.len() != p.host.len() {
        return Err(bad(raw, "invalid host"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(raw, "contains spaces or control characters"));
    }
    Ok(())
}

/// Is this host a loopback address (plain `http://` is allowed only there)? By address, not by prefix:
/// `127.0.0.0/8`, `::1`, `localhost` — never `127.0.0.1.nip.io` (see [`shipkit_core::net`]).
pub fn is_loopback(host: &str) -> bool {
    shipkit_core::net::is_loopback_host(host)
}

fn query_param<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    let query = rest.split_once('?')?.1.split('#').next()?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn strip_query(rest: &str) -> &str {
    rest.split(['?', '#']).next().unwrap_or("").trim_end_matches('/')
}

/// Register a target's secrets for masking: the whole URL, every path segment and query value that may
/// be a secret, the userinfo (a bot token), and the URL it resolves to (`slack://T/B/X` →
/// `https://hooks.slack.com/services/T/B/X`), each in its encoded forms too.
pub fn register_secrets(raw: &str) {
    let raw = raw.trim();
    if raw.is_empty() {
        return;
    }
    mask::register(raw);
    mask::register_url(raw);
    if let Some(p) = split(raw) {
        if let Some(u) = p.userinfo {
            mask::register(u);
        }
    }
    if let Ok(t) = parse(raw, None) {
        mask::register_url(&t.url);
    }
}

/// Parse one target. `slack_token` is used by bot targets that carry none.
pub fn parse(raw: &str, slack_token: Option<&str>) -> Result<Target> {
    let raw = raw.trim();
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        // A newline would split every line that names the target (log and `::warning::` injection).
        return Err(bad(raw, "contains whitespace or control characters"));
    }
    let Some(p) = split(raw) else {
        return Err(bad(raw, "not a URL (no scheme://)"));
    };
    let scheme = p.scheme.to_ascii_lowercase();
    if let Some((provider, transport)) = scheme.split_once('+') {
        return parse_forced(raw, &p, provider, transport, slack_token);
    }
    match scheme.as_str() {
        "slack" => parse_slack_short(raw, &p, slack_token),
        "discord" => {
            // discord://ID/TOKEN
            check_authority(raw, &p)?;
            let token = p.rest.trim_matches('/');
            if token.is_empty() || token.contains('/') || !p.host.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad(raw, "use discord://WEBHOOK_ID/WEBHOOK_TOKEN"));
            }
            let url = format!("https://discord.com/api/webhooks/{}/{token}", p.host);
            Ok(Target {
                kind: Kind::Discord,
                label: format!("discord {}", mask::redact_url(&url)),
                url,
            })
        }
        "teams" => {
            check_authority(raw, &p)?;
            let url = format!("https://{}{}", p.authority, p.rest);
            Ok(Target {
                kind: Kind::Teams,
                label: format!("teams {}", mask::redact_url(&url)),
                url,
            })
        }
        "https" | "http" => {
            check_authority(raw, &p)?;
            if p.userinfo.is_some() {
                return Err(bad(raw, "credentials in the URL are only for slack bot targets"));
            }
            let host = p.host.to_ascii_lowercase();
            if scheme == "http" && !is_loopback(&host) {
                return Err(bad(
                    raw,
                    "plain http would send the webhook secret in clear text; use https (or webhook+http:// to force)",
                ));
            }
            let url = raw.to_string();
            let kind = detect(&host, p.rest);
            let t = Target {
                label: String::new(),
                kind,
                url,
            };
            Ok(Target {
                label: format!("{} {}", t.provider(), mask::redact_url(&t.url)),
                ..t
            })
        }
        _ => Err(bad(
            raw,
            &format!(
                "unknown scheme `{}` (https, slack, discord, teams, or provider+https)",
                p.scheme
            ),
        )),
    }
}

/// `provider+https://…` (or `+http`): that provider at any host.
fn parse_forced(
    raw: &str,
    p: &Parts<'_>,
    provider: &str,
    transport: &str,
    slack_token: Option<&str>,
) -> Result<Target> {
    if transport != "https" && transport != "http" {
        return Err(bad(raw, "the transport after `+` must be https or http"));
    }
    check_authority(raw, p)?;
    let url = format!("{transport}://{}{}", p.authority, p.rest);
    let label = format!("{provider} {}", mask::redact_url(&url));
    match provider {
        "slack" => {
            let channel = query_param(p.rest, "channel");
            let token = p
                .userinfo
                .map(str::to_string)
                .or_else(|| slack_token.map(str::to_string));
            if p.userinfo.is_some() || channel.is_some() {
                let channel = channel.ok_or_else(|| bad(raw, "a Slack bot target needs ?channel=CHANNEL"))?;
                let token = token.ok_or_else(|| no_token(raw))?;
                let api_base = format!("{transport}://{}{}", p.authority, strip_query(p.rest));
                Ok(bot(api_base, token, channel))
            } else {
                Ok(Target {
                    kind: Kind::SlackWebhook,
                    url,
                    label,
                })
            }
        }
        "discord" => Ok(Target {
            kind: Kind::Discord,
            url,
            label,
        }),
        "teams" => Ok(Target {
            kind: Kind::Teams,
            url,
            label,
        }),
        "webhook" | "json" => Ok(Target {
            kind: Kind::Webhook,
            url,
            label,
        }),
        other => Err(bad(
            raw,
            &format!("unknown provider `{other}` (slack, discord, teams, webhook)"),
        )),
    }
}

/// `slack://T/B/X` (webhook) or `slack://TOKEN@CHANNEL` / `slack://CHANNEL` (bot).
fn parse_slack_short(raw: &str, p: &Parts<'_>, slack_token: Option<&str>) -> Result<Target> {
    // slack://T000/B000/XXXX (webhook) or slack://TOKEN@CHANNEL / slack://CHANNEL (bot).
    let after = &raw[raw.find("://").map_or(0, |i| i + 3)..];
    let segments: Vec<&str> = after.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() == 3 && p.userinfo.is_none() {
        let url = format!("https://hooks.slack.com/services/{}", segments.join("/"));
        return Ok(Target {
            kind: Kind::SlackWebhook,
            label: format!("slack {}", mask::redact_url(&url)),
            url,
        });
    }
    let channel = p.authority.trim_start_matches('#');
    if channel.is_empty() || segments.len() != 1 || p.rest.contains('?') {
        return Err(bad(
            raw,
            "use slack://T.../B.../XXX (webhook) or slack://TOKEN@CHANNEL (bot)",
        ));
    }
    let token = p
        .userinfo
        .map(str::to_string)
        .or_else(|| slack_token.map(str::to_string))
        .ok_or_else(|| no_token(raw))?;
    Ok(bot("https://slack.com/api".into(), token, channel))
}

fn no_token(raw: &str) -> Error {
    Error::auth(format!("Slack bot target `{}` has no token", mask::redact_url(raw)))
        .hint("put it in the URL (slack://xoxb-...@CHANNEL) or set SHIPKIT_SLACK_TOKEN")
}

fn bot(api_base: String, token: String, channel: &str) -> Target {
    mask::register(&token);
    Target {
        label: format!("slack-bot {} #{channel}", mask::redact_url(&api_base)),
        url: api_base.clone(),
        kind: Kind::SlackBot {
            api_base,
            token,
            channel: channel.to_string(),
        },
    }
}

/// The provider of a plain http(s) URL, by host and path.
fn detect(host: &str, rest: &str) -> Kind {
    let host = host.trim_end_matches('.');
    if host == "hooks.slack.com" || host == "hooks.slack-gov.com" {
        Kind::SlackWebhook
    } else if (host == "discord.com"
        || host == "discordapp.com"
        || host.ends_with(".discord.com")
        || host.ends_with(".discordapp.com"))
        && rest.starts_with("/api/webhooks/")
    {
        Kind::Discord
    } else if host.ends_with(".logic.azure.com")
        || host.ends_with(".powerplatform.com")
        || host.ends_with(".powerautomate.com")
        || host == "api.powerautomate.com"
        || host == "flow.microsoft.com"
        || host.ends_with(".webhook.office.com")
    {
        Kind::Teams
    } else {
        Kind::Webhook
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_providers_by_host() {
        let t = parse("https://hooks.slack.com/services/T000/B000/XXXXXXXX", None).unwrap();
        assert_eq!(
            (t.kind, t.label.as_str()),
            (Kind::SlackWebhook, "slack https://hooks.slack.com/***")
        );
        let t = parse("https://discord.com/api/webhooks/123/abcdef", None).unwrap();
        assert_eq!(t.kind, Kind::Discord);
        let t = parse(
            "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
            None,
        )
        .unwrap();
        assert_eq!(t.kind, Kind::Teams);
        let t = parse(
            "https://default1.environment.api.powerplatform.com/powerautomate/x?sig=y",
            None,
        )
        .unwrap();
        assert_eq!(t.kind, Kind::Teams);
        let t = parse("https://example.test/hook", None).unwrap();
        assert_eq!(t.kind, Kind::Webhook);
        assert_eq!(parse("http://127.0.0.1:8080/x", None).unwrap().kind, Kind::Webhook);
    }

    #[test]
    fn short_and_forced_forms() {
        let t = parse("slack://T000/B000/XXXXXXXX", None).unwrap();
        assert_eq!(t.url, "https://hooks.slack.com/services/T000/B000/XXXXXXXX");
        let t = parse("discord://123456/tok-en_ABC", None).unwrap();
        assert_eq!(t.url, "https://discord.com/api/webhooks/123456/tok-en_ABC");
        let t = parse("slack://xoxb-1-2-abc@deploys", None).unwrap();
        assert_eq!(
            t.kind,
            Kind::SlackBot {
                api_base: "https://slack.com/api".into(),
                token: "xoxb-1-2-abc".into(),
                channel: "deploys".into()
            }
        );
        let t = parse("slack://C0123", Some("xoxb-env")).unwrap();
        assert!(matches!(t.kind, Kind::SlackBot { ref token, .. } if token == "xoxb-env"));
        assert_eq!(
            parse("slack://C0123", None).unwrap_err().code,
            shipkit_core::ExitCode::Auth
        );
        let t = parse("slack+http://127.0.0.1:9/hook/x", None).unwrap();
        assert_eq!(
            (t.kind, t.url.as_str()),
            (Kind::SlackWebhook, "http://127.0.0.1:9/hook/x")
        );
        let t = parse("slack+http://xoxb-t@127.0.0.1:9/api?channel=C1", None).unwrap();
        assert_eq!(
            t.kind,
            Kind::SlackBot {
                api_base: "http://127.0.0.1:9/api".into(),
                token: "xoxb-t".into(),
                channel: "C1".into()
            }
        );
        assert_eq!(parse("teams+https://example.test/x", None).unwrap().kind, Kind::Teams);
        assert_eq!(
            parse("webhook+http://example.test/x", None).unwrap().kind,
            Kind::Webhook
        );
        assert_eq!(
            parse("discord+https://example.test/x", None).unwrap().kind,
            Kind::Discord
        );
        assert_eq!(
            parse("teams://prod.logic.azure.com/workflows/x?sig=1", None)
                .unwrap()
                .url,
            "https://prod.logic.azure.com/workflows/x?sig=1"
        );
    }

    #[test]
    fn plain_http_only_to_loopback_addresses() {
        for ok in [
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(parse(ok, None).is_ok(), "{ok}");
        }
        for refused in [
            "http://127.0.0.1.nip.io/hook",
            "http://127.attacker.example/x",
            "http://localhost.evil.example/x",
            "http://[::2]/x",
        ] {
            let e = parse(refused, None).unwrap_err();
            assert!(e.message.contains("plain http"), "{refused}: {}", e.message);
        }
    }

    #[test]
    fn malformed_targets_are_usage_errors_with_the_secret_masked() {
        for raw in [
            "hooks.slack.com/services/T/B/X",
            "https:///nohost",
            "https://exa mple.test/x",
            "https://example.test:99999/x",
            "ftp://example.test/x",
            "pigeon+https://example.test/x",
            "slack+ftp://example.test/x",
            "http://example.test/secret-path",
            "discord://notanid/x",
        ] {
            let e = parse(raw, None).unwrap_err();
            assert_eq!(e.code, shipkit_core::ExitCode::Usage, "{raw}");
            assert!(!e.message.contains("secret-path"), "{}", e.message);
        }
    }
}
