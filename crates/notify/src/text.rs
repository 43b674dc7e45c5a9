//! Escaping per provider and truncation that never cuts an escape, a link or a character in half.

/// The marker left where text was cut.
pub const ELLIPSIS: &str = "…";

/// Slack `mrkdwn`: `&`, `<` and `>` are control characters and must be sent as entities
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>).
pub fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Slack link `<url|label>`: the label escaped, `|` and `>` kept out of it.
pub fn slack_link(url: &str, label: &str) -> String {
    format!(
        "<{}|{}>",
        url.replace(['<', '>', '|', ' '], ""),
        slack_escape(label).replace('|', "¦")
    )
}

/// Discord markdown: a backslash before any markdown punctuation shows it literally.
pub fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']' | '(' | ')' | '-' | '@' | ':'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Characters as Slack counts them (Unicode scalar values).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Characters as Discord counts them (JavaScript string length: UTF-16 code units). An emoji counts 2.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Cut `s` to at most `max` units (measured by `len`), adding `…`, on a character boundary.
fn cut_by(s: &str, max: usize, len: fn(&str) -> usize) -> String {
    if len(s) <= max {
        return s.to_string();
    }
    let budget = max.saturating_sub(len(ELLIPSIS));
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let mut buf = [0u8; 4];
        let w = len(c.encode_utf8(&mut buf));
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    out
}

/// Truncate plain text (no markup) to `max` characters.
pub fn truncate_plain(s: &str, max: usize) -> String {
    if char_len(s) <= max {
        return s.to_string();
    }
    let mut out = cut_by(s, max, char_len);
    out.push_str(ELLIPSIS);
    out
}

/// Truncate Slack mrkdwn to `max` characters without leaving half an entity (`&am`) or half a link
/// or mention (`<https://x|lab`).
pub fn truncate_slack(s: &str, max: usize) -> String {
    if char_len(s) <= max {
        return s.to_string();
    }
    let mut out = cut_by(s, max, char_len);
    if let Some(amp) = out.rfind('&') {
        if !out[amp..].contains(';') {
            out.truncate(amp);
        }
    }
    if let Some(lt) = out.rfind('<') {
        if !out[lt..].contains('>') {
            out.truncate(lt);
        }
    }
    out.push_str(ELLIPSIS);
    out
}

/// Truncate Discord markdown to `max` UTF-16 units without leaving a dangling escape backslash.
pub fn truncate_discord(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_string();
    }
    let mut out = cut_by(s, max, utf16_len);
    let trailing = out.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        out.pop();
    }
    out.push_str(ELLIPSIS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_escapes_only_control_characters() {
        assert_eq!(slack_escape("a<b>&c \"q\" `x` 🚀"), "a&lt;b&gt;&amp;c \"q\" `x` 🚀");
        assert_eq!(slack_link("https://x/y", "a|b<c"), "<https://x/y|a¦b&lt;c>");
    }

    #[test]
    fn discord_escapes_markdown() {
        assert_eq!(discord_escape("*bold* `x` a\\b"), "\\*bold\\* \\`x\\` a\\\\b");
        assert_eq!(discord_escape("plain text 🚀"), "plain text 🚀");
    }

    #[test]
    fn truncation_is_safe() {
        assert_eq!(truncate_plain("abcdef", 6), "abcdef");
        assert_eq!(truncate_plain("abcdefg", 6), "abcde…");
        // Never half an entity.
        let t = truncate_slack("abcd&amp;efgh", 7);
        assert_eq!(t, "abcd…");
        // Never half a link.
        let t = truncate_slack("see <https://example.test/a|link> now", 12);
        assert_eq!(t, "see …");
        // Emoji count 2 for Discord and are never split.
        let t = truncate_discord("🚀🚀🚀", 5);
        assert_eq!(t, "🚀🚀…");
        assert!(utf16_len(&t) <= 5);
        // A dangling escape is dropped.
        assert_eq!(truncate_discord("ab\\*cd", 4), "ab…");
        assert_eq!(truncate_discord("ab\\\\cd", 5), "ab\\\\…");
    }
}
