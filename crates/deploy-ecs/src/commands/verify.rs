//! `verify`: before a first deploy, check that everything the deploy needs exists and is reachable —
//! the cluster, the services, the container names, the image in its registry, the execution and task
//! roles, the awslogs log groups, the load balancers' target groups — one line each, `ok`, `failed` (with
//! a fix) or `not checked` (no answer to rely on). Exit 10 when any check failed. Nothing is changed.

use super::diff::Wanted;
use crate::aws::{sdk_error, Aws, Connect};
use crate::awsraw::{Probe, RawAws};
use crate::cli::PlanArgs;
use crate::model::short_td;
use crate::settings::Target;
use aws_sdk_ecs::types::{Service, TaskDefinition};
use futures_util::FutureExt;
use shipkit_core::contract::{Contract, VerifyCheck, VerifyOutputs};
use shipkit_core::output::OutputOptions;
use shipkit_core::registry::reference::parse_image;
use shipkit_core::registry::{Client as Registry, Options as RegistryOptions};
use shipkit_core::{Error, Result};

/// The checks made so far.
#[derive(Default)]
struct Checks(Vec<VerifyCheck>);

impl Checks {
    fn ok(&mut self, check: &str, target: &str, detail: impl Into<String>) {
        self.push(check, target, "ok", detail.into(), None);
    }
    fn failed(&mut self, check: &str, target: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(check, target, "failed", detail.into(), Some(fix.into()));
    }
    fn unknown(&mut self, check: &str, target: &str, detail: impl Into<String>) {
        self.push(check, target, "not_checked", detail.into(), None);
    }
    fn push(&mut self, check: &str, target: &str, status: &str, detail: String, fix: Option<String>) {
        self.0.push(VerifyCheck {
            check: check.into(),
            target: target.into(),
            status: status.into(),
            detail,
            fix,
        });
    }
    /// A lookup's answer as a check line.
    fn probe(&mut self, check: &str, target: &str, p: Probe, fix: &str) {
        match p {
            Probe::Found => self.ok(check, target, "exists"),
            Probe::Missing(code) => self.failed(check, target, code, fix),
            Probe::Unknown(why) => self.unknown(check, target, format!("not checked: {why}")),
        }
    }
}

pub async fn verify(aws: &Aws, connect: &Connect, target: &Target, a: PlanArgs, out: &OutputOptions) -> Result<()> {
    let wanted = Wanted::from_args(&a, target).await?;
    let mut checks = Checks::default();
    if check_cluster(aws, &target.cluster, &mut checks).await? {
        let raw = RawAws::connect(connect, connect.timeouts.attempt).await?;
        let registry = registry_client(connect);
        for service in describe(aws, target, &mut checks).await? {
            check_service(aws, (&raw, &registry), &wanted, &service, &mut checks).await?;
        }
    }
    let failed = checks.0.iter().filter(|c| c.status == "failed").count();
    let outputs = VerifyOutputs {
        status: if failed == 0 { "ok" } else { "failed" }.into(),
        cluster: target.cluster.clone(),
        failed: failed as u64,
        checks: checks.0,
    };
    outputs.emit(out, &text(&outputs))?;
    if failed > 0 {
        return Err(Error::refused(format!(
            "{failed} check(s) failed: not ready to deploy to cluster {}",
            target.cluster
        ))
        .hint("fix what the failed lines say, then run verify again"));
    }
    Ok(())
}

/// DescribeClusters: ACTIVE is ok. Returns whether the service checks can go on.
async fn check_cluster(aws: &Aws, cluster: &str, checks: &mut Checks) -> Result<bool> {
    aws.count_call();
    let r = aws
        .client
        .describe_clusters()
        .clusters(cluster)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error(&format!("DescribeClusters {cluster}"), &e))?;
    let status = r.clusters().first().and_then(|c| c.status()).unwrap_or("MISSING");
    if status == "ACTIVE" {
        checks.ok("cluster", cluster, "ACTIVE");
        return Ok(true);
    }
    checks.failed(
        "cluster",
        cluster,
        format!("{status}: no such active cluster"),
        "create the cluster, or fix --cluster / environments.<name>.cluster and --region",
    );
    Ok(false)
}

/// DescribeServices (with load balancers): one line per service; the active ones are returned.
async fn describe(aws: &Aws, target: &Target, checks: &mut Checks) -> Result<Vec<Service>> {
    let mut found = Vec::new();
    for chunk in target.services.chunks(10) {
        aws.count_call();
        let r = aws
            .client
            .describe_services()
            .cluster(&target.cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("DescribeServices in cluster {}", target.cluster), &e))?;
        for name in chunk {
            let s = r.services().iter().find(|s| {
                s.service_name() == Some(name.as_str())
                    || s.service_arn().is_some_and(|a| a.ends_with(&format!("/{name}")))
            });
            match s.filter(|s| s.status() == Some("ACTIVE")) {
                Some(s) => {
                    let td = short_td(s.task_definition().unwrap_or(""));
                    checks.ok(
                        "service",
                        name,
                        format!("ACTIVE, runs {td}, {}/{} running", s.running_count(), s.desired_count()),
                    );
                    found.push(s.clone());
                }
                None => checks.failed(
                    "service",
                    name,
                    "not found (or INACTIVE)",
                    "create the service first (deploy-ecs updates existing services), or fix --service",
                ),
            }
        }
    }
    Ok(found)
}

