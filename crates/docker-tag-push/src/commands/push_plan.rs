//! `--dry-run` of the default command: the docker commands and registry calls a real run would make.

use super::push::Run;
use crate::reference::Repo;
use crate::registry::Client;
use shipkit_core::exec::Command;

/// The plan lines, in the order a real run makes the calls.
pub(super) fn plan(run: &Run, client: &Client) -> Vec<String> {
    let s = run.s;
    let first = &s.repos[0];
    let mut plan = vec![];
    if let (Some(k), false) = (&run.key_tag, s.force_build) {
        for r in &s.repos {
            plan.push(format!(
                "HEAD {}/v2/{}/manifests/{k}   # build avoidance: skip the build when present",
                client.base_url(&r.registry),
                r.path
            ));
        }
    }
    plan.push(s.spec.command(&run.build_ref).display());
    plan.push(Command::new("docker").arg("push").arg(&run.build_ref).display());
    plan.push(format!(
        "HEAD {}/v2/{}/manifests/{}   # the registry's digest",
        client.base_url(&first.registry),
        first.path,
        run.push_tag
    ));
    // One docker push per registry; other repositories of a registry mount from the one pushed there.
    let mut holders: Vec<&Repo> = vec![first];
    for r in &s.repos {
        let base = format!("{}/v2/{}", client.base_url(&r.registry), r.path);
        let holder = holders.iter().find(|h| h.registry == r.registry).copied();
        let pushed_here = match holder {
            Some(h) if h == r => r == first,
            Some(h) => {
                plan.push(format!(
                    "POST {base}/blobs/uploads/?mount=<each blob>&from={}   # once per missing blob",
                    h.path
                ));
                false
            }
            None => {
                holders.push(r);
                let target = r.with_tag(&run.push_tag).to_string();
                plan.push(format!(
                    "GET {}/v2/   # is the registry up?",
                    client.base_url(&r.registry)
                ));
                plan.push(Command::new("docker").args(["tag", &run.build_ref, &target]).display());
                plan.push(Command::new("docker").args(["push", &target]).display());
                true
            }
        };
        for t in run.all_tags() {
            if pushed_here && t == run.push_tag {
                continue;
            }
            plan.push(format!("HEAD+PUT {base}/manifests/{t}"));
        }
    }
    plan
}
