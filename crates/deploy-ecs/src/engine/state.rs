//! What ECS says about one service deployment (DescribeServiceDeployments), as plain data, and the pure
//! decisions on it: ECS's verdict, where it waits (a hook, the bake time), how long it is expected to
//! take, and the progress line.

use std::time::Duration;

/// One side of a deployment: a service revision and its task counts and traffic weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevisionSummary {
    pub arn: String,
    pub requested: i32,
    pub running: i32,
    pub pending: i32,
    pub test_weight: Option<f64>,
    pub production_weight: Option<f64>,
}

/// A lifecycle hook of the deployment (DeploymentLifecycleHookDetail).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hook {
    pub id: String,
    /// `PAUSE` or `AWS_LAMBDA`.
    pub kind: String,
    pub target_arn: Option<String>,
    /// AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    /// Seconds since the epoch.
    pub expires_at: Option<i64>,
    pub timeout_action: Option<String>,
}

impl Hook {
    /// A PAUSE hook waiting for ContinueServiceDeployment.
    pub fn awaiting(&self) -> bool {
        self.kind == "PAUSE" && self.status == "AWAITING_ACTION"
    }
    /// `PAUSE hook ecs-pause-1a2b…` / `Lambda hook arn:…:function:smoke`.
    pub fn describe(&self) -> String {
        let id = super::api::printable(&self.id, 80);
        match (self.kind.as_str(), &self.target_arn) {
            ("PAUSE", _) => format!("PAUSE hook {id}"),
            (_, Some(t)) => format!("Lambda hook {}", t.rsplit(':').next().unwrap_or(t)),
            _ => format!("hook {id}"),
        }
    }
}

/// The deployment configuration that matters for following: strategy and the times ECS waits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// ROLLING, BLUE_GREEN, LINEAR, CANARY.
    pub strategy: String,
    pub bake_minutes: u32,
    /// LINEAR: steps of this many percent, each held this long.
    pub linear_step_percent: Option<f64>,
    pub linear_step_bake_minutes: u32,
    /// CANARY: held this long at the canary percentage.
    pub canary_bake_minutes: u32,
    /// PAUSE hooks: the longest wait ECS allows at one before its timeout action.
    pub pause_hook_timeout_minutes: Vec<u32>,
    pub alarms: Vec<String>,
}

impl Plan {
    /// How long ECS itself waits on purpose (bake times, traffic-shift holds), beyond the rollout.
    pub fn deliberate_wait(&self) -> Duration {
        let steps = match (self.strategy.as_str(), self.linear_step_percent) {
            // A step of p percent makes ceil(100 / p) steps, bounded at 1,000 (p under 0.1%).
            ("LINEAR", Some(p)) if p > 0.0 => (1..=1000u32)
                .find(|&n| f64::from(n) * p >= 100.0)
                .unwrap_or(1000)
                .saturating_sub(1),
            _ => 0,
        };
        let canary = if self.strategy == "CANARY" {
            u64::from(self.canary_bake_minutes)
        } else {
            0
        };
        let minutes = u64::from(self.bake_minutes)
            .saturating_add(u64::from(steps).saturating_mul(u64::from(self.linear_step_bake_minutes)))
            .saturating_add(canary);
        Duration::from_secs(minutes.min(7 * 24 * 60) * 60)
    }
}

/// ECS's record of one deployment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDeployment {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED.
    pub status: String,
    pub status_reason: Option<String>,
    pub stage: Option<String>,
    pub source: Vec<RevisionSummary>,
    pub target: Option<RevisionSummary>,
    pub hooks: Vec<Hook>,
    pub plan: Plan,
    pub rollback_reason: Option<String>,
    pub rollback_revision: Option<String>,
    pub triggered_alarms: Vec<String>,
    pub breaker_failures: i32,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

impl ServiceDeployment {
    /// `…/service-deployment/cluster/web/r9i43YFjvgF` → `r9i43YFjvgF`.
    pub fn short_id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
    /// The PAUSE hook waiting for ContinueServiceDeployment, if any.
    pub fn awaiting_hook(&self) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.awaiting())
    }
    /// A hook running now (Lambda IN_PROGRESS, or a PAUSE awaiting action).
    pub fn running_hook(&self) -> Option<&Hook> {
        self.awaiting_hook()
            .or_else(|| self.hooks.iter().find(|h| h.status == "IN_PROGRESS"))
    }
    fn reason(&self) -> String {
        let mut r = self
            .status_reason
            .clone()
            .or_else(|| self.rollback_reason.clone())
            .unwrap_or_else(|| "no reason given".into());
        if !self.triggered_alarms.is_empty() && !r.contains(&self.triggered_alarms[0]) {
            r.push_str(&format!(" (alarms in ALARM: {})", self.triggered_alarms.join(", ")));
        }
        r
    }
}

