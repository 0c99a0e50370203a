//! The work queue in the embedded store (the SQL is in queue_sql.rs).

use async_trait::async_trait;
use gust_core::{AsyncInvocation, AsyncState, AttemptError, Error, ErrorKind, now_ms};

use super::{SqliteStore, queue_sql};
use crate::{AttemptUpdate, Lease, NewAsync, WorkQueue};

#[async_trait]
impl WorkQueue for SqliteStore {
    async fn enqueue(&self, new: NewAsync) -> Result<(), Error> {
        match self
            .with(move |conn| queue_sql::enqueue(conn, &new))
            .await?
        {
            None => Ok(()),
            Some(over) => Err(Error::new(ErrorKind::Throttled, over)),
        }
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        lease: &Lease,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let lease = lease.clone();
        self.with(move |conn| queue_sql::claim_due(conn, now_ms, &lease, limit, per_function))
            .await
    }

    async fn renew_leases(&self, lease: &Lease) -> Result<u64, Error> {
        let lease = lease.clone();
        self.with(move |conn| queue_sql::renew_leases(conn, &lease))
            .await
    }

    async fn expire_leases(&self, now_ms: i64, node: &str) -> Result<u64, Error> {
        let node = node.to_string();
        self.with(move |conn| queue_sql::expire_leases(conn, now_ms, &node))
            .await
    }

    async fn release_leases(&self, node: &str) -> Result<u64, Error> {
        let node = node.to_string();
        self.with(move |conn| queue_sql::release_leases(conn, &node))
            .await
    }

    async fn finish_attempt(
        &self,
        id: &str,
        node: &str,
        update: AttemptUpdate,
    ) -> Result<bool, Error> {
        let (id, node) = (id.to_string(), node.to_string());
        self.with(move |conn| queue_sql::finish_attempt(conn, &id, &node, &update))
            .await
    }

    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error> {
        self.with(move |conn| queue_sql::bury(conn, &dead, &errors))
            .await
    }

    async fn async_invocation(&self, id: &str) -> Result<Option<AsyncInvocation>, Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::get(conn, &id)).await
    }

    async fn async_invocations(
        &self,
        function: &str,
        state: Option<AsyncState>,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let function = function.to_string();
        self.with(move |conn| queue_sql::list(conn, &function, state, limit))
            .await
    }

    async fn cancel_async(&self, id: &str) -> Result<Option<AsyncState>, Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::cancel(conn, &id, now_ms()))
            .await
    }

    async fn replay_dead(
        &self,
        function: &str,
        ids: Vec<String>,
        expires_at_ms: i64,
    ) -> Result<u64, Error> {
        let function = function.to_string();
        self.with(move |conn| queue_sql::replay(conn, &function, &ids, now_ms(), expires_at_ms))
            .await
    }

    async fn queue_depth(&self) -> Result<(u64, Option<i64>), Error> {
        self.with(|conn| queue_sql::depth(conn)).await
    }

    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error> {
        self.with(move |conn| queue_sql::due_callbacks(conn, now_ms, limit))
            .await
    }

    async fn next_retry_at(&self) -> Result<Option<i64>, Error> {
        self.with(|conn| queue_sql::next_retry_at(conn)).await
    }

    async fn next_callback_at(&self) -> Result<Option<i64>, Error> {
        self.with(|conn| queue_sql::next_callback_at(conn)).await
    }

    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error> {
        let id = id.to_string();
        self.with(move |conn| queue_sql::callback_tried(conn, &id, retry_at_ms))
            .await
    }
}
