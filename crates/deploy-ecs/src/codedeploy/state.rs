//! A CodeDeploy deployment as plain data, CodeDeploy's verdict on it, and the progress line.

use crate::engine::api::printable;
use shipkit_core::time::human_duration;
use std::time::Duration;

/// One lifecycle event of the ECS target (BeforeInstall, Install, ... AfterAllowTraffic).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub name: String,
    pub status: String,
}

/// What GetDeployment (and BatchGetDeploymentTargets) say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub status: String,
    /// errorInformation as `CODE: message`.
    pub error: Option<String>,
    /// rollbackInfo.rollbackDeploymentId: the deployment CodeDeploy started to roll this one back.
    pub rollback_id: Option<String>,
    pub rollback_message: Option<String>,
    /// rollbackInfo.rollbackTriggeringDeploymentId: this deployment is CodeDeploy's rollback of that one.
    pub rollback_of: Option<String>,
    /// The task definition of the revision's AppSpec (what the deployment deploys).
    pub task_definition: Option<String>,
    /// createTime / completeTime (seconds since the epoch).
    pub created_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub events: Vec<Event>,
}

/// The most lifecycle events kept from an answer (ECS has 8).
pub const MAX_EVENTS: usize = 50;

/// CodeDeploy's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Running,
    Succeeded,
    /// Failed or Stopped; `rollback`: the rollback deployment CodeDeploy started, if any.
    Ended {
        reason: String,
        rollback: Option<String>,
    },
}

/// Statuses of DeploymentInfo as documented; anything else is treated as still running (and said).
pub fn judge(d: &Deployment) -> Verdict {
    match d.status.as_str() {
        "Succeeded" => Verdict::Succeeded,
        "Failed" | "Stopped" => Verdict::Ended {
            reason: format!(
                "CodeDeploy deployment {} {}: {}",
                d.id,
                d.status,
                d.error.as_deref().unwrap_or("no error information")
            ),
            rollback: d.rollback_id.clone(),
        },
        _ => Verdict::Running,
    }
}

/// Is this a status the API reference documents?
pub fn known_status(s: &str) -> bool {
    matches!(
        s,
        "Created" | "Queued" | "InProgress" | "Baking" | "Succeeded" | "Failed" | "Stopped" | "Ready"
    )
}

/// `CodeDeploy d-ABC InProgress · AllowTestTraffic (3/8 done) · 1m of 10m`: [`summary`] and the time.
pub fn progress_line(d: &Deployment, waited: Duration, timeout: Duration) -> String {
    let mut line = summary(d);
    line.push_str(&format!(" · {} of {}", human_duration(waited), human_duration(timeout)));
    line
}

/// `CodeDeploy d-ABC InProgress · AllowTestTraffic (3/8 done)`: the deployment and the ECS target's
/// lifecycle event (the deploy's progress line and `status` both say it this way).
pub fn summary(d: &Deployment) -> String {
    let mut line = format!("CodeDeploy {} {}", d.id, d.status);
    let done = events_done(d);
    match d.events.iter().find(|e| e.status == "InProgress") {
        Some(e) => line.push_str(&format!(" · {} ({done}/{} done)", e.name, d.events.len())),
        None if !d.events.is_empty() => line.push_str(&format!(" · {done}/{} events done", d.events.len())),
        None => {}
    }
    line
}

/// How many lifecycle events Succeeded.
pub fn events_done(d: &Deployment) -> usize {
    d.events.iter().filter(|e| e.status == "Succeeded").count()
}

/// The lifecycle event the deployment is in, else the last one it reached (not Pending).
pub fn current_event(d: &Deployment) -> Option<&str> {
    d.events
        .iter()
        .find(|e| e.status == "InProgress")
        .or_else(|| d.events.iter().rev().find(|e| e.status != "Pending"))
        .map(|e| e.name.as_str())
}

/// Text from CodeDeploy as it may be printed (no control characters, bounded).
pub fn word(s: &str) -> String {
    printable(s, 64)
}

/// A message from CodeDeploy as it may be printed.
pub fn message(s: &str) -> String {
    printable(s, 500)
}
