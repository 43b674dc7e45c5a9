//! Slack: Block Kit with fallback `text`, for incoming webhooks and `chat.postMessage` / `chat.update`.
//!
//! Free text (a commit subject, `--message`) goes in `plain_text` sections, which Slack shows exactly as
//! sent; the headline, fields and links are `mrkdwn` with `&`, `<`, `>` escaped. Limits honoured: 50 blocks,
//! 3,000 characters a section text, 2,000 a field, 10 fields, `text` 40,000; the free text is kept under
//! 12,000 characters in all, below the size where Slack answers `msg_blocks_too_long`.

use crate::message::Message;
use crate::text::{slack_escape, slack_link, truncate_plain, truncate_slack};
use serde_json::{json, Value};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION: usize = 3000;
pub const MAX_FIELD: usize = 2000;
pub const MAX_FIELDS: usize = 10;
pub const MAX_TEXT: usize = 40_000;
/// All free text together (sections of the body).
pub const MAX_BODY: usize = 12_000;

/// Split text into pieces of at most `size` characters, preferring line breaks and never cutting a mrkdwn
/// entity or link, at most `max_pieces`; the last piece is truncated with `…` when text is left over.
fn chunks(text: &str, size: usize, max_pieces: usize, mrkdwn: bool) -> Vec<String> {
    let mut out = vec![];
    let mut rest: &str = text;
    while !rest.is_empty() && max_pieces > 0 {
        if rest.chars().count() <= size {
            out.push(rest.to_string());
            break;
        }
        if out.len() + 1 == max_pieces {
            out.push(if mrkdwn {
                truncate_slack(rest, size)
            } else {
                truncate_plain(rest, size)
            });
            break;
        }
        // Byte index of the `size`-th character.
        let limit = rest.char_indices().nth(size).map_or(rest.len(), |(i, _)| i);
        let mut cut = rest[..limit]
            .rfind('\n')
            .filter(|&i| i > limit / 2)
            .map_or(limit, |i| i + 1);
        if mrkdwn {
            let safe = safe_mrkdwn_end(&rest[..cut]);
            if safe > 0 {
                cut = safe;
            }
        }
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    out
}

/// Where `s` can end without half an entity (`&am`) or half a link (`<https://x|la`).
fn safe_mrkdwn_end(s: &str) -> usize {
    let mut end = s.len();
    if let Some(a) = s.rfind('&') {
        if !s[a..].contains(';') {
            end = a;
        }
    }
    if let Some(l) = s[..end].rfind('<') {
        if !s[l..end].contains('>') {
            end = l;
        }
    }
    end
}

fn section_mrkdwn(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate_slack(text, MAX_SECTION)}})
}

fn section_plain(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "plain_text", "text": truncate_plain(text, MAX_SECTION), "emoji": true}})
}

/// The fallback `text` (notifications, screen readers, clients without blocks).
pub fn fallback_text(m: &Message) -> String {
    let mut t = slack_escape(&m.headline());
    let mentions = m.active_mentions();
    if !mentions.is_empty() {
        t = format!("{} {t}", mentions.join(" "));
    }
    truncate_slack(&t, MAX_TEXT)
}

/// The blocks of a message.
pub fn blocks(m: &Message) -> Vec<Value> {
    let mut head: Vec<Value> = vec![];
    let mut body_sections: Vec<Value> = vec![];
    let mut tail: Vec<Value> = vec![];

    let mentions = m.active_mentions().join(" ");
    if let Some(rendered) = m.render_template(&slack_escape) {
        // The template is the user's mrkdwn; values were escaped.
        let room = MAX_BLOCKS - 2;
        let text = truncate_slack(rendered.trim_end(), MAX_BODY);
        for c in chunks(&text, MAX_SECTION, room, true) {
            if !c.trim().is_empty() {
                body_sections.push(section_mrkdwn(&c));
            }
        }
    } else {
        let mut headline = format!("*{}*", slack_escape(&m.headline()));
        if !mentions.is_empty() {
            headline = format!("{headline}\n{mentions}");
        }
        head.push(section_mrkdwn(&headline));
        if let Some(body) = m.body().filter(|b| !b.trim().is_empty()) {
            let room = MAX_BLOCKS - 3;
            let body = truncate_plain(body.trim_end(), MAX_BODY);
            for c in chunks(&body, MAX_SECTION, room, false) {
                body_sections.push(section_plain(&c));
            }
        }
    }

    let fields: Vec<Value> = m
        .facts()
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            let value = match (label, m.commit_url()) {
                ("Commit", Some(url)) => slack_link(&url, &value),
                _ => slack_escape(&value),
            };
            json!({"type": "mrkdwn", "text": truncate_slack(&format!("*{label}*\n{value}"), MAX_FIELD)})
        })
        .collect();
    if !fields.is_empty() {
        tail.push(json!({"type": "section", "fields": fields}));
    }

    let mut ctx = vec![];
    if let Some(url) = &m.build_url {
        let label = m
            .build_number
            .as_ref()
            .map_or("Build".to_string(), |n| format!("Build #{n}"));
        ctx.push(slack_link(url, &label));
    }
    if let Some(repo) = &m.repository {
        ctx.push(match &m.repository_url {
            Some(u) => slack_link(u, repo),
            None => slack_escape(repo),
        });
    }
    if m.ci != "local" {
        ctx.push(slack_escape(&m.ci));
    }
    if !ctx.is_empty() {
        tail.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate_slack(&ctx.join(" · "), MAX_SECTION)}]}));
    }

    let mut all = head;
    let room = MAX_BLOCKS - all.len() - tail.len();
    all.extend(body_sections.into_iter().take(room));
    all.extend(tail);
    all
}

