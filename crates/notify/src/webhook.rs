//! A generic JSON webhook: every field of the message, `null` when unknown, so receivers get a stable
//! shape. With a secret, the body is signed: `X-Shipkit-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.

use crate::message::Message;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Shipkit-Signature";

pub fn payload(m: &Message, timestamp: &str) -> Value {
    json!({
        "source": concat!("shipkit-notify/", env!("CARGO_PKG_VERSION")),
        "status": m.status.as_str(),
        "headline": m.headline(),
        "text": m.render_template(&|s| s.to_string()).unwrap_or_else(|| m.headline()),
        "service": m.service_name(),
        "version": m.version,
        "environment": m.environment,
        "message": m.text,
        "commit": {
            "sha": m.sha,
            "short_sha": m.short_sha(),
            "url": m.commit_url(),
            "subject": m.commit_subject,
            "author": m.author,
        },
        "ref": {"branch": m.branch, "tag": m.tag, "pr": m.pr_number},
        "repository": {"name": m.repository, "url": m.repository_url},
        "build": {"url": m.build_url, "number": m.build_number, "ci": m.ci, "actor": m.actor},
        "image": m.image,
        "digest": m.digest,
        "duration": m.duration,
        "services": m.services,
        "mentions": m.active_mentions(),
        "timestamp": timestamp,
    })
}

/// `sha256=<hex>` of HMAC-SHA256 over the exact body bytes.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + bytes.len() * 2);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

// HMAC accepts keys of any length; this cannot happen.
fn unreachable_hmac() -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(b"k").unwrap_or_else(|_| std::process::abort())
}

pub use shipkit_core::time::now_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
