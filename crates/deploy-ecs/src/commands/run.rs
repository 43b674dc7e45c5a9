//! `run`: a one-off task (migrations, a script) from a service's (or a given) task definition, with the
//! service's network settings; waits for it and exits with its exit code. Also the `--pre-run` of deploy.

use crate::aws::{self, Aws};
use crate::cli::RunArgs;
use crate::model::{short_td, EcsApi, TaskState, WaitOptions, CANCEL_GRACE};
use crate::phase::{bounded, until_cancelled};
use crate::settings::{wait_options, Target};
use crate::taskdef;
use aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder;
use aws_sdk_ecs::types::{ContainerOverride, TaskOverride};
use futures_util::FutureExt;
use shipkit_core::contract::{Contract, RunOutputs};
use shipkit_core::output::OutputOptions;
use shipkit_core::time::deadline_after;
use shipkit_core::{Error, ExitCode, Result};
use std::time::Duration;

/// Run `run`; the result is the task's exit code. A SIGINT/SIGTERM before the task starts just stops;
/// once it runs, the task is stopped (StopTask) and that is said (exit 130/143).
pub async fn run(aws: &Aws, target: &Target, a: RunArgs, out: &OutputOptions) -> Result<u8> {
    let wait = wait_options(&a.wait, target.timeout)?;
    let (task, arn) = until_cancelled("run", prepare(aws, target, &a)).await?;
    let task = RunTask {
        task_definition: &arn,
        ..task
    };
    let code = run_task_and_wait(aws, &task, &wait).await?;
    let o = RunOutputs {
        status: if code == 0 { "succeeded" } else { "failed" }.to_string(),
        cluster: task.cluster.to_string(),
        task_definition_arn: arn.clone(),
        exit_code: code.into(),
    };
    o.emit(out, &format!("task exited with {code}"))?;
    Ok(code)
}

/// Check the inputs and find the task definition to run (reads only); the task without its task
/// definition, and the task definition's ARN.
async fn prepare<'a>(aws: &Aws, target: &'a Target, a: &'a RunArgs) -> Result<(RunTask<'a>, String)> {
    let cluster = target.cluster.as_str();
    if let Some(c) = &a.command {
        taskdef::split_command(c)?;
    }
    let service = a.service.clone().or_else(|| target.services.first().cloned());
    let td = match (&a.task_definition, &service) {
        (Some(td), _) => td.clone(),
        (None, Some(s)) => aws.describe_service(cluster, s).await?.task_definition,
        (None, None) => {
            return Err(
                Error::usage("nothing to run").hint("pass --service NAME or --task-definition FAMILY[:REVISION]")
            )
        }
    };
    // A clear not-found for the task definition before starting anything.
    let (def, _) = aws.task_definition(&td).await?;
    if let Some(c) = &a.container {
        if !def.container_definitions().iter().any(|d| d.name.as_deref() == Some(c)) {
            return Err(Error::usage(format!(
                "container `{c}` is not in task definition {}",
                short_td(&td)
            )));
        }
    }
    let arn = def.task_definition_arn().unwrap_or(&td).to_string();
    let task = RunTask {
        cluster,
        service: a.service.as_deref().or(target.services.first().map(String::as_str)),
        task_definition: "",
        command: a.command.as_deref(),
        container: a.container.as_deref(),
        launch_type: a.launch_type.as_deref(),
    };
    Ok((task, arn))
}

/// What to run.
pub(crate) struct RunTask<'a> {
    pub cluster: &'a str,
    /// Whose launch type / capacity providers and network configuration to use.
    pub service: Option<&'a str>,
    pub task_definition: &'a str,
    pub command: Option<&'a str>,
    /// The container for `command` and whose exit code counts.
    pub container: Option<&'a str>,
    pub launch_type: Option<&'a str>,
}

/// Run a one-off task and wait for it to stop; the exit code of the chosen (or first non-zero, or first)
/// container.
///
/// Signals: before RunTask the preparation just stops; RunTask itself is not interrupted (the task may
/// start); from then on a SIGINT/SIGTERM stops the task (StopTask, within [`CANCEL_GRACE`]) and the error
/// (exit 130/143) says whether it was stopped — a one-off task is never left running unsaid.
pub(crate) async fn run_task_and_wait(aws: &Aws, task: &RunTask<'_>, wait: &WaitOptions) -> Result<u8> {
    let req = until_cancelled("before RunTask", run_task_request(aws, task)).await?;
    let r = req.send().boxed().await.map_err(|e| aws::sdk_error("RunTask", &e))?;
    if let Some(f) = r.failures().first() {
        return Err(Error::remote(format!(
            "RunTask could not start the task: {} {}",
            f.reason().unwrap_or(""),
            f.detail().unwrap_or("")
        )));
    }
    let arn = r
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(String::from)
        .ok_or_else(|| Error::remote("RunTask started no task"))?;
    shipkit_core::term::info(&format!("started task {}", arn.rsplit('/').next().unwrap_or(&arn)));
    match wait_for_task(aws, task.cluster, &arn, task.container, wait).await {
        Err(e) if matches!(e.code, ExitCode::Interrupted | ExitCode::Terminated) => {
            Err(stop_cancelled_task(aws, task.cluster, &arn, e).await)
        }
        other => other,
    }
}

