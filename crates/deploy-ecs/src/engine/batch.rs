//! Several services followed at once share their DescribeServiceDeployments calls: one call answers up to
//! 20 deployments, so the first follower whose state is stale fetches every deployment being followed,
//! and the others use that answer while it is fresh (half a poll interval). 50 services then cost about
//! 3 calls a poll instead of 50 (ECS's request quotas are per account and region).

use super::api;
use super::follow::EngineApi;
use super::state::ServiceDeployment;
use crate::model::{EcsApi, ServiceState, TaskState};
use crate::phase::Phase;
use shipkit_core::{Error, Result};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The shared cache of one deploy's followed deployments.
pub struct Batcher {
    fresh: Duration,
    followed: RefCell<BTreeSet<String>>,
    cache: RefCell<HashMap<String, (Duration, ServiceDeployment)>>,
    /// A batch is being fetched: the others wait for it instead of fetching the same.
    fetching: Cell<bool>,
}

/// Clears [`Batcher::fetching`] however the fetch ends.
struct Fetching<'a>(&'a Cell<bool>);
impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Batcher {
    /// Answers younger than `fresh` are reused.
    pub fn new(fresh: Duration) -> Batcher {
        Batcher {
            fresh,
            followed: RefCell::new(BTreeSet::new()),
            cache: RefCell::new(HashMap::new()),
            fetching: Cell::new(false),
        }
    }

    fn cached(&self, arn: &str, now: Duration) -> Option<ServiceDeployment> {
        let cache = self.cache.borrow();
        let (at, d) = cache.get(arn)?;
        (now.saturating_sub(*at) < self.fresh).then(|| d.clone())
    }

    /// Forget a deployment's cached state (after asking ECS to change it).
    pub fn invalidate(&self, arn: &str) {
        self.cache.borrow_mut().remove(arn);
    }

    /// The state of `arn`: cached while fresh, else one batch for every followed deployment.
    pub async fn describe(&self, phase: &Phase<'_>, arn: &str) -> Result<ServiceDeployment> {
        self.followed.borrow_mut().insert(arn.to_string());
        if let Some(d) = self.cached(arn, phase.elapsed()) {
            return Ok(d);
        }
        // Another follower's batch is on its way (bounded by its call deadline): use it.
        let mut waited = Duration::ZERO;
        while self.fetching.get() && waited < Duration::from_secs(60) {
            phase.sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
            if let Some(d) = self.cached(arn, phase.elapsed()) {
                return Ok(d);
            }
        }
        self.fetching.set(true);
        let _guard = Fetching(&self.fetching);
        // `arn` first, so its own chunk is fetched even if a later one fails.
        let mut arns: Vec<String> = vec![arn.to_string()];
        arns.extend(self.followed.borrow().iter().filter(|a| *a != arn).cloned());
        for chunk in arns.chunks(20) {
            phase.aws().count_call();
            let found = phase
                .call(
                    "DescribeServiceDeployments",
                    api::describe_many(&phase.aws().client, chunk),
                )
                .await?;
            let now = phase.elapsed();
            let mut cache = self.cache.borrow_mut();
            for d in found {
                cache.insert(d.arn.clone(), (now, d));
            }
        }
        let cache = self.cache.borrow();
        cache
            .get(arn)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| Error::not_found(format!("service deployment {arn} not found")))
    }
}

/// One service's view: its bounded [`Phase`] for every call, the shared [`Batcher`] for its state.
pub struct Batched<'a> {
    pub phase: &'a Phase<'a>,
    pub batcher: &'a Batcher,
}

impl EcsApi for Batched<'_> {
    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceState> {
        self.phase.describe_service(cluster, service).await
    }
    async fn stopped_tasks(&self, cluster: &str, deployment_id: &str) -> Result<Vec<TaskState>> {
        self.phase.stopped_tasks(cluster, deployment_id).await
    }
    async fn update_service(&self, cluster: &str, service: &str, task_definition: &str) -> Result<String> {
        self.phase.update_service(cluster, service, task_definition).await
    }
    async fn sleep(&self, d: Duration) {
        self.phase.sleep(d).await;
    }
    fn elapsed(&self) -> Duration {
        self.phase.elapsed()
    }
    fn begin_phase(&self, budget: Duration, cancellable: bool) {
        self.phase.begin_phase(budget, cancellable);
    }
}

impl EngineApi for Batched<'_> {
    async fn describe_deployment(&self, arn: &str) -> Result<ServiceDeployment> {
        self.batcher.describe(self.phase, arn).await
    }
    async fn rollback_deployment(&self, arn: &str) -> Result<()> {
        self.batcher.invalidate(arn);
        let r = self.phase.rollback_deployment(arn).await;
        self.batcher.invalidate(arn);
        r
    }
}
