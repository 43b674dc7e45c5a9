//! Two deploys of one service at once converge to the NEWEST version, whichever finishes last.
//!
//! After its UpdateService (and whenever its deployment is replaced while it waits) a deploy re-reads
//! the service and looks at every task definition it saw there: in the UpdateService answer (what was
//! running or rolling out just before) and in the re-read (what came after). Versions come from the
//! `shipkit:version` tag of each revision.
//! - A newer version is there: it must be the one that runs. If ours (or an older one) replaced it, the
//!   newer one is restored. Our deploy is superseded: exit 10, no rollback.
//! - An older version replaced ours: ours is restored, and followed again.
//! - Our own revision runs under another deployment (the other side restored it): follow that one.
//!
//! Without versions on both sides nothing is compared: a replaced deployment fails without a fight.

use super::super::TAG_VERSION;
use crate::aws::Aws;
use crate::model::{short_td, EcsApi};
use crate::phase::Phase;
use crate::taskdef;
use shipkit_core::Result;

/// What a deploy does after looking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Settled {
    /// Ours is the newest: follow this deployment id.
    Follow(String),
    /// A newer version runs (restored if needed): stop, exit 10 with this message.
    Superseded(String),
    /// Nothing to compare (no versions): leave it as it is.
    Unknown,
}

/// Look at the service and make the newest version the one that runs.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle(
    aws: &Aws,
    phase: &Phase<'_>,
    cluster: &str,
    service: &str,
    ours: &str,
    our_version: Option<&str>,
    previous: &str,
    seen: &[String],
) -> Result<Settled> {
    let state = phase.describe_service(cluster, service).await?;
    let Some(primary) = state.primary().cloned() else {
        return Ok(Settled::Unknown);
    };
    let Some(our_version) = our_version else {
        return Ok(if primary.task_definition == ours {
            Settled::Follow(primary.id)
        } else {
            Settled::Unknown
        });
    };
    let mut others: Vec<String> = seen
        .iter()
        .chain(state.deployments.iter().map(|d| &d.task_definition))
        .filter(|td| td.as_str() != ours && td.as_str() != previous && !td.is_empty())
        .cloned()
        .collect();
    others.sort();
    others.dedup();
    let newest = newest_other(aws, phase, &others, our_version).await?;
    if let Some((td, version)) = newest {
        let restored = if primary.task_definition == td {
            String::new()
        } else {
            phase.update_service(cluster, service, &td).await?;
            format!(
                "; restored {} over {}",
                short_td(&td),
                short_td(&primary.task_definition)
            )
        };
        return Ok(Settled::Superseded(format!(
            "superseded: version {version} ({}) was deployed meanwhile and is newer than {our_version}{restored}",
            short_td(&td)
        )));
    }
    if primary.task_definition == ours {
        return Ok(Settled::Follow(primary.id));
    }
    let (_, tags) = phase
        .call("DescribeTaskDefinition", aws.task_definition(&primary.task_definition))
        .await?;
    let theirs = tags.iter().find(|(k, _)| k == TAG_VERSION).map(|(_, v)| v.as_str());
    match theirs {
        Some(v) if taskdef::is_downgrade(our_version, v) => {
            shipkit_core::term::warn(&format!(
                "{service}: an older version {v} ({}) replaced {our_version}; restoring {}",
                short_td(&primary.task_definition),
                short_td(ours)
            ));
            let id = phase.update_service(cluster, service, ours).await?;
            Ok(Settled::Follow(id))
        }
        _ => Ok(Settled::Unknown),
    }
}

/// The newest of `others` by `shipkit:version`, if newer than `our_version`.
async fn newest_other(
    aws: &Aws,
    phase: &Phase<'_>,
    others: &[String],
    our_version: &str,
) -> Result<Option<(String, String)>> {
    let mut newest: Option<(String, String)> = None;
    for td in others {
        let (_, tags) = phase.call("DescribeTaskDefinition", aws.task_definition(td)).await?;
        let Some(v) = tags.iter().find(|(k, _)| k == TAG_VERSION).map(|(_, v)| v.clone()) else {
            continue;
        };
        let best = newest.as_ref().map_or(our_version, |(_, b)| b.as_str());
        if taskdef::is_downgrade(&v, best) {
            newest = Some((td.clone(), v));
        }
    }
    Ok(newest)
}
