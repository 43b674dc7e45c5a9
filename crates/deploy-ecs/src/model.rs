//! The waiting, failure and rollback logic, behind a small ECS-client trait ([`EcsApi`]) so it can be
//! driven by scripted DescribeServices/DescribeTasks sequences in tests.
//!
//! A deploy is successful only when the deployment that *our* UpdateService started (tracked by its
//! id) is PRIMARY and COMPLETED, runs as many tasks as it wants, and no other deployment is left. A
//! circuit-breaker rollback to the old revision, our deployment disappearing or being replaced, or its
//! new tasks stopping are failures, detected as early as possible.

use shipkit_core::{ExitCode, Result};
use std::collections::BTreeSet;
use std::time::Duration;

/// One ECS deployment of a service, as DescribeServices shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub pending: i32,
    pub running: i32,
    pub failed_tasks: i32,
    /// COMPLETED, IN_PROGRESS, FAILED (None when ECS does not report one).
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

/// A service event (newest first, as ECS returns them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub id: String,
    pub message: String,
}

/// What DescribeServices says about one service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceState {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
    pub events: Vec<Event>,
    pub tags: Vec<(String, String)>,
    /// `deploymentController.type`: `ECS` (also when absent), `CODE_DEPLOY` or `EXTERNAL`.
    pub controller: String,
    /// The service's load balancers (the container and port CodeDeploy shifts traffic to).
    pub load_balancers: Vec<LoadBalancer>,
}

/// One of a service's load balancers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadBalancer {
    pub target_group_arn: Option<String>,
    pub container: Option<String>,
    pub port: Option<i32>,
}

impl ServiceState {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }
}

/// A container of a stopped task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerState {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// What DescribeTasks says about one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskState {
    pub arn: String,
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
}

impl TaskState {
    /// `task 1a2b3c: Essential container in task exited (web exit 1)`.
    pub fn describe(&self) -> String {
        let id = self.arn.rsplit('/').next().unwrap_or(&self.arn);
        let short = &id[..id.len().min(8)];
        let mut s = format!(
            "task {short} stopped: {}",
            self.stopped_reason.as_deref().unwrap_or("no reason given")
        );
        let codes: Vec<String> = self
            .containers
            .iter()
            .filter_map(|c| {
                let mut part = match c.exit_code {
                    Some(code) => format!("{} exit {code}", c.name),
                    None => c.reason.as_ref().map(|_| c.name.clone())?,
                };
                if let Some(r) = &c.reason {
                    part.push_str(&format!(": {r}"));
                }
                Some(part)
            })
            .collect();
        if !codes.is_empty() {
            s.push_str(&format!(" ({})", codes.join(", ")));
        }
        s
    }
}

/// The calls the wait loop needs. The AWS implementation is [`crate::aws::Aws`]; tests script it.
#[allow(async_fn_in_trait)]
pub trait EcsApi {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceState>;
    /// Tasks started by this deployment id that have stopped (ListTasks startedBy + DescribeTasks).
    async fn stopped_tasks(&self, cluster: &str, deployment_id: &str) -> Result<Vec<TaskState>>;
    /// UpdateService to this task definition; returns the id of the deployment it started.
    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<String>;
    /// Wait (real time for AWS, virtual time in tests).
    async fn sleep(&self, d: Duration);
    /// Seconds elapsed on this client's clock.
    fn elapsed(&self) -> Duration;
    /// Start a phase of work that must end within `budget` from now: calls and sleeps end at that
    /// deadline (a call then fails with exit code 9). `cancellable`: a SIGINT/SIGTERM also ends them (exit
    /// code 130/143). The default (scripted tests) bounds nothing.
    fn begin_phase(&self, _budget: Duration, _cancellable: bool) {}
}

/// The verdict on one DescribeServices answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Done,
    Waiting,
    /// The deployment failed; `rolled_back_by_ecs` when ECS's circuit breaker already started a rollback
    /// deployment (its id), so we wait for that instead of starting another.
    Failed {
        reason: String,
        ecs_rollback: Option<String>,
        /// Someone else's deployment took over: rolling back would undo theirs.
        replaced: bool,
    },
}

