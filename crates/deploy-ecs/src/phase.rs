//! Deadlines and cancellation around AWS calls: a hung call never outlives the phase it belongs to (the
//! deploy's `--timeout`, a rollback's, the cancel grace period), and a SIGINT/SIGTERM ends the waiting at
//! once (within 50 ms) instead of after the call.
//!
//! [`Phase`] is one service's view of the ECS client for [`crate::model`]'s wait/rollback state machine:
//! the model calls [`EcsApi::begin_phase`] before each phase, and every call and sleep of the phase is
//! bounded by it.

use crate::aws::Aws;
use crate::model::{EcsApi, ServiceState, TaskState};
use shipkit_core::cancel;
use shipkit_core::{Error, Result};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// How often a wait looks for a signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// A phase's calls may run this much past its budget, so the state machine's own timeout check (with the
/// last state seen) speaks first; a call that hangs past it ends with "the deadline passed".
const CALL_SLACK: Duration = Duration::from_secs(2);

/// Run `fut`, ending it early at `deadline` (exit 9) or, when `cancellable`, on SIGINT/SIGTERM (exit
/// 130/143). `what` names the call in the error.
///
/// `fut` is boxed here, before anything holds it: the futures of SDK call chains and whole commands are
/// tens of KiB, and a caller's future that held them inline (and again inside `select!`) would be several
/// times that (clippy's `large_futures`). One allocation per call or phase.
pub fn bounded<'a, T: 'a>(
    what: &'a str,
    deadline: Option<Instant>,
    cancellable: bool,
    fut: impl Future<Output = Result<T>> + 'a,
) -> impl Future<Output = Result<T>> + 'a {
    bounded_boxed(what, deadline, cancellable, Box::pin(fut))
}

/// [`bounded`] on a boxed future.
async fn bounded_boxed<T>(
    what: &str,
    deadline: Option<Instant>,
    cancellable: bool,
    fut: Pin<Box<impl Future<Output = Result<T>>>>,
) -> Result<T> {
    let expired = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
            None => std::future::pending::<()>().await,
        }
    };
    let signalled = async {
        if !cancellable {
            return std::future::pending().await;
        }
        loop {
            if let Some(s) = cancel::requested() {
                return s;
            }
            tokio::time::sleep(SIGNAL_POLL).await;
        }
    };
    tokio::select! {
        biased;
        r = fut => r,
        () = expired => Err(Error::timeout(format!("{what}: the deadline passed during the call"))
            .hint("AWS did not answer in time; check the network and the endpoint")),
        s = signalled => Err(cancel::cancelled_error(s, &format!("during {what}"))),
    }
}

/// `fut`, ended by SIGINT/SIGTERM (the steps of a command that change nothing, or that are safe to stop).
/// Boxed, as [`bounded`].
pub fn until_cancelled<'a, T: 'a>(
    what: &'a str,
    fut: impl Future<Output = Result<T>> + 'a,
) -> impl Future<Output = Result<T>> + 'a {
    bounded(what, None, true, fut)
}

/// One service's bounded view of the ECS client.
pub struct Phase<'a> {
    aws: &'a Aws,
    deadline: Cell<Option<Instant>>,
    cancellable: Cell<bool>,
}

impl<'a> Phase<'a> {
    /// Unbounded and not cancellable until [`EcsApi::begin_phase`].
    pub fn new(aws: &'a Aws) -> Phase<'a> {
        Phase {
            aws,
            deadline: Cell::new(None),
            cancellable: Cell::new(false),
        }
    }

    /// The client behind this view.
    pub fn aws(&self) -> &Aws {
        self.aws
    }

    /// Run one call within the current phase.
    pub async fn call<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        bounded(what, self.deadline.get(), self.cancellable.get(), fut).await
    }
}

impl EcsApi for Phase<'_> {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceState> {
        let what = format!("DescribeServices {service}");
        self.call(&what, self.aws.describe_service(cluster, service)).await
    }

    async fn stopped_tasks(&self, cluster: &str, deployment_id: &str) -> Result<Vec<TaskState>> {
        let what = format!("ListTasks in cluster {cluster}");
        self.call(&what, self.aws.stopped_tasks(cluster, deployment_id)).await
    }

    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<String> {
        let what = format!("UpdateService {service}");
        self.call(&what, self.aws.update_service(cluster, service, task_definition))
            .await
    }

    /// Sleeps end at the phase's deadline, and at once on a signal when the phase is cancellable (the
    /// next call then reports the cancel).
    async fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        let until = self.deadline.get().map_or(until, |dl| until.min(dl));
        let _ = bounded(
            "sleep",
            Some(until),
            self.cancellable.get(),
            std::future::pending::<Result<()>>(),
        )
        .await;
    }

    fn elapsed(&self) -> Duration {
        self.aws.elapsed()
    }

    fn begin_phase(&self, budget: Duration, cancellable: bool) {
        self.deadline.set(Some(shipkit_core::time::deadline_after(
            budget.saturating_add(CALL_SLACK),
        )));
        self.cancellable.set(cancellable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_hung_call_ends_at_the_deadline_with_exit_9() {
        let start = Instant::now();
        let hung = std::future::pending::<Result<()>>();
        let e = block(bounded(
            "DescribeServices web",
            Some(start + Duration::from_millis(200)),
            false,
            hung,
        ))
        .unwrap_err();
        assert_eq!(e.code, shipkit_core::ExitCode::Timeout);
        assert!(e.message.starts_with("DescribeServices web: "), "{}", e.message);
        assert!(start.elapsed() < Duration::from_secs(2));
        let ok = block(bounded("x", Some(start + Duration::from_secs(5)), true, async {
            Ok(7)
        }));
        assert_eq!(ok.unwrap(), 7);
    }
}
