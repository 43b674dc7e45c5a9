//! The commands, one file each: [`deploy`], [`run`], [`rollback`], [`lock`] (and unlock), [`status`],
//! [`status_all`] (every environment), [`diff`], [`render`], [`verify`];
//! `continue` and `abort` act on ECS's deployment engine ([`crate::engine::commands`]).
//! This module holds what they share: the dispatcher, the shipkit tags on AWS resources, who is acting,
//! and the lock/pin check.

pub mod deploy;
pub mod diff;
pub mod lock;
pub mod render;
pub mod rollback;
pub mod run;
pub mod status;
pub mod status_all;
pub mod verify;

use crate::aws;
use crate::cli::Command;
use crate::engine::commands::{act, Action};
use crate::model::{short_td, ServiceState};
use crate::phase::until_cancelled;
use crate::settings::Settings;
use crate::taskdef;
use shipkit_core::{Error, Result};

/// Tags on task definitions.
pub const TAG_VERSION: &str = "shipkit:version";
pub const TAG_COMMIT: &str = "shipkit:commit";
pub const TAG_IMAGE: &str = "shipkit:image";
pub const TAG_DEPLOYED_BY: &str = "shipkit:deployed-by";
/// Tags on services.
pub const TAG_LOCKED_BY: &str = "shipkit:locked-by";
pub const TAG_LOCK_REASON: &str = "shipkit:lock-reason";
pub const TAG_LOCKED_AT: &str = "shipkit:locked-at";
pub const TAG_PINNED_TO: &str = "shipkit:pinned-to";
pub const TAG_PINNED_BY: &str = "shipkit:pinned-by";
pub const TAG_PINNED_AT: &str = "shipkit:pinned-at";
pub const TAG_PIN_REASON: &str = "shipkit:pin-reason";
pub(crate) const LOCK_TAGS: [&str; 7] = [
    TAG_LOCKED_BY,
    TAG_LOCK_REASON,
    TAG_LOCKED_AT,
    TAG_PINNED_TO,
    TAG_PINNED_BY,
    TAG_PINNED_AT,
    TAG_PIN_REASON,
];

/// Connect to AWS and run one command. Returns the process exit code (`run`: the task's own).
pub async fn dispatch(command: Command, settings: Settings) -> Result<u8> {
    let aws = aws::connect(&settings.connect).await?;
    let (target, out) = (&settings.target, &settings.output);
    // `deploy` handles a signal itself (rollback, outputs with status `cancelled`); the other commands
    // stop where they are and exit 130/143.
    let r = match command {
        Command::Deploy(a) => deploy::deploy(&aws, target, *a, out).await.map(|()| 0),
        // `run` stops its task on a signal (StopTask) before exiting 130/143.
        Command::Run(a) => run::run(&aws, target, a, out).await,
        Command::Rollback(a) => until_cancelled("rollback", rollback::rollback(&aws, target, a, out))
            .await
            .map(|()| 0),
        Command::Lock(a) => until_cancelled("lock", lock::lock(&aws, target, a, out))
            .await
            .map(|()| 0),
        Command::Unlock(a) => until_cancelled("unlock", lock::unlock(&aws, target, a, out))
            .await
            .map(|()| 0),
        Command::Status(a) if !settings.environments.is_empty() => {
            until_cancelled("status", status_all::status_all(&aws, &settings, a))
                .await
                .map(|()| 0)
        }
        Command::Status(a) => until_cancelled("status", status::status(&aws, target, a, out))
            .await
            .map(|()| 0),
        Command::Diff(a) => until_cancelled("diff", diff::diff(&aws, target, a, out)).await,
        Command::Render(a) => until_cancelled("render", render::render(&aws, target, a))
            .await
            .map(|()| 0),
        Command::Verify(a) => until_cancelled("verify", verify::verify(&aws, &settings.connect, target, a, out))
            .await
            .map(|()| 0),
        Command::Continue(a) => {
            let opts = crate::settings::follow_options(&a.wait, target, a.wait_until.as_deref(), true)?;
            let action = Action::Continue {
                hook: a.hook.as_deref(),
            };
            act(
                &aws,
                &target.cluster,
                &target.services,
                action,
                &opts,
                a.wait.no_wait,
                out,
            )
            .await
            .map(|()| 0)
        }
        Command::Abort(a) => {
            let opts = crate::settings::follow_options(&a.wait, target, None, false)?;
            act(
                &aws,
                &target.cluster,
                &target.services,
                Action::Abort,
                &opts,
                a.wait.no_wait,
                out,
            )
            .await
            .map(|()| 0)
        }
    };
    if shipkit_core::exec::verbose() {
        shipkit_core::term::info(&format!("deploy-ecs: {} AWS API call(s)", aws.calls()));
    }
    r
}

/// Who is doing this: the CI actor, else $USER.
pub(crate) fn who() -> String {
    let ci = shipkit_core::ci::CiContext::detect();
    let name = ci
        .actor
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    let place = ci.build_url.map(|u| format!(" {u}")).unwrap_or_default();
    taskdef::tag_value(&format!("{name}{place}"))
}

/// Now, as RFC 3339 UTC.
pub(crate) fn now_iso() -> String {
    shipkit_core::time::now_rfc3339()
}

/// Refuse a locked or pinned service.
pub(crate) fn check_lock(s: &ServiceState) -> Result<()> {
    if let Some(by) = s.tag(TAG_LOCKED_BY) {
        return Err(Error::refused(format!(
            "service {} is locked by {by} since {}: {}",
            s.name,
            s.tag(TAG_LOCKED_AT).unwrap_or("?"),
            s.tag(TAG_LOCK_REASON).unwrap_or("no reason given")
        ))
        .hint(format!(
            "`deploy-ecs unlock --service {}` when it is safe to deploy again",
            s.name
        )));
    }
    if let Some(to) = s.tag(TAG_PINNED_TO) {
        return Err(Error::refused(format!(
            "service {} is pinned to {} by {} since {} ({})",
            s.name,
            short_td(to),
            s.tag(TAG_PINNED_BY).unwrap_or("?"),
            s.tag(TAG_PINNED_AT).unwrap_or("?"),
            s.tag(TAG_PIN_REASON).unwrap_or("rolled back")
        ))
        .hint(format!(
            "`deploy-ecs unlock --service {}` to allow deploys again",
            s.name
        )));
    }
    Ok(())
}
