//! `status`: every service's version, commit, image, revision, deployed-at and lock, as a table or JSON.

use super::{
    TAG_COMMIT, TAG_LOCKED_AT, TAG_LOCKED_BY, TAG_LOCK_REASON, TAG_PINNED_AT, TAG_PINNED_BY, TAG_PINNED_TO,
    TAG_PIN_REASON, TAG_VERSION,
};
use crate::aws::Aws;
use crate::cli::ServicesArg;
use crate::model::short_td;
use crate::settings::Target;
use crate::taskdef;
use aws_sdk_ecs::types::TaskDefinition;
use futures_util::StreamExt;
use serde_json::{json, Value};
use shipkit_core::output::{OutputOptions, Outputs};
use shipkit_core::Result;

pub async fn status(aws: &Aws, target: &Target, _a: ServicesArg, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let names = if target.services.is_empty() {
        aws.list_services(cluster).await?
    } else {
        target.services.clone()
    };
    let states = if names.is_empty() {
        vec![]
    } else {
        aws.describe_services(cluster, &names).await?
    };
    let rows: Vec<Result<Value>> = futures_util::stream::iter(states.iter().map(|s| async move {
        let (td, tags) = if s.task_definition.is_empty() {
            (TaskDefinition::builder().build(), vec![])
        } else {
            aws.task_definition(&s.task_definition).await?
        };
        let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let primary = s.primary();
        let lock = if let Some(by) = s.tag(TAG_LOCKED_BY) {
            json!({"kind": "locked", "by": by, "reason": s.tag(TAG_LOCK_REASON), "at": s.tag(TAG_LOCKED_AT)})
        } else if let Some(to) = s.tag(TAG_PINNED_TO) {
            json!({"kind": "pinned", "to": to, "by": s.tag(TAG_PINNED_BY), "reason": s.tag(TAG_PIN_REASON), "at": s.tag(TAG_PINNED_AT)})
        } else {
            Value::Null
        };
        Ok(json!({
            "service": s.name,
            "task_definition_arn": s.task_definition,
            "revision": short_td(&s.task_definition),
            "version": tag(TAG_VERSION),
            "commit": tag(TAG_COMMIT),
            "image": taskdef::main_image(&td, None),
            "deployed_at": primary.and_then(|p| p.created_at).map(shipkit_core::time::rfc3339_utc),
            "running": s.running,
            "desired": s.desired,
            "rollout_state": primary.and_then(|p| p.rollout_state.clone()),
            "deployments": s.deployments.len(),
            "lock": lock,
        }))
    }))
    .buffered(8)
    .collect()
    .await;
    let rows: Vec<Value> = rows.into_iter().collect::<Result<_>>()?;
    let text = status_table(&rows);
    let mut o = Outputs::new();
    o.set("status", "ok");
    o.set("cluster", cluster);
    o.set("services", Value::Array(rows));
    o.emit(out, &text)
}

fn status_table(rows: &[Value]) -> String {
    let head = [
        "SERVICE", "VERSION", "COMMIT", "REVISION", "RUNNING", "DEPLOYED", "LOCK", "IMAGE",
    ];
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let commit = s(&r["commit"]);
        let lock = match r["lock"]["kind"].as_str() {
            Some("locked") => format!("locked by {}: {}", s(&r["lock"]["by"]), s(&r["lock"]["reason"])),
            Some("pinned") => format!("pinned to {}", short_td(&s(&r["lock"]["to"]))),
            _ => "-".into(),
        };
        let mut running = format!("{}/{}", s(&r["running"]), s(&r["desired"]));
        if r["deployments"].as_u64().unwrap_or(0) > 1 {
            running.push_str(" (deploying)");
        }
        table.push(vec![
            s(&r["service"]),
            s(&r["version"]),
            commit.chars().take(12).collect(),
            s(&r["revision"]),
            running,
            s(&r["deployed_at"]),
            lock,
            s(&r["image"]),
        ]);
    }
    if rows.is_empty() {
        return "no services\n".into();
    }
    let widths: Vec<usize> = (0..head.len())
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
