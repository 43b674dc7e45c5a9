//! The AWS side: the SDK client (rustls with ring, adaptive retries, standard credential chain) and the
//! ECS calls the commands make, with SDK errors turned into one-line shipkit errors and exit codes.

use crate::model::{ContainerState, Deployment, EcsApi, Event, ServiceState, TaskState};
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{DesiredStatus, ServiceField, Tag, Task, TaskDefinition, TaskDefinitionField};
use aws_sdk_ecs::Client;
use futures_util::FutureExt;
use shipkit_core::{Error, ExitCode, Result};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Where and how to connect: shipkit-core's AWS client options (timeouts and bounded attempts included).
pub type Connect = shipkit_core::aws::ClientOptions;

/// The ECS client, counting the calls it makes.
pub struct Aws {
    pub client: Client,
    /// CodeDeploy, for services with `deploymentController: CODE_DEPLOY` (same config: timeouts, retries).
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// The deadline of one call, every retry included (`--call-timeout`).
    pub call_timeout: Duration,
    start: Instant,
    calls: Cell<u64>,
}

/// Build the client from shipkit-core's SDK config: the standard credential chain, one TLS stack,
/// adaptive retries (absorbs throttling when many services deploy at once), a deadline on every call.
pub async fn connect(c: &Connect) -> Result<Aws> {
    let conf = shipkit_core::aws::load(c).boxed().await?;
    Ok(Aws {
        client: Client::new(&conf),
        codedeploy: aws_sdk_codedeploy::Client::new(&conf),
        call_timeout: c.timeouts.operation,
        start: Instant::now(),
        calls: Cell::new(0),
    })
}

/// Turn an SDK error into a one-line shipkit error with the right exit code (shipkit-core's mapping by
/// error code), with ECS's own meaning of `ClientException`: ECS answers a missing task definition with
/// `ClientException: Unable to describe task definition.`, and bad requests with the same code.
pub fn sdk_error<E>(what: &str, e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let err = shipkit_core::aws::error(what, e);
    match e.code() {
        Some("ClusterNotFoundException") => err.hint("check --cluster and --region"),
        Some("ServiceNotFoundException" | "ServiceNotActiveException") => {
            Error::not_found(err.message).hint("check --service and --cluster")
        }
        Some("ClientException") => {
            let lower = e.message().unwrap_or("").to_ascii_lowercase();
            let missing = ["not found", "does not exist", "unable to describe"];
            if missing.iter().any(|m| lower.contains(m)) {
                Error::not_found(err.message)
            } else {
                Error::usage(err.message)
            }
        }
        _ => err,
    }
}

/// `ClusterNotFoundException` as a plain "cluster X not found".
fn cluster_error(cluster: &str, e: Error) -> Error {
    if e.code == ExitCode::NotFound && e.message.contains("ClusterNotFound") {
        return Error::not_found(format!("cluster {cluster} not found"))
            .hint("check --cluster / environments.<name>.cluster and --region");
    }
    e
}

fn tags_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// A described service as the model's [`ServiceState`] (deployments, events, tags).
pub fn service_state(s: &aws_sdk_ecs::types::Service) -> ServiceState {
    to_state(s)
}

fn to_state(s: &aws_sdk_ecs::types::Service) -> ServiceState {
    ServiceState {
        name: s.service_name().unwrap_or("").to_string(),
        arn: s.service_arn().unwrap_or("").to_string(),
        status: s.status().unwrap_or("").to_string(),
        task_definition: s.task_definition().unwrap_or("").to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or("").to_string(),
                status: d.status().unwrap_or("").to_string(),
                task_definition: d.task_definition().unwrap_or("").to_string(),
                desired: d.desired_count(),
                pending: d.pending_count(),
                running: d.running_count(),
                failed_tasks: d.failed_tasks(),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_reason: d.rollout_state_reason().map(String::from),
                created_at: d.created_at().map(aws_smithy_types::DateTime::secs),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| Event {
                id: e.id().unwrap_or("").to_string(),
                message: e.message().unwrap_or("").to_string(),
            })
            .collect(),
        tags: tags_of(s.tags()),
        controller: s
            .deployment_controller()
            .map_or("ECS", |c| c.r#type().as_str())
            .to_string(),
        load_balancers: s
            .load_balancers()
            .iter()
            .take(20)
            .map(|l| crate::model::LoadBalancer {
                target_group_arn: l.target_group_arn().map(String::from),
                container: l.container_name().map(String::from),
                port: l.container_port(),
            })
            .collect(),
    }
}