/// Incoming webhook payload.
pub fn webhook_payload(m: &Message) -> Value {
    json!({"text": fallback_text(m), "blocks": blocks(m), "unfurl_links": false, "unfurl_media": false})
}

/// `chat.postMessage` payload (a reply in a thread with `thread_ts`; failures are also sent to the channel).
pub fn post_payload(m: &Message, channel: &str, thread_ts: Option<&str>) -> Value {
    let mut v = json!({
        "channel": channel,
        "text": fallback_text(m),
        "blocks": blocks(m),
        "unfurl_links": false,
        "unfurl_media": false,
    });
    if let Some(ts) = thread_ts {
        v["thread_ts"] = json!(ts);
        if m.status == crate::message::Status::Failed {
            v["reply_broadcast"] = json!(true);
        }
    }
    v
}

/// `chat.update` payload: the same message, replacing the one at `ts`.
pub fn update_payload(m: &Message, channel: &str, ts: &str) -> Value {
    json!({"channel": channel, "ts": ts, "text": fallback_text(m), "blocks": blocks(m)})
}

/// A hint for a Slack error code (Web API `error` or webhook body).
pub fn hint(error: &str) -> Option<&'static str> {
    Some(match error {
        "channel_not_found" | "not_in_channel" => {
            "invite the app to the channel (/invite @your-app in Slack), and check the channel name or ID"
        }
        "is_archived" | "channel_is_archived" => "the channel is archived: unarchive it or pick another",
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" | "invalid_token" => {
            "check the Slack token (SHIPKIT_SLACK_TOKEN or slack://TOKEN@CHANNEL)"
        }
        "missing_scope" => "give the Slack app the chat:write scope and reinstall it",
        "no_service" | "no_team" | "team_disabled" | "action_prohibited" => {
            "the webhook URL is revoked or wrong: create a new incoming webhook"
        }
        "invalid_payload" | "invalid_blocks" | "msg_blocks_too_long" | "too_many_attachments" => {
            "Slack refused the message format: please report it with --dry-run output"
        }
        "ratelimited" | "rate_limited" => "Slack is rate limiting this channel: try again later",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Status;

    #[test]
    fn long_body_is_split_and_capped() {
        let mut m = Message::new(Status::Succeeded);
        m.text = Some("x".repeat(50_000));
        let b = blocks(&m);
        assert!(b.len() <= MAX_BLOCKS);
        let mut total = 0;
        for block in &b {
            if let Some(t) = block["text"]["text"].as_str() {
                assert!(t.chars().count() <= MAX_SECTION);
                total += t.chars().count();
            }
        }
        assert!(total <= MAX_BODY + 100, "{total}");
        assert!(b
            .iter()
            .any(|x| x["text"]["text"].as_str().is_some_and(|t| t.ends_with('…'))));
    }

    #[test]
    fn many_template_lines_stay_within_block_limit() {
        let mut m = Message::new(Status::Succeeded);
        m.template = Some("line with <{{service}}>\n".repeat(3000));
        m.service = Some("a&b".into());
        let b = blocks(&m);
        assert!(b.len() <= MAX_BLOCKS, "{}", b.len());
        let first = b[0]["text"]["text"].as_str().unwrap();
        assert!(first.starts_with("line with <a&amp;b>"), "{first}");
        for block in &b {
            if let Some(t) = block["text"]["text"].as_str() {
                assert!(t.chars().count() <= MAX_SECTION);
            }
        }
    }

    #[test]
    fn mrkdwn_chunks_never_split_an_entity_or_link() {
        let text = format!(
            "{}&amp;<https://example.test/x|link>{}",
            "a".repeat(2997),
            "b".repeat(10)
        );
        let c = chunks(&text, 3000, 10, true);
        assert_eq!(c.concat(), text, "nothing lost between pieces");
        assert_eq!(c[0], "a".repeat(2997));
        assert!(c[1].starts_with("&amp;<https://example.test/x|link>"));
        let text = format!("{}<https://example.test/x|link>", "a".repeat(2990));
        let c = chunks(&text, 3000, 10, true);
        assert_eq!(c, vec!["a".repeat(2990), "<https://example.test/x|link>".to_string()]);
    }

    #[test]
    fn chunks_prefer_line_breaks() {
        let text = format!("{}\n{}", "a".repeat(2000), "b".repeat(2000));
        let c = chunks(&text, 3000, 10, false);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], format!("{}\n", "a".repeat(2000)));
        assert_eq!(c[1], "b".repeat(2000));
    }
}