/// Judge the state of the service for our deployment `id` (which should run `task_definition`).
pub fn evaluate(state: &ServiceState, id: &str, task_definition: &str) -> Verdict {
    let Some(ours) = state.deployments.iter().find(|d| d.id == id) else {
        let primary = state.primary();
        if let Some(p) = primary.filter(|p| p.task_definition != task_definition && is_rollback(p)) {
            return Verdict::Failed {
                reason: format!(
                    "the circuit breaker rolled the service back to {}",
                    short_td(&p.task_definition)
                ),
                ecs_rollback: Some(p.id.clone()),
                replaced: false,
            };
        }
        let now = primary
            .map(|p| format!(" (the service now runs {})", short_td(&p.task_definition)))
            .unwrap_or_default();
        return Verdict::Failed {
            reason: format!("deployment {id} is gone: replaced by another deployment{now}"),
            ecs_rollback: None,
            replaced: true,
        };
    };
    if state.status != "ACTIVE" && !state.status.is_empty() {
        return Verdict::Failed {
            reason: format!("the service is {}", state.status),
            ecs_rollback: None,
            replaced: true,
        };
    }
    if ours.rollout_state.as_deref() == Some("FAILED") {
        let primary = state.primary().filter(|p| p.id != id);
        return Verdict::Failed {
            reason: format!(
                "ECS marked the deployment FAILED: {}",
                ours.rollout_reason.as_deref().unwrap_or("no reason given")
            ),
            ecs_rollback: primary.map(|p| p.id.clone()),
            replaced: false,
        };
    }
    if ours.status != "PRIMARY" {
        let primary = state.primary();
        let rolled_back = primary.is_some_and(|p| p.task_definition != task_definition && is_rollback(p));
        let what = match primary {
            Some(p) if rolled_back => format!(
                "the circuit breaker rolled the service back to {}",
                short_td(&p.task_definition)
            ),
            Some(p) => format!(
                "deployment {id} is no longer PRIMARY: replaced by {} ({})",
                p.id,
                short_td(&p.task_definition)
            ),
            None => format!("deployment {id} is no longer PRIMARY"),
        };
        return Verdict::Failed {
            reason: what,
            ecs_rollback: primary.filter(|_| rolled_back).map(|p| p.id.clone()),
            replaced: !rolled_back,
        };
    }
    let completed = ours.rollout_state.as_deref().is_none_or(|s| s == "COMPLETED");
    if completed && ours.running == ours.desired && ours.pending == 0 && state.deployments.len() == 1 {
        return Verdict::Done;
    }
    Verdict::Waiting
}

/// Did ECS start this deployment as a circuit-breaker rollback?
fn is_rollback(d: &Deployment) -> bool {
    d.rollout_reason
        .as_deref()
        .is_some_and(|r| r.to_ascii_lowercase().contains("rollback"))
}

/// `arn:...:task-definition/web:12` → `web:12`.
pub fn short_td(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// How to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub timeout: Duration,
    pub poll: Duration,
    /// Fail once this many tasks of the new deployment have stopped.
    pub max_task_failures: usize,
}

/// Why a wait ended badly.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitError {
    Failed {
        reason: String,
        ecs_rollback: Option<String>,
        replaced: bool,
    },
    Timeout(String),
    Api(String, ExitCode),
    /// A SIGINT/SIGTERM ended the wait (exit code 130/143).
    Cancelled(String, ExitCode),
}

impl WaitError {
    pub fn reason(&self) -> &str {
        match self {
            WaitError::Failed { reason, .. }
            | WaitError::Timeout(reason)
            | WaitError::Api(reason, _)
            | WaitError::Cancelled(reason, _) => reason,
        }
    }
}

/// Reports progress lines (one per change); `prefix` names the service.
pub trait Progress {
    fn line(&self, service: &str, line: &str);
    /// Terse (CI logs, not a TTY): task-count changes only when the deployments change or every 30 s.
    fn terse(&self) -> bool {
        false
    }
}

/// Prints to stderr; terse when stderr is not a terminal.
pub struct StderrProgress;
impl Progress for StderrProgress {
    fn line(&self, service: &str, line: &str) {
        shipkit_core::term::info(&format!("{service}: {line}"));
    }
    fn terse(&self) -> bool {
        !shipkit_core::term::stderr_is_tty()
    }
}

/// What a terse log prints a line for: which deployments exist, their status and rollout state.
fn shape(state: &ServiceState) -> String {
    state
        .deployments
        .iter()
        .map(|d| format!("{} {} {:?}", d.id, d.status, d.rollout_state))
        .collect::<Vec<_>>()
        .join("|")
}