/// A signal while the task runs: StopTask (bounded by [`CANCEL_GRACE`], not itself interrupted) and the
/// cancel error saying what became of the task.
async fn stop_cancelled_task(aws: &Aws, cluster: &str, arn: &str, cancelled: Error) -> Error {
    let short = arn.rsplit('/').next().unwrap_or(arn);
    let stop = async {
        aws.count_call();
        aws.client
            .stop_task()
            .cluster(cluster)
            .task(arn)
            .reason("deploy-ecs was cancelled (SIGINT/SIGTERM)")
            .send()
            .boxed()
            .await
            .map_err(|e| aws::sdk_error("StopTask", &e))
    };
    let deadline = Some(deadline_after(CANCEL_GRACE));
    match bounded("StopTask", deadline, false, stop).await {
        Ok(_) => {
            let line = format!("stopped task {short} (StopTask)");
            shipkit_core::term::warn(&line);
            Error::new(cancelled.code, format!("{}; {line}", cancelled.message))
        }
        Err(e) => Error::new(
            cancelled.code,
            format!(
                "{}; task {short} may still run: StopTask failed: {}",
                cancelled.message, e.message
            ),
        )
        .hint(format!("stop it: aws ecs stop-task --cluster {cluster} --task {arn}")),
    }
}

/// The RunTask request: the service's launch settings, the command override.
async fn run_task_request(aws: &Aws, task: &RunTask<'_>) -> Result<RunTaskFluentBuilder> {
    let mut req = aws
        .client
        .run_task()
        .cluster(task.cluster)
        .task_definition(task.task_definition)
        .started_by("shipkit-deploy-ecs");
    if let Some(svc) = task.service {
        let r = aws
            .client
            .describe_services()
            .cluster(task.cluster)
            .services(svc)
            .send()
            .boxed()
            .await
            .map_err(|e| aws::sdk_error(&format!("DescribeServices {svc}"), &e))?;
        if let Some(s) = r.services().first() {
            if s.capacity_provider_strategy().is_empty() {
                req = req.set_launch_type(s.launch_type().cloned());
            } else {
                req = req.set_capacity_provider_strategy(Some(s.capacity_provider_strategy().to_vec()));
            }
            req = req
                .set_network_configuration(s.network_configuration().cloned())
                .set_platform_version(s.platform_version().map(String::from));
        }
    }
    if let Some(lt) = task.launch_type {
        req = req.launch_type(aws_sdk_ecs::types::LaunchType::from(lt));
    }
    if let Some(cmd) = task.command {
        let argv = taskdef::split_command(cmd)?;
        let name = if let Some(c) = task.container {
            c.to_string()
        } else {
            let (td, _) = aws.task_definition(task.task_definition).await?;
            td.container_definitions()
                .iter()
                .find(|c| c.essential != Some(false))
                .or(td.container_definitions().first())
                .and_then(|c| c.name.clone())
                .unwrap_or_default()
        };
        req = req.overrides(
            TaskOverride::builder()
                .container_overrides(ContainerOverride::builder().name(name).set_command(Some(argv)).build())
                .build(),
        );
    }
    Ok(req)
}

/// Poll the task until it stops; its exit code.
async fn wait_for_task(aws: &Aws, cluster: &str, arn: &str, container: Option<&str>, wait: &WaitOptions) -> Result<u8> {
    let start = aws.elapsed();
    let mut last = String::new();
    loop {
        shipkit_core::cancel::check("while the task runs")?;
        let describe = aws.describe_tasks(cluster, vec![arn.to_string()]);
        let tasks = until_cancelled("while the task runs", describe).await?;
        let t = tasks
            .first()
            .ok_or_else(|| Error::not_found(format!("task {arn} disappeared")))?;
        if t.last_status != last {
            shipkit_core::term::info(&format!("task: {}", t.last_status));
            last = t.last_status.clone();
        }
        if t.last_status == "STOPPED" {
            return exit_code_of(t, container);
        }
        if aws.elapsed().saturating_sub(start) >= wait.timeout {
            return Err(Error::timeout(format!(
                "task {arn} still {} after {}",
                t.last_status,
                shipkit_core::time::human_duration(wait.timeout)
            ))
            .hint("it keeps running; stop it in the console or with `aws ecs stop-task` if needed"));
        }
        let pause = aws.sleep(wait.poll.max(Duration::from_millis(100)));
        until_cancelled("while the task runs", async {
            pause.await;
            Ok(())
        })
        .await?;
    }
}

/// The exit code of a stopped task: the chosen container's, else the first non-zero, else the first.
fn exit_code_of(t: &TaskState, container: Option<&str>) -> Result<u8> {
    let chosen = match container {
        Some(n) => t.containers.iter().find(|c| c.name == n),
        None => t
            .containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|x| x != 0))
            .or(t.containers.first()),
    };
    match chosen.and_then(|c| c.exit_code) {
        Some(code) => {
            if code != 0 {
                shipkit_core::term::warn(&t.describe());
            }
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(u8::MAX))
        }
        None => Err(Error::failure(format!(
            "the task did not run to completion: {}",
            t.describe()
        ))),
    }
}
