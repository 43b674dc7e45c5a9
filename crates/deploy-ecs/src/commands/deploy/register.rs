//! Step 3 of a deploy: register the new revisions (with the shipkit tags), then the `--pre-run` one-off
//! task from the first new revision, which must exit 0 before any service is updated.

use super::super::{who, TAG_COMMIT, TAG_DEPLOYED_BY, TAG_IMAGE, TAG_VERSION};
use super::prepare::{Plan, Request};
use crate::aws::{self, Aws};
use crate::commands::run::{run_task_and_wait, RunTask};
use crate::model::short_td;
use crate::settings::Target;
use crate::taskdef;
use futures_util::StreamExt;
use shipkit_core::{Error, Result};

/// Register a revision for every plan that changes something; `None` for the unchanged ones.
pub(crate) async fn register_all(aws: &Aws, req: &Request, plans: &[Plan]) -> Result<Vec<Option<String>>> {
    let mut tags = vec![
        aws::tag(TAG_IMAGE, &taskdef::tag_value(&req.image)),
        aws::tag(TAG_DEPLOYED_BY, &who()),
    ];
    if let Some(v) = &req.version {
        tags.push(aws::tag(TAG_VERSION, &taskdef::tag_value(v)));
    }
    if let Some(s) = &req.sha {
        tags.push(aws::tag(TAG_COMMIT, &taskdef::tag_value(s)));
    }
    if let Some(key) = &req.provenance {
        let value = format!("verified:{key}");
        tags.push(aws::tag(crate::provenance::TAG_PROVENANCE, &taskdef::tag_value(&value)));
    }
    let registered: Vec<Result<Option<String>>> = futures_util::stream::iter(plans.iter().map(|p| {
        let mut tags = tags.clone();
        // What served before: `rollback` without --to goes back to it when ECS has no record.
        tags.push(aws::tag(crate::engine::TAG_PREVIOUS, &taskdef::tag_value(&p.previous)));
        async move {
            if p.diff.is_empty() {
                return Ok(None);
            }
            aws.register(&p.new_td, tags).await.map(Some)
        }
    }))
    .buffered(req.concurrency)
    .collect()
    .await;
    let registered: Vec<Option<String>> = registered.into_iter().collect::<Result<_>>()?;
    for (p, r) in plans.iter().zip(&registered) {
        match r {
            Some(arn) => shipkit_core::term::info(&format!("{}: registered {}", p.state.name, short_td(arn))),
            None => shipkit_core::term::info(&format!(
                "{}: already runs {} ({}); registered nothing",
                p.state.name,
                req.image,
                short_td(&p.previous)
            )),
        }
    }
    Ok(registered)
}

/// Run `cmd` as a one-off task from the first new revision; an exit code other than 0 aborts the deploy
/// before any service is updated.
pub(crate) async fn pre_run(
    aws: &Aws,
    target: &Target,
    req: &Request,
    plans: &[Plan],
    registered: &[Option<String>],
    cmd: &str,
) -> Result<()> {
    let Some((p, arn)) = plans
        .iter()
        .zip(registered)
        .find_map(|(p, r)| r.as_ref().map(|arn| (p, arn)))
    else {
        return Ok(());
    };
    shipkit_core::term::info(&format!("pre-run: {cmd} ({})", short_td(arn)));
    let task = RunTask {
        cluster: &target.cluster,
        service: Some(&p.state.name),
        task_definition: arn,
        command: Some(cmd),
        container: req.container.as_deref(),
        launch_type: None,
    };
    let code = run_task_and_wait(aws, &task, &req.wait).await?;
    if code != 0 {
        return Err(Error::failure(format!(
            "pre-run `{cmd}` exited with {code}: deploy aborted, no service was updated"
        ))
        .hint("fix the command or the migration, then deploy again"));
    }
    shipkit_core::term::success("pre-run finished with exit code 0");
    Ok(())
}
