//! `diff`: every field a deploy would change against what runs now — the whole task definition as
//! RegisterTaskDefinition would receive it (not only image and environment), and the service's task
//! definition — as text or the [`DiffOutputs`] contract. Nothing is changed.
//!
//! Also the plan shared with [`super::render`]: what a deploy with these flags would register for a service.

use super::check_lock;
use crate::aws::Aws;
use crate::cli::{DiffArgs, PlanArgs};
use crate::model::{short_td, ServiceState};
use crate::settings::Target;
use crate::taskdef;
use crate::tdjson::{self, Change};
use aws_sdk_ecs::types::TaskDefinition;
use futures_util::StreamExt;
use serde_json::Value;
use shipkit_core::contract::{Contract, DiffOutputs, FieldChange, ServiceDiff};
use shipkit_core::output::OutputOptions;
use shipkit_core::Result;

/// Check the flags that need no AWS: the image reference and `--env`.
pub fn validate(a: &PlanArgs) -> Result<()> {
    if let Some(image) = a.image.as_deref().filter(|s| !s.is_empty()) {
        taskdef::validate_image(image)?;
    }
    taskdef::parse_env(&a.env)?;
    Ok(())
}

/// What the flags ask a deploy to put on every service.
pub(crate) struct Wanted {
    image: Option<String>,
    container: Option<String>,
    env: Vec<(String, String)>,
    /// `--task-definition FILE`: the parsed file and its name.
    from_file: Option<(TaskDefinition, String)>,
}

impl Wanted {
    /// The image a deploy would set, if one was given.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    pub async fn from_args(a: &PlanArgs, target: &Target) -> Result<Wanted> {
        let inputs = shipkit_core::contract::Inputs::read(&a.input)?;
        let image = a
            .image
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| inputs.text("image"));
        if let Some(i) = &image {
            taskdef::validate_image(i)?;
        }
        let from_file = match &a.task_definition {
            Some(path) => Some((crate::tdfile::load(path).await?, path.display().to_string())),
            None => None,
        };
        Ok(Wanted {
            image,
            container: a.container.clone().or(target.container.clone()),
            env: taskdef::parse_env(&a.env)?,
            from_file,
        })
    }

    /// The running task definition (`running`: its ARN) and the one a deploy would register instead.
    pub async fn plan(&self, aws: &Aws, running: &str) -> Result<(TaskDefinition, TaskDefinition)> {
        let (current, _tags) = aws.task_definition(running).await?;
        let mut td = match &self.from_file {
            Some((f, _)) => {
                let mut f = f.clone();
                if f.family().is_none_or(str::is_empty) {
                    f.family.clone_from(&current.family);
                }
                f.revision = current.revision;
                f
            }
            None => current.clone(),
        };
        match &self.image {
            Some(image) => {
                taskdef::apply(&mut td, image, self.container.as_deref(), &self.env)?;
            }
            None if !self.env.is_empty() => {
                // No new image: the environment goes to --container, else to the containers of the main
                // image's repository (as a deploy of that image would).
                let keep = taskdef::main_image(&td, self.container.as_deref());
                taskdef::apply(&mut td, &keep, self.container.as_deref(), &self.env)?;
            }
            None => {
                if let Some(name) = &self.container {
                    // The same check a deploy makes: the container must be there.
                    let keep = taskdef::main_image(&td, Some(name));
                    taskdef::apply(&mut td, &keep, Some(name), &[])?;
                }
            }
        }
        Ok((current, td))
    }
}

/// Compare every service; returns the exit code (1 with `--exit-code` when something differs).
pub async fn diff(aws: &Aws, target: &Target, a: DiffArgs, out: &OutputOptions) -> Result<u8> {
    let wanted = Wanted::from_args(&a.plan, target).await?;
    let states = aws.describe_services(&target.cluster, &target.services).await?;
    let rows: Vec<Result<ServiceDiff>> =
        futures_util::stream::iter(states.iter().map(|s| service_diff(aws, &wanted, s)))
            .buffered(8)
            .collect()
            .await;
    let services: Vec<ServiceDiff> = rows.into_iter().collect::<Result<_>>()?;
    let changes: usize = services.iter().map(|s| s.changes.len()).sum();
    let outputs = DiffOutputs {
        status: if changes == 0 { "equal" } else { "different" }.into(),
        cluster: target.cluster.clone(),
        changes: changes as u64,
        services,
    };
    outputs.emit(out, &text(&outputs))?;
    Ok(u8::from(a.exit_code && changes > 0))
}

async fn service_diff(aws: &Aws, wanted: &Wanted, state: &ServiceState) -> Result<ServiceDiff> {
    let (current, new) = wanted.plan(aws, &state.task_definition).await?;
    let before = tdjson::registrable(&current)?;
    let after = tdjson::registrable(&new)?;
    // Compared in clear (a changed password is a change), shown masked.
    let mut changes: Vec<FieldChange> = tdjson::diff(&before, &after)
        .into_iter()
        .map(|mut c| {
            tdjson::mask_change(&mut c);
            field("task_definition", c)
        })
        .collect();
    if !changes.is_empty() {
        let family = new.family().unwrap_or("?");
        changes.push(field(
            "service",
            Change {
                path: "taskDefinition".into(),
                before: Some(Value::String(state.task_definition.clone())),
                after: Some(Value::String(format!("{family}:(new revision)"))),
            },
        ));
    }
    Ok(ServiceDiff {
        service: state.name.clone(),
        status: if changes.is_empty() { "equal" } else { "different" }.into(),
        task_definition_arn: state.task_definition.clone(),
        refused: check_lock(state).err().map(|e| e.message),
        changes,
    })
}

fn field(scope: &str, c: Change) -> FieldChange {
    FieldChange {
        scope: scope.into(),
        kind: c.kind().into(),
        path: c.path,
        before: c.before,
        after: c.after,
    }
}

/// The human form: per service, one line per difference (`~` changed, `+` added, `-` removed).
fn text(d: &DiffOutputs) -> String {
    let mut s = String::new();
    for svc in &d.services {
        let now = short_td(&svc.task_definition_arn);
        if svc.changes.is_empty() {
            s.push_str(&format!("{}: no difference from {now}\n", svc.service));
        } else {
            let n = svc.changes.len();
            s.push_str(&format!(
                "{}: {n} difference{} from {now}\n",
                svc.service,
                if n == 1 { "" } else { "s" }
            ));
        }
        for c in &svc.changes {
            let change = Change {
                path: if c.scope == "service" {
                    format!("service.{}", c.path)
                } else {
                    c.path.clone()
                },
                before: c.before.clone(),
                after: c.after.clone(),
            };
            s.push_str(&format!("  {}\n", change.line()));
        }
        if let Some(why) = &svc.refused {
            s.push_str(&format!("  ! deploy would refuse: {why}\n"));
        }
    }
    s
}