fn to_task(t: &Task) -> TaskState {
    TaskState {
        arn: t.task_arn().unwrap_or("").to_string(),
        last_status: t.last_status().unwrap_or("").to_string(),
        stopped_reason: t.stopped_reason().map(String::from).filter(|s| !s.is_empty()),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: c.name().unwrap_or("").to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(String::from).filter(|s| !s.is_empty()),
            })
            .collect(),
    }
}

impl Aws {
    fn count(&self) {
        self.calls.set(self.calls.get() + 1);
    }

    /// Count one API call made with [`Aws::client`] outside this module.
    pub fn count_call(&self) {
        self.count();
    }

    /// API calls made so far (retries not counted).
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    /// DescribeServices with tags, in batches of 10: the services ECS returned (INACTIVE ones included) and
    /// the names of those it reported as failures (not found).
    pub async fn describe_services_raw(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<aws_sdk_ecs::types::Service>, Vec<String>)> {
        let mut services = Vec::new();
        let mut failed = Vec::new();
        for chunk in names.chunks(10) {
            self.count();
            let r = self
                .client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .boxed()
                .await
                .map_err(|e| sdk_error(&format!("DescribeServices in cluster {cluster}"), &e))?;
            failed.extend(r.failures().iter().map(|f| {
                let arn = f.arn().unwrap_or("");
                arn.rsplit('/').next().unwrap_or(arn).to_string()
            }));
            services.extend(r.services().iter().cloned());
        }
        Ok((services, failed))
    }

