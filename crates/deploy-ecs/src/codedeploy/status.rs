//! What CodeDeploy is doing to a `CODE_DEPLOY` service, for `status` (single service and every
//! environment): the deployment in progress (ListDeployments with `includeOnlyStatuses` the unfinished
//! kinds), else the group's last attempted one (GetDeploymentGroup), then one GetDeployment and the ECS
//! target's lifecycle events (BatchGetDeploymentTargets): three calls for a deployment in progress, four
//! for the last outcome, all within one `--call-timeout`. CodeDeploy hanging or refusing gives `not_checked` and a one-line warning; it never
//! fails `status` (ECS's view is still shown).

use super::api;
use super::names;
use super::state::{current_event, events_done, judge, summary, Deployment, Verdict};
use crate::aws::Aws;
use crate::engine::api::printable;
use crate::model::short_td;
use shipkit_core::contract::CodeDeployStatus;
use shipkit_core::time::{deadline_after, rfc3339_utc};
use shipkit_core::{ExitCode, Result};

/// The CodeDeploy view of `service` of `cluster`, which serves task definition `serving`; application and
/// group as configured (`(app, group)` from shipkit.yml) or by the ECS console's convention. Errs only on
/// SIGINT/SIGTERM.
pub async fn view(
    aws: &Aws,
    cluster: &str,
    service: &str,
    serving: &str,
    configured: &(Option<String>, Option<String>),
) -> Result<CodeDeployStatus> {
    let n = names(cluster, service, configured.0.as_deref(), configured.1.as_deref());
    let mut out = CodeDeployStatus {
        application: n.application.clone(),
        deployment_group: n.group.clone(),
        serving_revision: Some(short_td(serving).to_string()).filter(|s| !s.is_empty()),
        ..CodeDeployStatus::default()
    };
    let deadline = deadline_after(aws.call_timeout);
    let target = format!("{cluster}:{service}");
    let found = lookup(aws, &n.application, &n.group, &target);
    match crate::phase::bounded("CodeDeploy (status)", Some(deadline), true, found).await {
        Ok(None) => out.view = "none".into(),
        Ok(Some(d)) => fill(&mut out, &d),
        Err(e) if matches!(e.code, ExitCode::Interrupted | ExitCode::Terminated) => return Err(e),
        Err(e) => {
            let note = printable(&e.message, 300);
            shipkit_core::term::warn(&format!("{service}: CodeDeploy not checked: {note}"));
            out.view = "not_checked".into();
            out.note = Some(note);
        }
    }
    Ok(out)
}

/// The deployment in progress, else the last attempted one, with its lifecycle events.
async fn lookup(aws: &Aws, application: &str, group: &str, target: &str) -> Result<Option<Deployment>> {
    aws.count_call();
    let mut id = api::active(&aws.codedeploy, application, group).await?;
    if id.is_none() {
        aws.count_call();
        id = api::last_attempted(&aws.codedeploy, application, group).await?;
    }
    let Some(id) = id else { return Ok(None) };
    aws.count_call();
    aws.count_call();
    api::get(&aws.codedeploy, &id, target).await.map(Some)
}

fn fill(out: &mut CodeDeployStatus, d: &Deployment) {
    out.view = if judge(d) == Verdict::Running {
        "in_progress"
    } else {
        "last"
    }
    .into();
    out.deployment_id = Some(d.id.clone());
    out.status = Some(d.status.clone());
    out.lifecycle_event = current_event(d).map(str::to_string);
    out.events_done = u64::try_from(events_done(d)).unwrap_or(u64::MAX);
    out.events_total = u64::try_from(d.events.len()).unwrap_or(u64::MAX);
    out.summary = Some(summary(d));
    out.revision = d.task_definition.as_deref().map(|t| short_td(t).to_string());
    out.error.clone_from(&d.error);
    out.rollback_deployment_id.clone_from(&d.rollback_id);
    out.rollback_of.clone_from(&d.rollback_of);
    out.created_at = d.created_at.map(rfc3339_utc);
    out.completed_at = d.completed_at.map(rfc3339_utc);
}

/// The STAGE cell: `InProgress · AllowTestTraffic (3/8)`, `last Succeeded`, `last Failed (rolled back)`,
/// `last Succeeded (rollback)`, `no deployment`, `not checked`.
pub fn stage_cell(c: &CodeDeployStatus) -> String {
    let status = c.status.as_deref().unwrap_or("?");
    match c.view.as_str() {
        "in_progress" => match c.lifecycle_event.as_deref() {
            Some(e) => format!("{status} · {e} ({}/{})", c.events_done, c.events_total),
            None => status.to_string(),
        },
        "last" if c.rollback_deployment_id.is_some() => format!("last {status} (rolled back)"),
        "last" if c.rollback_of.is_some() => format!("last {status} (rollback)"),
        "last" => format!("last {status}"),
        "none" => "no deployment".into(),
        _ => "not checked".into(),
    }
}

/// The line under the table: the summary, what is deployed and what serves, the error and the rollback.
pub fn detail(service: &str, c: &CodeDeployStatus) -> String {
    let serving = c.serving_revision.as_deref().unwrap_or("-");
    let summary = c.summary.as_deref().unwrap_or("CodeDeploy");
    let deploys = c.revision.as_deref().unwrap_or("-");
    match c.view.as_str() {
        "in_progress" => format!("{service}: {summary} · deploying {deploys}, serving {serving}"),
        "last" => {
            let mut line = format!("{service}: last {summary} · deployed {deploys}, serving {serving}");
            if let Some(e) = &c.error {
                line.push_str(&format!(" · {e}"));
            }
            if let Some(rb) = &c.rollback_deployment_id {
                line.push_str(&format!(" · rolled back by {rb}"));
            }
            if let Some(of) = &c.rollback_of {
                line.push_str(&format!(" · rollback of {of}"));
            }
            line
        }
        "none" => format!(
            "{service}: no CodeDeploy deployment yet ({}/{}) · serving {serving}",
            c.application, c.deployment_group
        ),
        _ => format!(
            "{service}: CodeDeploy not checked: {}",
            c.note.as_deref().unwrap_or("no answer")
        ),
    }
}
