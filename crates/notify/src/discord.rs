//! Discord: one embed (Execute Webhook), markdown escaped, mentions only in `content` (embeds never ping)
//! and `allowed_mentions` so a commit message with `@everyone` pings nobody.
//!
//! Limits (counted in UTF-16 units, as Discord does): title 256, description 4,096, 25 fields, field name
//! 256, field value 1,024, footer 2,048, 6,000 for all embed text together; `content` 2,000.

use crate::message::{Message, Status};
use crate::text::{discord_escape, truncate_discord, utf16_len};
use serde_json::{json, Value};

pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_EMBED_TOTAL: usize = 6000;
pub const MAX_CONTENT: usize = 2000;

pub fn color(status: Status) -> u32 {
    match status {
        Status::Started => 0x001D_9BD1,
        Status::Succeeded => 0x002E_B67D,
        Status::Failed => 0x00E0_1E5A,
    }
}

/// The Execute Webhook body.
pub fn payload(m: &Message, timestamp: &str) -> Value {
    let title = truncate_discord(&discord_escape(&m.headline()), MAX_TITLE);
    let description = match m.render_template(&discord_escape) {
        Some(t) => Some(t),
        None => m.body().map(|b| discord_escape(&b)),
    }
    .filter(|d| !d.trim().is_empty())
    .map(|d| truncate_discord(d.trim_end(), MAX_DESCRIPTION));

    let mut fields: Vec<(String, String)> = m
        .facts()
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            let value = match (label, m.commit_url()) {
                ("Commit", Some(url)) => format!(
                    "[{}]({})",
                    discord_escape(&value),
                    url.replace('(', "%28").replace(')', "%29")
                ),
                _ => discord_escape(&value),
            };
            (
                truncate_discord(label, MAX_FIELD_NAME),
                truncate_discord(&value, MAX_FIELD_VALUE),
            )
        })
        .collect();
    let footer: Vec<String> = [
        m.repository.clone(),
        (m.ci != "local").then(|| match &m.build_number {
            Some(n) => format!("{} #{n}", m.ci),
            None => m.ci.clone(),
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let footer = truncate_discord(&footer.join(" · "), MAX_FOOTER);

    // 6,000 in all: shorten the description first, then drop trailing fields.
    let fixed = utf16_len(&title) + utf16_len(&footer);
    let fields_len = |f: &[(String, String)]| f.iter().map(|(n, v)| utf16_len(n) + utf16_len(v)).sum::<usize>();
    while fixed + fields_len(&fields) > MAX_EMBED_TOTAL && !fields.is_empty() {
        fields.pop();
    }
    let room = MAX_EMBED_TOTAL.saturating_sub(fixed + fields_len(&fields));
    let description = description.map(|d| truncate_discord(&d, room.min(MAX_DESCRIPTION)));

    let mut embed = json!({
        "title": title,
        "color": color(m.status),
        "timestamp": timestamp,
    });
    if let Some(url) = &m.build_url {
        embed["url"] = json!(url);
    }
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        embed["description"] = json!(d);
    }
    if !fields.is_empty() {
        embed["fields"] = fields
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value, "inline": true}))
            .collect();
    }
    if !footer.is_empty() {
        embed["footer"] = json!({"text": footer});
    }

    let mentions = m.active_mentions();
    let mut body = json!({"embeds": [embed]});
    if mentions.is_empty() {
        body["allowed_mentions"] = json!({"parse": []});
    } else {
        let content = mentions.join(" ");
        let mut parse = vec!["users", "roles"];
        if content.contains("@everyone") || content.contains("@here") {
            parse.push("everyone");
        }
        body["content"] = json!(truncate_discord(&content, MAX_CONTENT));
        body["allowed_mentions"] = json!({"parse": parse});
    }
    body
}

/// Total embed text as Discord counts it (title, description, field names and values, footer).
pub fn embed_chars(payload: &Value) -> usize {
    let s = |v: &Value| v.as_str().map_or(0, utf16_len);
    payload["embeds"].as_array().map_or(0, |embeds| {
        embeds
            .iter()
            .map(|e| {
                s(&e["title"])
                    + s(&e["description"])
                    + s(&e["footer"]["text"])
                    + e["fields"]
                        .as_array()
                        .map_or(0, |f| f.iter().map(|x| s(&x["name"]) + s(&x["value"])).sum())
            })
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_limits_with_huge_values() {
        let mut m = Message::new(Status::Failed);
        m.service = Some("s".repeat(1000));
        m.version = Some("🚀".repeat(2000));
        m.image = Some("i".repeat(5000));
        m.text = Some("*".repeat(10_000));
        m.author = Some("a".repeat(3000));
        m.repository = Some("r".repeat(3000));
        m.ci = "github".into();
        let p = payload(&m, "2026-01-01T00:00:00Z");
        let e = &p["embeds"][0];
        assert!(utf16_len(e["title"].as_str().unwrap()) <= MAX_TITLE);
        for f in e["fields"].as_array().unwrap() {
            assert!(utf16_len(f["value"].as_str().unwrap()) <= MAX_FIELD_VALUE);
        }
        assert!(embed_chars(&p) <= MAX_EMBED_TOTAL, "{}", embed_chars(&p));
        assert_eq!(p["allowed_mentions"]["parse"], json!([]));
    }
}
