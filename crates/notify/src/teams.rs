//! Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card in the message envelope
//! the "Post to a channel when a webhook request is received" flow expects:
//! `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{...}}]}`.
//!
//! Free text goes in a `RichTextBlock`'s `TextRun`, which Adaptive Cards never parse as markdown, so
//! it shows exactly as sent. The card is kept under 27,000 bytes (Teams refuses messages near 28 KB).

use crate::message::{Message, Status};
use crate::text::truncate_plain;
use serde_json::{json, Value};

pub const MAX_BYTES: usize = 27_000;

fn color(status: Status) -> &'static str {
    match status {
        Status::Started => "Accent",
        Status::Succeeded => "Good",
        Status::Failed => "Attention",
    }
}

fn card(m: &Message, body_text: Option<&str>) -> Value {
    let mut body = vec![];
    if let Some(t) = m.render_template(&|s| s.to_string()) {
        body.push(json!({"type": "TextBlock", "text": t, "wrap": true}));
    } else {
        body.push(json!({
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": m.headline(), "weight": "Bolder", "size": "Medium", "color": color(m.status)}],
        }));
        let mentions = m.active_mentions();
        if !mentions.is_empty() {
            body.push(json!({"type": "TextBlock", "text": mentions.join(" "), "wrap": true}));
        }
        if let Some(text) = body_text.filter(|t| !t.trim().is_empty()) {
            body.push(json!({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text}]}));
        }
    }
    let facts: Vec<Value> = m
        .facts()
        .into_iter()
        .map(|(k, v)| json!({"title": k, "value": truncate_plain(&v, 1000)}))
        .collect();
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut actions = vec![];
    if let Some(url) = &m.build_url {
        actions.push(json!({"type": "Action.OpenUrl", "title": "Open build", "url": url}));
    }
    if let Some(url) = m.commit_url() {
        actions.push(json!({"type": "Action.OpenUrl", "title": "View commit", "url": url}));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if !actions.is_empty() {
        content["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

/// The Workflows webhook body, shortened until it fits.
pub fn payload(m: &Message) -> Value {
    let body = m.body();
    let mut limit = 20_000usize;
    loop {
        let text = body.as_deref().map(|b| truncate_plain(b.trim_end(), limit));
        let mut v = card(m, text.as_deref());
        let size = v.to_string().len();
        if size <= MAX_BYTES || limit == 0 {
            // A template can be long too: cut it as a last resort.
            if size > MAX_BYTES {
                if let Some(t) = v["attachments"][0]["content"]["body"][0]["text"].as_str() {
                    let keep = t.chars().count().saturating_sub(size - MAX_BYTES + 16);
                    v["attachments"][0]["content"]["body"][0]["text"] = json!(truncate_plain(t, keep));
                }
            }
            return v;
        }
        limit = limit.saturating_sub((size - MAX_BYTES).max(limit / 4).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_bodies_fit() {
        let mut m = Message::new(Status::Failed);
        m.text = Some("\"quoted\" ✅ ".repeat(20_000));
        let p = payload(&m);
        assert!(p.to_string().len() <= MAX_BYTES, "{}", p.to_string().len());
        let mut m = Message::new(Status::Failed);
        m.template = Some("x\"".repeat(40_000));
        let p = payload(&m);
        assert!(p.to_string().len() <= MAX_BYTES + 64, "{}", p.to_string().len());
    }
}
