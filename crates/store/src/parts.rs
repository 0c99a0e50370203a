//! A store made of parts kept in different places: a cluster keeps its catalog and schedules
//! where every node sees them, and each node its records and work queue in its own database.

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{
    AsyncInvocation, AsyncState, AttemptError, Error, FunctionInfo, InvocationRecord, LogLine,
    Trigger, UsageQuery, UsageSums, Version,
};
use serde_json::{Map, Value};

use crate::{
    AttemptUpdate, Catalog, Deployed, Lease, NewAsync, NewVersion, Records, Schedules, WorkQueue,
};

pub struct StoreParts {
    pub catalog: Arc<dyn Catalog>,
    pub schedules: Arc<dyn Schedules>,
    pub records: Arc<dyn Records>,
    pub work: Arc<dyn WorkQueue>,
}

#[async_trait]
impl Catalog for StoreParts {
    async fn ping(&self) -> Result<(), Error> {
        self.catalog.ping().await
    }
    async fn deploy(&self, new: NewVersion) -> Result<Deployed, Error> {
        self.catalog.deploy(new).await
    }
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>, Error> {
        self.catalog.function(name).await
    }
    async fn functions(&self) -> Result<Vec<FunctionInfo>, Error> {
        self.catalog.functions().await
    }
    async fn versions(&self, name: &str) -> Result<Vec<Version>, Error> {
        self.catalog.versions(name).await
    }
    async fn delete_function(&self, name: &str) -> Result<bool, Error> {
        self.catalog.delete_function(name).await
    }
    async fn artifact_in_use(&self, sha256: &str) -> Result<bool, Error> {
        self.catalog.artifact_in_use(sha256).await
    }
    async fn add_trigger(&self, trigger: Trigger) -> Result<(), Error> {
        self.catalog.add_trigger(trigger).await
    }
    async fn triggers(
        &self,
        function: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Trigger>, Error> {
        self.catalog.triggers(function, kind).await
    }
    async fn delete_trigger(&self, id: &str) -> Result<bool, Error> {
        self.catalog.delete_trigger(id).await
    }
    async fn set_trigger_state(&self, id: &str, state: Map<String, Value>) -> Result<(), Error> {
        self.catalog.set_trigger_state(id, state).await
    }
}

#[async_trait]
impl Schedules for StoreParts {
    async fn claim_firing(
        &self,
        trigger_id: &str,
        seen: &Map<String, Value>,
        next: Map<String, Value>,
    ) -> Result<bool, Error> {
        self.schedules.claim_firing(trigger_id, seen, next).await
    }
}

#[async_trait]
impl Records for StoreParts {
    async fn record_invocations(&self, records: Arc<Vec<InvocationRecord>>) -> Result<(), Error> {
        self.records.record_invocations(records).await
    }
    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error> {
        self.records.record_logs(lines).await
    }
    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error> {
        self.records.invocations(name, limit).await
    }
    async fn last_invoked(&self, since_ms: i64) -> Result<Vec<(String, i64)>, Error> {
        self.records.last_invoked(since_ms).await
    }
    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error> {
        self.records.logs(name, limit).await
    }
    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error> {
        self.records.invocation_logs(invocation_id).await
    }
    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error> {
        self.records.usage(query).await
    }
    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error> {
        self.records.roll_up(before_ms).await
    }
}

#[async_trait]
impl WorkQueue for StoreParts {
    async fn enqueue(&self, new: NewAsync) -> Result<(), Error> {
        self.work.enqueue(new).await
    }
    async fn claim_due(
        &self,
        now_ms: i64,
        lease: &Lease,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        self.work
            .claim_due(now_ms, lease, limit, per_function)
            .await
    }
    async fn renew_leases(&self, lease: &Lease) -> Result<u64, Error> {
        self.work.renew_leases(lease).await
    }
    async fn expire_leases(&self, now_ms: i64, node: &str) -> Result<u64, Error> {
        self.work.expire_leases(now_ms, node).await
    }
    async fn release_leases(&self, node: &str) -> Result<u64, Error> {
        self.work.release_leases(node).await
    }
    async fn finish_attempt(
        &self,
        id: &str,
        node: &str,
        update: AttemptUpdate,
    ) -> Result<bool, Error> {
        self.work.finish_attempt(id, node, update).await
    }
    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error> {
        self.work.bury(dead, errors).await
    }
    async fn async_invocation(&self, id: &str) -> Result<Option<AsyncInvocation>, Error> {
        self.work.async_invocation(id).await
    }
    async fn async_invocations(
        &self,
        function: &str,
        state: Option<AsyncState>,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        self.work.async_invocations(function, state, limit).await
    }
    async fn cancel_async(&self, id: &str) -> Result<Option<AsyncState>, Error> {
        self.work.cancel_async(id).await
    }
    async fn replay_dead(
        &self,
        function: &str,
        ids: Vec<String>,
        expires_at_ms: i64,
    ) -> Result<u64, Error> {
        self.work.replay_dead(function, ids, expires_at_ms).await
    }
    async fn queue_depth(&self) -> Result<(u64, Option<i64>), Error> {
        self.work.queue_depth().await
    }
    async fn next_retry_at(&self) -> Result<Option<i64>, Error> {
        self.work.next_retry_at().await
    }
    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error> {
        self.work.due_callbacks(now_ms, limit).await
    }
    async fn next_callback_at(&self) -> Result<Option<i64>, Error> {
        self.work.next_callback_at().await
    }
    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error> {
        self.work.callback_tried(id, retry_at_ms).await
    }
}