    /// DescribeServices with tags, in batches of 10. Missing or deleted services are a not-found error
    /// naming them all.
    pub async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<Vec<ServiceState>> {
        let (services, mut missing) = self
            .describe_services_raw(cluster, names)
            .await
            .map_err(|e| cluster_error(cluster, e))?;
        let mut out = Vec::new();
        for st in services.iter().map(to_state) {
            if st.status == "INACTIVE" {
                missing.push(st.name.clone());
            } else {
                out.push(st);
            }
        }
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "service {} not found in cluster {cluster}",
                missing.join(", ")
            ))
            .hint("check --service / environments.<name>.services and --cluster (`deploy-ecs status --cluster C` lists them)"));
        }
        // Keep the order asked for.
        out.sort_by_key(|s| {
            names
                .iter()
                .position(|n| n == &s.name || s.arn.ends_with(&format!("/{n}")))
        });
        Ok(out)
    }

    /// DescribeTaskDefinition with its tags.
    pub async fn task_definition(&self, td: &str) -> Result<(TaskDefinition, Vec<(String, String)>)> {
        self.count();
        let r = self
            .client
            .describe_task_definition()
            .task_definition(td)
            .include(TaskDefinitionField::Tags)
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("DescribeTaskDefinition {td}"), &e))?;
        let def = r
            .task_definition()
            .cloned()
            .ok_or_else(|| Error::not_found(format!("task definition {td} not found")))?;
        Ok((def, tags_of(r.tags())))
    }

    /// RegisterTaskDefinition from a described one: every registrable field, none of the read-only ones
    /// (arn, revision, status, requiresAttributes, compatibilities, registeredAt/By, deregisteredAt).
    pub async fn register(&self, td: &TaskDefinition, tags: Vec<Tag>) -> Result<String> {
        self.count();
        let family = td.family().unwrap_or("").to_string();
        let r = self
            .client
            .register_task_definition()
            .family(&family)
            .set_task_role_arn(td.task_role_arn.clone())
            .set_execution_role_arn(td.execution_role_arn.clone())
            .set_network_mode(td.network_mode.clone())
            .set_container_definitions(td.container_definitions.clone())
            .set_volumes(td.volumes.clone())
            .set_placement_constraints(td.placement_constraints.clone())
            .set_requires_compatibilities(td.requires_compatibilities.clone())
            .set_cpu(td.cpu.clone())
            .set_memory(td.memory.clone())
            .set_pid_mode(td.pid_mode.clone())
            .set_ipc_mode(td.ipc_mode.clone())
            .set_proxy_configuration(td.proxy_configuration.clone())
            .set_ephemeral_storage(td.ephemeral_storage.clone())
            .set_runtime_platform(td.runtime_platform.clone())
            .set_enable_fault_injection(td.enable_fault_injection)
            .set_tags(if tags.is_empty() { None } else { Some(tags) })
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("RegisterTaskDefinition {family}"), &e))?;
        r.task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(String::from)
            .ok_or_else(|| Error::remote("RegisterTaskDefinition returned no task definition ARN"))
    }

    pub async fn tag_resource(&self, arn: &str, tags: Vec<Tag>) -> Result<()> {
        self.count();
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("TagResource {arn}"), &e))?;
        Ok(())
    }

    pub async fn untag_resource(&self, arn: &str, keys: &[&str]) -> Result<()> {
        self.count();
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.iter().map(std::string::ToString::to_string).collect()))
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("UntagResource {arn}"), &e))?;
        Ok(())
    }

    /// Every service name of a cluster.
    pub async fn list_services(&self, cluster: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.count();
            let r = self
                .client
                .list_services()
                .cluster(cluster)
                .set_next_token(token.take())
                .max_results(100)
                .send()
                .boxed()
                .await
                .map_err(|e| cluster_error(cluster, sdk_error(&format!("ListServices in cluster {cluster}"), &e)))?;
            names.extend(
                r.service_arns()
                    .iter()
                    .map(|a| a.rsplit('/').next().unwrap_or(a).to_string()),
            );
            match r.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    /// UpdateService to this task definition. Returns the id of the deployment it started, the task
    /// definitions of every deployment the answer lists (what ran, or was rolling out, just before), and
    /// the ServiceDeployment ECS records for it (`currentServiceDeployment`), when the service names one.
    pub async fn update_service_seen(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> Result<(String, Vec<String>, Option<String>)> {
        self.count();
        let r = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("UpdateService {service}"), &e))?;
        let s = r
            .service()
            .ok_or_else(|| Error::remote("UpdateService returned no service"))?;
        let deps = s.deployments();
        let seen = deps
            .iter()
            .filter_map(|d| d.task_definition().map(String::from))
            .collect();
        let ours = deps
            .iter()
            .find(|d| d.status() == Some("PRIMARY") && d.task_definition() == Some(task_definition))
            .or_else(|| deps.iter().find(|d| d.status() == Some("PRIMARY")));
        let id = ours
            .and_then(|d| d.id())
            .map(String::from)
            .ok_or_else(|| Error::remote(format!("UpdateService {service} started no deployment")))?;
        let service_deployment = s
            .current_service_deployment()
            .filter(|a| a.contains(":service-deployment/"))
            .map(String::from);
        Ok((id, seen, service_deployment))
    }

    /// DescribeTasks.
    pub async fn describe_tasks(&self, cluster: &str, arns: Vec<String>) -> Result<Vec<TaskState>> {
        if arns.is_empty() {
            return Ok(vec![]);
        }
        self.count();
        let r = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("DescribeTasks in cluster {cluster}"), &e))?;
        Ok(r.tasks().iter().map(to_task).collect())
    }
}

impl EcsApi for Aws {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceState> {
        let mut v = self.describe_services(cluster, &[service.to_string()]).await?;
        v.pop()
            .ok_or_else(|| Error::not_found(format!("service {service} not found in cluster {cluster}")))
    }

    async fn stopped_tasks(&self, cluster: &str, deployment_id: &str) -> Result<Vec<TaskState>> {
        self.count();
        let r = self
            .client
            .list_tasks()
            .cluster(cluster)
            .started_by(deployment_id)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .boxed()
            .await
            .map_err(|e| sdk_error(&format!("ListTasks in cluster {cluster}"), &e))?;
        let arns: Vec<String> = r.task_arns().to_vec();
        self.describe_tasks(cluster, arns).await
    }

    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<String> {
        self.update_service_seen(cluster, service, task_definition)
            .await
            .map(|(id, _, _)| id)
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}
