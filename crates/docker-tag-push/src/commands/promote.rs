//! `promote`: copy an image to other repositories keeping its digest (same registry: cross-repository
//! blob mount; another registry: blobs streamed through this machine), then tag it there.

use super::{plan_outputs, Outcome, Written};
use crate::publish::{publish, Job, Report};
use crate::registry::{Client, Options};
use crate::settings::PromoteSettings;
use shipkit_core::{Error, Result};

/// The registry calls --dry-run would make.
fn plan(s: &PromoteSettings, client: &Client) -> Vec<String> {
    let from = &s.from;
    let mut plan = vec![format!(
        "GET {}/v2/{}/manifests/{}",
        client.base_url(&from.repo.registry),
        from.repo.path,
        from.reference.as_str()
    )];
    for t in &s.targets {
        let base = format!("{}/v2/{}", client.base_url(&t.repo.registry), t.repo.path);
        if t.repo.registry == from.repo.registry {
            plan.push(format!(
                "POST {base}/blobs/uploads/?mount=<each blob>&from={}   # once per missing blob",
                from.repo.path
            ));
        } else {
            plan.push(format!(
                "GET + PUT {base}/blobs/<each blob>   # copied through this machine: another registry"
            ));
        }
        for tag in &t.tags {
            plan.push(format!("HEAD+PUT {base}/manifests/{tag}"));
        }
    }
    plan
}

pub fn run(s: &PromoteSettings, opts: Options) -> Result<Outcome> {
    let client = Client::new(opts);
    if s.dry_run {
        return Ok(plan_outputs(plan(s, &client)));
    }
    let m = client.get_manifest(&s.from)?.ok_or_else(|| {
        Error::not_found(format!("{} does not exist", s.from)).hint("check it with: docker-tag-push digest REF")
    })?;
    let mut report = Report {
        tags: s.tags.clone(),
        ..Default::default()
    };
    let job = Job {
        client,
        manifest: m,
        source: s.from.repo.clone(),
        targets: s.targets.clone(),
        policy: s.policy.clone(),
    };
    publish(job, &mut report);
    let text = report.text();
    Ok((Written::image(report.outputs()), text, report.result().err()))
}
