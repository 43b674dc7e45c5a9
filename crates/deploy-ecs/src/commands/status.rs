//! `status`: every service's version, commit, image, digest, revision, deployed-at, lock, strategy and
//! stage, as a table or the [`StatusOutputs`] contract. Over several environments: [`super::status_all`].

use super::{
    TAG_COMMIT, TAG_LOCKED_AT, TAG_LOCKED_BY, TAG_LOCK_REASON, TAG_PINNED_AT, TAG_PINNED_BY, TAG_PINNED_TO,
    TAG_PIN_REASON, TAG_VERSION,
};
use crate::aws::Aws;
use crate::cli::StatusArgs;
use crate::engine::api;
use crate::model::{short_td, ServiceState};
use crate::settings::Target;
use crate::taskdef;
use aws_sdk_ecs::types::{Service, TaskDefinition};
use futures_util::StreamExt;
use shipkit_core::contract::{Contract, ServiceLock, ServiceStatus, StatusOutputs};
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, Result};

pub async fn status(aws: &Aws, target: &Target, _a: StatusArgs, out: &OutputOptions) -> Result<()> {
    let rows = rows(aws, target).await?;
    let mut text = status_table(&rows);
    let lines = codedeploy_lines(&rows, "");
    if !lines.is_empty() {
        text.push_str(&format!("\nCodeDeploy:\n{lines}"));
    }
    let outputs = StatusOutputs {
        status: "ok".into(),
        cluster: target.cluster.clone(),
        services: rows,
    };
    outputs.emit(out, &text)
}

/// The status of the target's services (every service of the cluster when none is named), in the order
/// asked.
pub async fn rows(aws: &Aws, target: &Target) -> Result<Vec<ServiceStatus>> {
    let cluster = target.cluster.as_str();
    let names = if target.services.is_empty() {
        aws.list_services(cluster).await?
    } else {
        target.services.clone()
    };
    let services = describe(aws, cluster, &names).await?;
    let engine = engine_state(aws, &services).await;
    let rows: Vec<Result<ServiceStatus>> = futures_util::stream::iter(services.iter().map(|s| {
        let current = s
            .current_service_deployment()
            .and_then(|arn| engine.iter().find(|d| d.arn == arn));
        row(aws, target, s, current)
    }))
    .buffered(8)
    .collect()
    .await;
    rows.into_iter().collect()
}

/// DescribeServices with tags, in batches of 10; a missing service is a not-found error naming it.
async fn describe(aws: &Aws, cluster: &str, names: &[String]) -> Result<Vec<Service>> {
    let (services, missing) = aws.describe_services_raw(cluster, names).await?;
    if !missing.is_empty() {
        return Err(
            Error::not_found(format!("service {} not found in cluster {cluster}", missing.join(", ")))
                .hint("check --service / environments.<name>.services and --cluster"),
        );
    }
    Ok(services
        .into_iter()
        .filter(|s| s.status() != Some("INACTIVE"))
        .collect())
}

/// The current ServiceDeployments (stage, status, a paused hook), 20 per call; nothing when ECS (or an
/// emulator, or the CI role) does not offer the call.
async fn engine_state(aws: &Aws, services: &[Service]) -> Vec<crate::engine::state::ServiceDeployment> {
    let arns: Vec<String> = services
        .iter()
        .filter_map(|s| s.current_service_deployment().map(String::from))
        .filter(|a| a.contains(":service-deployment/"))
        .collect();
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        aws.count_call();
        match api::describe_many(&aws.client, chunk).await {
            Ok(v) => out.extend(v),
            Err(_) => break,
        }
    }
    out
}

