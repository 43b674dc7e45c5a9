//! `render`: print the task definition a deploy with these flags would register — RegisterTaskDefinition's
//! fields as JSON, written by the SDK's serializer — and change nothing. The values of secret-looking
//! environment variables are printed as `***` (use ECS `secrets` for real secrets).

use super::diff::Wanted;
use crate::aws::Aws;
use crate::cli::PlanArgs;
use crate::settings::Target;
use crate::tdjson;
use shipkit_core::{Error, Result};

pub async fn render(aws: &Aws, target: &Target, a: PlanArgs) -> Result<()> {
    if target.services.len() != 1 {
        return Err(Error::usage(format!(
            "render prints one task definition; {} services given ({})",
            target.services.len(),
            target.services.join(", ")
        ))
        .hint("pass one --service NAME"));
    }
    let wanted = Wanted::from_args(&a, target).await?;
    let states = aws.describe_services(&target.cluster, &target.services).await?;
    let Some(state) = states.first() else {
        return Err(Error::not_found(format!(
            "service {} not found in cluster {}",
            target.services[0], target.cluster
        )));
    };
    let (_, td) = wanted.plan(aws, &state.task_definition).await?;
    let mut json = tdjson::registrable(&td)?;
    tdjson::mask_secrets(&mut json);
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::failure(format!("cannot encode the task definition: {e}")))?;
    shipkit_core::output::print_stdout(&(shipkit_core::mask::mask(&text).into_owned() + "\n"))
}