/// Containers, image, roles, log groups and target groups of one service.
async fn check_service(
    aws: &Aws,
    (raw, registry): (&RawAws, &Registry),
    wanted: &Wanted,
    s: &Service,
    checks: &mut Checks,
) -> Result<()> {
    let name = s.service_name().unwrap_or("?");
    let td = match wanted.plan(aws, s.task_definition().unwrap_or("")).await {
        Ok((_, td)) => td,
        Err(e) if matches!(e.code, shipkit_core::ExitCode::Usage | shipkit_core::ExitCode::NotFound) => {
            let fix = e
                .hint
                .clone()
                .unwrap_or_else(|| "fix the task definition or the flags".into());
            checks.failed("container", name, e.message, fix);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let containers: Vec<&str> = td.container_definitions().iter().filter_map(|c| c.name()).collect();
    checks.ok("container", name, format!("containers: {}", containers.join(", ")));
    for lb in s.load_balancers() {
        if let Some(c) = lb.container_name().filter(|c| !containers.contains(c)) {
            checks.failed(
                "container",
                c,
                format!("the service's load balancer sends traffic to container {c}, which the task definition lacks"),
                "keep that container name in the task definition (or change the service's load balancer)",
            );
        }
    }
    check_image(registry, wanted, &td, checks);
    check_roles(raw, &td, checks);
    check_log_groups(raw, &td, checks);
    for lb in s.load_balancers() {
        if let Some(arn) = lb.target_group_arn() {
            let fix = "create the target group, or fix the service's load balancer configuration";
            checks.probe("target_group", arn, raw.target_group(arn), fix);
        }
    }
    Ok(())
}

/// The image of the deploy (or, without `--image`, the images running now): HEAD of its manifest in its
/// registry (shipkit-core's registry client: docker config credentials kept to their origin, a deadline per
/// request). Missing is a failure; no answer to rely on (refused credentials, a registry that does not
/// answer) is `not checked`.
fn check_image(registry: &Registry, wanted: &Wanted, td: &TaskDefinition, checks: &mut Checks) {
    let images: Vec<String> = match wanted.image() {
        Some(i) => vec![i.to_string()],
        None => td
            .container_definitions()
            .iter()
            .filter_map(|c| c.image.clone())
            .collect(),
    };
    for image in images {
        if checks.0.iter().any(|c| c.check == "image" && c.target == image) {
            continue;
        }
        let parsed = match parse_image(&image) {
            Ok((r, _)) => r,
            Err(e) => {
                checks.failed("image", &image, e.message, "fix the image reference");
                continue;
            }
        };
        match registry.head_manifest(&parsed) {
            Ok(Some(digest)) => checks.ok("image", &image, format!("in its registry ({digest})")),
            Ok(None) => checks.failed(
                "image",
                &image,
                "not in its registry (manifest unknown)",
                "push the image first (docker-tag-push), or fix --image",
            ),
            Err(e) => checks.unknown("image", &image, format!("not checked: {}", e.message)),
        }
    }
}

/// The registry client for the image check: one attempt's deadline per request, two attempts.
fn registry_client(connect: &Connect) -> Registry {
    Registry::new(RegistryOptions {
        timeout: connect.timeouts.attempt,
        backoff: shipkit_core::retry::Backoff {
            attempts: connect.max_attempts.clamp(1, 2),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn check_roles(raw: &RawAws, td: &TaskDefinition, checks: &mut Checks) {
    let fix = "create the role (trusted by ecs-tasks.amazonaws.com), or fix the ARN in the task definition";
    if let Some(arn) = td.execution_role_arn().filter(|a| !a.is_empty()) {
        checks.probe("execution_role", arn, raw.role(arn), fix);
    }
    if let Some(arn) = td.task_role_arn().filter(|a| !a.is_empty()) {
        checks.probe("task_role", arn, raw.role(arn), fix);
    }
}

/// Every `awslogs` log group; one ECS creates itself (`awslogs-create-group: true`) is ok either way.
fn check_log_groups(raw: &RawAws, td: &TaskDefinition, checks: &mut Checks) {
    let mut seen: Vec<String> = Vec::new();
    for c in td.container_definitions() {
        let Some(lc) = c.log_configuration().filter(|l| l.log_driver().as_str() == "awslogs") else {
            continue;
        };
        let options = lc.options();
        let Some(group) = options.and_then(|o| o.get("awslogs-group")).cloned() else {
            continue;
        };
        if seen.contains(&group) {
            continue;
        }
        seen.push(group.clone());
        let creates = options
            .and_then(|o| o.get("awslogs-create-group"))
            .is_some_and(|v| v == "true");
        match raw.log_group(&group) {
            Probe::Missing(_) if creates => {
                checks.ok("log_group", &group, "missing; ECS creates it (awslogs-create-group)");
            }
            p => checks.probe(
                "log_group",
                &group,
                p,
                "create the log group (aws logs create-log-group), or set awslogs-create-group: \"true\"",
            ),
        }
    }
}

/// `ok      cluster prod: ACTIVE`, `failed  task_role arn:…: NoSuchEntity (fix: …)`.
fn text(v: &VerifyOutputs) -> String {
    let mut s = String::new();
    for c in &v.checks {
        let mark = match c.status.as_str() {
            "ok" => "ok    ",
            "failed" => "failed",
            _ => "-     ",
        };
        let what = c.check.replace('_', " ");
        let fix = c.fix.as_deref().map(|f| format!(" (fix: {f})")).unwrap_or_default();
        s.push_str(&format!("{mark}  {what} {}: {}{fix}\n", c.target, c.detail));
    }
    let failed = v.failed;
    s.push_str(&if failed == 0 {
        "verify: every check passed\n".to_string()
    } else {
        format!("verify: {failed} check(s) failed\n")
    });
    s
}
