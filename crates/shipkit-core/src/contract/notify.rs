//! What `notify` writes: the message to update in place, and where it was delivered.

use serde::{Deserialize, Serialize};

/// What `notify` writes: the Slack message to update in place, when the work started, and where the message
/// went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotifyOutputs {
    /// The Slack message posted (its `ts`), for a later call's `--update`: absent when no bot target
    /// posted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The Slack channel of `message_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `--status started` only: when it started (Unix seconds), for a later call's `--started-at`, which
    /// turns it into the duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// The targets the message reached (labels, secrets masked).
    pub delivered: Vec<String>,
    /// The targets it did not reach.
    pub failed: Vec<String>,
}

/// What `notify --dry-run` writes: the requests it would make.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotifyPlan {
    /// Always true.
    pub dry_run: bool,
    pub payloads: Vec<PlannedPayload>,
}

/// One request `notify --dry-run` would make.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlannedPayload {
    pub target: String,
    /// The URL, secrets redacted.
    pub url: String,
    /// The JSON body.
    pub body: serde_json::Value,
}
