//! `notify:` — read by `notify`.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Target URLs (`https://hooks.slack.com/...`, `discord://...`, `webhook+https://...`); use `${VAR}`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Mentions added to failure messages only (`<!subteam^ID>`, `@oncall`).
    #[serde(default)]
    pub mentions_on_failure: Vec<String>,
    /// A message template file (`{{service}}`, `{{version}}`, ...), relative to the config file.
    #[serde(default)]
    pub template: Option<String>,
    /// Fail (exit 11 / 7) when a target fails, instead of warning and exiting 0.
    #[serde(default)]
    pub strict: Option<bool>,
}
