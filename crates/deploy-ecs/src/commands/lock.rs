//! `lock` and `unlock`: a lock (who, why, when) stored as service tags makes `deploy` refuse the service;
//! `unlock` removes a lock or a rollback pin.

use super::{now_iso, who, LOCK_TAGS, TAG_LOCKED_AT, TAG_LOCKED_BY, TAG_LOCK_REASON};
use crate::aws::{self, Aws};
use crate::cli::{LockArgs, ServicesArg};
use crate::settings::Target;
use crate::taskdef;
use shipkit_core::contract::{Contract, LockOutputs};
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, Result};

pub async fn lock(aws: &Aws, target: &Target, a: LockArgs, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    if a.reason.trim().is_empty() {
        return Err(Error::usage("--reason is empty").hint("say why, e.g. --reason 'incident 42: hold deploys'"));
    }
    let states = aws.describe_services(cluster, &target.services).await?;
    let by = who();
    let at = now_iso();
    let reason = taskdef::tag_value(&a.reason);
    for s in &states {
        aws.tag_resource(
            &s.arn,
            vec![
                aws::tag(TAG_LOCKED_BY, &by),
                aws::tag(TAG_LOCK_REASON, &reason),
                aws::tag(TAG_LOCKED_AT, &at),
            ],
        )
        .await?;
    }
    let names: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
    let text = format!("locked {} in {cluster} ({by}: {reason})", names.join(", "));
    let o = LockOutputs {
        status: "locked".into(),
        cluster: cluster.to_string(),
        services: names,
        locked_by: Some(by),
        reason: Some(reason),
    };
    o.emit(out, &text)
}

pub async fn unlock(aws: &Aws, target: &Target, _a: ServicesArg, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let states = aws.describe_services(cluster, &target.services).await?;
    let mut text = String::new();
    for s in &states {
        let had: Vec<&str> = LOCK_TAGS.iter().copied().filter(|k| s.tag(k).is_some()).collect();
        if had.is_empty() {
            text.push_str(&format!("{}: was not locked or pinned\n", s.name));
            continue;
        }
        aws.untag_resource(&s.arn, &had).await?;
        text.push_str(&format!("{}: unlocked\n", s.name));
    }
    let o = LockOutputs {
        status: "unlocked".into(),
        cluster: cluster.to_string(),
        services: states.iter().map(|s| s.name.clone()).collect(),
        ..LockOutputs::default()
    };
    o.emit(out, &text)
}
