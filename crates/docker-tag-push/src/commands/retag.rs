//! `retag`: add tags to an image already in a repository: GET its manifest, PUT the same bytes under each
//! tag (no docker daemon, nothing pulled).

use super::{plan_outputs, Outcome, Written};
use crate::publish::{publish, Job, Report, Target};
use crate::reference::ImageRef;
use crate::registry::{Client, Manifest, Options};
use crate::settings::RetagSettings;
use shipkit_core::{Error, Result};

/// The registry calls --dry-run would make.
fn plan(s: &RetagSettings, client: &Client) -> Vec<String> {
    let mut plan = vec![];
    for r in &s.repos {
        let base = format!("{}/v2/{}/manifests", client.base_url(&r.registry), r.path);
        plan.push(format!("GET {base}/{}", s.from.as_str()));
        for t in &s.tags {
            plan.push(format!("HEAD+PUT {base}/{t}"));
        }
    }
    plan
}

pub fn run(s: &RetagSettings, opts: Options) -> Result<Outcome> {
    let client = Client::new(opts);
    if s.dry_run {
        return Ok(plan_outputs(plan(s, &client)));
    }
    let mut report = Report {
        tags: s.tags.clone(),
        ..Default::default()
    };
    let mut first_manifest: Option<Manifest> = None;
    for r in &s.repos {
        let src = ImageRef {
            repo: r.clone(),
            reference: s.from.clone(),
        };
        let m = client.get_manifest(&src)?.ok_or_else(|| {
            Error::not_found(format!("{src} does not exist"))
                .hint("check the tag with: docker-tag-push digest REPO:TAG")
        })?;
        if let Some(prev) = &first_manifest {
            if prev.digest != m.digest {
                return Err(Error::usage(format!(
                    "{src} is {}, not {} as in the first repository",
                    m.digest, prev.digest
                )));
            }
        }
        let job = Job {
            client: client.clone(),
            manifest: m.clone(),
            source: r.clone(),
            targets: vec![Target {
                repo: r.clone(),
                tags: s.tags.clone(),
                source: None,
            }],
            policy: s.policy.clone(),
        };
        publish(job, &mut report);
        first_manifest = Some(m);
    }
    let text = report.text();
    Ok((Written::image(report.outputs()), text, report.result().err()))
}