async fn row(
    aws: &Aws,
    target: &Target,
    s: &Service,
    current: Option<&crate::engine::state::ServiceDeployment>,
) -> Result<ServiceStatus> {
    let state: ServiceState = crate::aws::service_state(s);
    let (td, tags) = if state.task_definition.is_empty() {
        (TaskDefinition::builder().build(), vec![])
    } else {
        aws.task_definition(&state.task_definition).await?
    };
    let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let primary = state.primary();
    let image = taskdef::main_image(&td, None);
    let controller = s
        .deployment_controller()
        .map(|c| c.r#type().as_str().to_string())
        .filter(|t| t != "ECS");
    let codedeploy = if controller.as_deref() == Some("CODE_DEPLOY") {
        let (cluster, service) = (target.cluster.as_str(), state.name.as_str());
        let serving = state.task_definition.as_str();
        Some(crate::codedeploy::status::view(aws, cluster, service, serving, &target.codedeploy).await?)
    } else {
        None
    };
    let strategy = controller.or_else(|| Some(api::plan_of(s.deployment_configuration()).strategy));
    Ok(ServiceStatus {
        service: state.name.clone(),
        task_definition_arn: state.task_definition.clone(),
        revision: short_td(&state.task_definition).to_string(),
        version: tag(TAG_VERSION),
        commit: tag(TAG_COMMIT),
        digest: image.split_once('@').map(|(_, d)| d.to_string()),
        image: Some(image).filter(|i| !i.is_empty()),
        deployed_at: primary.and_then(|p| p.created_at).map(shipkit_core::time::rfc3339_utc),
        running: i64::from(state.running),
        desired: i64::from(state.desired),
        rollout_state: primary.and_then(|p| p.rollout_state.clone()),
        deployments: state.deployments.len() as u64,
        lock: lock_of(&state),
        strategy,
        stage: current.and_then(|d| d.stage.clone()),
        deployment_status: current.map(|d| d.status.clone()),
        hook: current.and_then(|d| d.awaiting_hook()).map(|h| h.id.clone()),
        provenance: tag(crate::provenance::TAG_PROVENANCE),
        codedeploy,
    })
}

fn lock_of(s: &ServiceState) -> Option<ServiceLock> {
    let own = |k: &str| s.tag(k).map(String::from);
    if let Some(by) = s.tag(TAG_LOCKED_BY) {
        Some(ServiceLock {
            kind: "locked".into(),
            by: Some(by.to_string()),
            reason: own(TAG_LOCK_REASON),
            at: own(TAG_LOCKED_AT),
            to: None,
        })
    } else {
        s.tag(TAG_PINNED_TO).map(|to| ServiceLock {
            kind: "pinned".into(),
            by: own(TAG_PINNED_BY),
            reason: own(TAG_PIN_REASON),
            at: own(TAG_PINNED_AT),
            to: Some(to.to_string()),
        })
    }
}

/// `locked by X: why`, `pinned to web:3`, or `-`.
pub fn lock_text(l: Option<&ServiceLock>) -> String {
    match l {
        Some(l) if l.kind == "locked" => format!(
            "locked by {}: {}",
            l.by.as_deref().unwrap_or("?"),
            l.reason.as_deref().unwrap_or("-")
        ),
        Some(l) => format!("pinned to {}", short_td(l.to.as_deref().unwrap_or("?"))),
        None => "-".into(),
    }
}

/// `BAKE_TIME`, `PAUSED at POST_TEST_TRAFFIC_SHIFT`, `SUCCESSFUL`, `-`; a CodeDeploy service's deployment
/// (`InProgress · AllowTestTraffic (3/8)`, `last Succeeded`).
pub fn stage_text(s: &ServiceStatus) -> String {
    if let Some(c) = &s.codedeploy {
        return crate::codedeploy::status::stage_cell(c);
    }
    match (s.deployment_status.as_deref(), s.stage.as_deref(), s.hook.as_deref()) {
        (_, Some(stage), Some(_)) => format!("PAUSED at {stage}"),
        (Some("IN_PROGRESS" | "PENDING"), Some(stage), None) | (None, Some(stage), _) => stage.to_string(),
        (Some(status), _, _) => status.to_string(),
        (None, None, _) => "-".into(),
    }
}

/// One indented line per CodeDeploy service, for under the table (`prefix` before each: the environment);
/// nothing when no service uses CodeDeploy.
pub fn codedeploy_lines(rows: &[ServiceStatus], prefix: &str) -> String {
    rows.iter()
        .filter_map(|r| {
            r.codedeploy
                .as_ref()
                .map(|c| crate::codedeploy::status::detail(&r.service, c))
        })
        .fold(String::new(), |mut out, line| {
            out.push_str("  ");
            out.push_str(prefix);
            out.push_str(&line);
            out.push('\n');
            out
        })
}

/// Aligned columns, trailing spaces trimmed.
pub fn align(table: &[Vec<String>]) -> String {
    let cols = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| table.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    table
        .iter()
        .map(|r| {
            let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            line.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

/// `verified:<keyid>` → `verified (key 1a2b3c4d5e6f)`; `-` when the revision was not checked.
fn provenance_text(tag: Option<&str>) -> String {
    match tag.and_then(|t| t.strip_prefix("verified:")) {
        Some(key) => format!("verified (key {})", key.chars().take(12).collect::<String>()),
        None => "-".into(),
    }
}

fn status_table(rows: &[ServiceStatus]) -> String {
    if rows.is_empty() {
        return "no services\n".into();
    }
    let head = [
        "SERVICE",
        "VERSION",
        "COMMIT",
        "REVISION",
        "RUNNING",
        "DEPLOYED",
        "LOCK",
        "STRATEGY",
        "STAGE",
        "PROVENANCE",
        "IMAGE",
    ];
    let mut table: Vec<Vec<String>> = vec![head.iter().map(std::string::ToString::to_string).collect()];
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for r in rows {
        let mut running = format!("{}/{}", r.running, r.desired);
        if r.deployments > 1 {
            running.push_str(" (deploying)");
        }
        table.push(vec![
            r.service.clone(),
            dash(&r.version),
            dash(&r.commit).chars().take(12).collect(),
            r.revision.clone(),
            running,
            dash(&r.deployed_at),
            lock_text(r.lock.as_ref()),
            dash(&r.strategy),
            stage_text(r),
            provenance_text(r.provenance.as_deref()),
            dash(&r.image),
        ]);
    }
    align(&table)
}