/// ECS's verdict on a deployment, as deploy-ecs acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Still going (maybe baking, maybe at a hook).
    Running,
    Succeeded,
    /// ECS is rolling back by itself (alarm, circuit breaker, hook, a StopServiceDeployment): wait for it.
    RollingBack {
        reason: String,
    },
    /// ECS rolled back: the deploy failed, the service runs the source revision again.
    RolledBack {
        reason: String,
    },
    RollbackFailed {
        reason: String,
    },
    /// Stopped without a rollback: replaced by a newer deployment, or a failure with rollback off.
    Stopped {
        reason: String,
        replaced: bool,
    },
}

/// Judge one DescribeServiceDeployments answer.
pub fn judge(d: &ServiceDeployment) -> Verdict {
    match d.status.as_str() {
        "SUCCESSFUL" => Verdict::Succeeded,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => Verdict::RollingBack { reason: d.reason() },
        "ROLLBACK_SUCCESSFUL" => Verdict::RolledBack { reason: d.reason() },
        "ROLLBACK_FAILED" => Verdict::RollbackFailed { reason: d.reason() },
        "STOPPED" | "STOP_REQUESTED" => {
            let reason = d.reason();
            let lower = reason.to_ascii_lowercase();
            let replaced = lower.contains("new") && (lower.contains("deployment") || lower.contains("replac"));
            Verdict::Stopped { reason, replaced }
        }
        _ => Verdict::Running,
    }
}

/// Has the deployment reached `stage` (a lifecycle stage name, or `paused` for any PAUSE hook awaiting
/// action)? Stages are compared by their order in the strategy, so a stage that was passed between two
/// polls still counts.
pub fn reached(d: &ServiceDeployment, stage: &str) -> bool {
    if stage.eq_ignore_ascii_case("paused") {
        return d.awaiting_hook().is_some();
    }
    if d.status == "SUCCESSFUL" {
        return true;
    }
    if d.status != "IN_PROGRESS" {
        return false;
    }
    match (d.stage.as_deref().and_then(stage_order), stage_order(stage)) {
        (Some(now), Some(want)) => now >= want,
        _ => false,
    }
}

/// Every lifecycle stage ECS reports, in the order a deployment goes through them.
pub const STAGES: [&str; 11] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

fn stage_order(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.eq_ignore_ascii_case(stage))
}

/// Check a `--wait-until` value: a stage name or `paused`.
pub fn parse_wait_until(value: &str) -> Result<String, String> {
    let v = value.trim().trim_start_matches("ecs:").to_ascii_uppercase();
    if v == "PAUSED" || stage_order(&v).is_some() {
        return Ok(v);
    }
    Err(format!(
        "--wait-until `{value}` is not a lifecycle stage (one of {}, or PAUSED)",
        STAGES.join(", ")
    ))
}

/// `web: BLUE_GREEN TEST_TRAFFIC_SHIFT · green 2/2 · 3m10s of 15m`, plus the hook or bake it waits on.
pub fn progress_line(d: &ServiceDeployment, elapsed: Duration, timeout: Duration) -> String {
    let strategy = if d.plan.strategy.is_empty() {
        "ROLLING"
    } else {
        d.plan.strategy.as_str()
    };
    let mut parts = vec![format!(
        "{strategy} {}",
        d.stage.as_deref().unwrap_or(d.status.as_str())
    )];
    if !matches!(d.status.as_str(), "IN_PROGRESS" | "PENDING") {
        parts[0].push_str(&format!(" ({})", d.status));
    }
    if let Some(t) = &d.target {
        let colour = if strategy == "ROLLING" { "new" } else { "green" };
        let mut s = format!("{colour} {}/{}", t.running, t.requested);
        if let Some(w) = t.production_weight.filter(|_| strategy != "ROLLING") {
            s.push_str(&format!(", {w:.0}% traffic"));
        }
        parts.push(s);
    }
    if d.stage.as_deref() == Some("BAKE_TIME") && d.status == "IN_PROGRESS" {
        parts.push(format!("baking {}m (waiting, not stuck)", d.plan.bake_minutes));
    }
    if let Some(h) = d.running_hook() {
        if h.awaiting() {
            parts.push(format!(
                "waiting at {} (`deploy-ecs continue` or `deploy-ecs abort`)",
                h.describe()
            ));
        } else {
            parts.push(format!("running {}", h.describe()));
        }
    }
    parts.push(format!(
        "{} of {}",
        shipkit_core::time::human_duration(elapsed),
        shipkit_core::time::human_duration(timeout)
    ));
    parts.join(" · ")
}