/// The progress line for a state: `web:13 PRIMARY 2/3 running, 1 pending | web:12 ACTIVE 1/1 running`.
pub fn progress_line(state: &ServiceState) -> String {
    state
        .deployments
        .iter()
        .map(|d| {
            let mut s = format!(
                "{} {} {}/{} running, {} pending",
                short_td(&d.task_definition),
                d.status,
                d.running,
                d.desired,
                d.pending
            );
            if let Some(r) = &d.rollout_state {
                s.push_str(&format!(", {r}"));
            }
            if d.failed_tasks > 0 {
                s.push_str(&format!(", {} failed", d.failed_tasks));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Poll until our deployment `id` is done, fails or times out. Prints one line per change and each new
/// service event.
pub async fn wait_deployment<A: EcsApi>(
    api: &A,
    cluster: &str,
    service: &str,
    id: &str,
    task_definition: &str,
    opts: &WaitOptions,
    progress: &dyn Progress,
) -> Result<(), WaitError> {
    let start = api.elapsed();
    let mut last_line = String::new();
    let mut last_shape = String::new();
    let mut last_print = start;
    let mut seen_events: Option<BTreeSet<String>> = None;
    let mut seen_stopped = BTreeSet::new();
    let mut stopped_reasons: Vec<String> = Vec::new();
    let mut attempt: u64 = 0;
    loop {
        let state = api.describe_service(cluster, service).await.map_err(wait_error)?;
        // New service events, oldest first. The first poll only records what was there before.
        let ids: BTreeSet<String> = state.events.iter().map(|e| e.id.clone()).collect();
        if let Some(seen) = &seen_events {
            for e in state.events.iter().rev().filter(|e| !seen.contains(&e.id)) {
                progress.line(service, &format!("event: {}", e.message));
            }
            let mut all = seen.clone();
            all.extend(ids);
            seen_events = Some(all);
        } else {
            seen_events = Some(ids);
        }
        let line = progress_line(&state);
        let now = api.elapsed();
        let due = !progress.terse()
            || shape(&state) != last_shape
            || now.saturating_sub(last_print) >= Duration::from_secs(30);
        if line != last_line && due {
            progress.line(service, &line);
            last_line = line;
            last_shape = shape(&state);
            last_print = now;
        }
        match evaluate(&state, id, task_definition) {
            Verdict::Done => return Ok(()),
            Verdict::Failed {
                reason,
                ecs_rollback,
                replaced,
            } => {
                let reason = with_stopped(reason, &stopped_reasons);
                return Err(WaitError::Failed {
                    reason,
                    ecs_rollback,
                    replaced,
                });
            }
            Verdict::Waiting => {}
        }
        // New tasks stopping: the crash loop ECS may not count in failedTasks.
        let stopped = api.stopped_tasks(cluster, id).await.map_err(wait_error)?;
        for t in stopped {
            if seen_stopped.insert(t.arn.clone()) {
                let d = t.describe();
                progress.line(service, &d);
                stopped_reasons.push(d);
            }
        }
        if seen_stopped.len() >= opts.max_task_failures.max(1) {
            return Err(WaitError::Failed {
                reason: format!(
                    "{} new task(s) stopped: {}",
                    seen_stopped.len(),
                    stopped_reasons.last().map_or("", String::as_str)
                ),
                ecs_rollback: None,
                replaced: false,
            });
        }
        let waited = api.elapsed().saturating_sub(start);
        if waited >= opts.timeout {
            return Err(WaitError::Timeout(with_stopped(
                format!(
                    "deployment {id} not stable after {}: {}",
                    human_duration(opts.timeout),
                    last_line
                ),
                &stopped_reasons,
            )));
        }
        attempt += 1;
        let pause = jittered(opts.poll, attempt).min(opts.timeout.saturating_sub(waited));
        api.sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// A failed call during a wait: a deadline that passed during it is a timeout (the rollback path), a
/// signal is a cancel, anything else an API error.
fn wait_error(e: shipkit_core::Error) -> WaitError {
    match e.code {
        ExitCode::Timeout => WaitError::Timeout(e.message),
        ExitCode::Interrupted | ExitCode::Terminated => WaitError::Cancelled(e.message, e.code),
        code => WaitError::Api(e.message, code),
    }
}

fn with_stopped(reason: String, stopped: &[String]) -> String {
    match stopped.last() {
        Some(last) if !reason.contains(last.as_str()) => format!("{reason}; last {last}"),
        _ => reason,
    }
}

/// The poll interval with ±20% jitter.
fn jittered(base: Duration, attempt: u64) -> Duration {
    let r = shipkit_core::retry::cheap_random().wrapping_add(attempt) % 401; // 0..=400
    let factor = 0.8 + f64::from(u32::try_from(r).unwrap_or(400)) / 1000.0;
    base.mul_f64(factor)
}

/// `90s` → `1m30s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s % 60 != 0 {
        format!("{}m{}s", s / 60, s % 60)
    } else if s >= 60 {
        format!("{}m", s / 60)
    } else if d.subsec_millis() != 0 && s < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{s}s")
    }
}

pub use shipkit_core::time::parse_duration;

mod outcome;
pub use outcome::{watch_and_rollback, Outcome, CANCEL_GRACE};

#[cfg(test)]
mod tests;
