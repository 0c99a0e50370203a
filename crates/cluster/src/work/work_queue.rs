//! The store's work-queue contract, taken step by step on the bucket (mod.rs).

use async_trait::async_trait;
use futures::future::join_all;
use gust_core::{AsyncInvocation, AsyncState, AttemptError, Error, ErrorKind, now_ms};
use gust_store::{AttemptUpdate, Lease, NewAsync, WorkQueue};

use super::entry::{Held, new_work};
use super::index::Summary;
use super::{JetStreamWorkQueue, MESSAGE_OVERHEAD, ORPHANED_CALLBACK_MS};

#[async_trait]
impl WorkQueue for JetStreamWorkQueue {
    async fn enqueue(&self, new: NewAsync) -> Result<(), Error> {
        if new.request.body.len() > self.max_body {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "in a cluster an asynchronous payload may be at most {} KiB (the NATS \
                     server's max_payload less {} KiB); this one has {} KiB",
                    self.max_body >> 10,
                    MESSAGE_OVERHEAD >> 10,
                    new.request.body.len() >> 10
                ),
            ));
        }
        if let Some(over) = self.index.backlog(&new.function).refuses(&new) {
            return Err(Error::new(ErrorKind::Throttled, over));
        }
        self.store_new(new_work(&new, Vec::new()), new.request.body)
            .await
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        lease: &Lease,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let due = self.index.due(now_ms, per_function, limit);
        let claims = due
            .iter()
            .map(|(id, body_bytes)| self.claim_one(id, *body_bytes, now_ms, lease));
        let mut claimed = Vec::with_capacity(due.len());
        let mut failed = None;
        for claim in join_all(claims).await {
            match claim {
                Ok(one) => claimed.extend(one),
                Err(e) => failed = Some(e),
            }
        }
        // What was claimed is handed over even if another claim failed: it runs now.
        match failed {
            Some(e) if claimed.is_empty() => Err(e),
            _ => Ok(claimed),
        }
    }

    /// Renews `lease.node`'s leases, and (as the node's housekeeping, once a second) removes
    /// what it finished over an hour ago: a removal that fails is tried again next time, and
    /// never keeps a lease from its renewal.
    async fn renew_leases(&self, lease: &Lease) -> Result<u64, Error> {
        if let Err(e) = self.sweep_finished(&lease.node).await {
            tracing::warn!("cannot remove finished invocations yet: {e}");
        }
        let held = self
            .index
            .select(|s| s.state == AsyncState::Running && held_by(s, &lease.node));
        let ids = held.into_iter().map(|(id, _)| id).collect();
        self.change_all(ids, |work| {
            if !work.is_run_by(&lease.node) {
                return false;
            }
            if let Some(held) = &mut work.lease {
                held.until_ms = lease.until_ms;
            }
            true
        })
        .await
    }

    async fn expire_leases(&self, now_ms: i64, node: &str) -> Result<u64, Error> {
        let ran_out = |lease: &Option<Held>| {
            let (holder, until_ms) = lease.as_ref().map_or(("", 0), |h| (&h.node, h.until_ms));
            until_ms < now_ms && holder != node
        };
        let expired = self
            .index
            .select(|s| s.state == AsyncState::Running && ran_out(&s.lease));
        let ids = expired.into_iter().map(|(id, _)| id).collect();
        self.change_all(ids, |work| {
            let expires = work.invocation.state == AsyncState::Running && ran_out(&work.lease);
            if expires {
                work.invocation.state = AsyncState::Failed;
            }
            expires
        })
        .await
    }

    async fn release_leases(&self, node: &str) -> Result<u64, Error> {
        let held = self
            .index
            .select(|s| s.state == AsyncState::Running && held_by(s, node));
        let ids = held.into_iter().map(|(id, _)| id).collect();
        self.change_all(ids, |work| {
            let releases = work.is_run_by(node);
            if releases {
                work.invocation.state = AsyncState::Failed;
            }
            releases
        })
        .await
    }

    async fn finish_attempt(
        &self,
        id: &str,
        node: &str,
        mut update: AttemptUpdate,
    ) -> Result<bool, Error> {
        let result = match update.result.take() {
            Some(result) => Some(self.place_result(id, result).await?),
            None => None,
        };
        let finished = self
            .change(id, |work| {
                let attempt_running = matches!(
                    work.invocation.state,
                    AsyncState::Running | AsyncState::Failed
                );
                let ours = work.lease.as_ref().is_some_and(|held| held.node == node);
                if !(attempt_running && ours) {
                    return false;
                }
                let invocation = &mut work.invocation;
                let is_final = update.state.is_final();
                invocation.state = update.state;
                invocation.next_attempt_at_ms = update.next_attempt_at_ms;
                invocation.finished_at_ms = is_final.then_some(update.now_ms);
                invocation.errors.extend(update.error.clone());
                if let Some(placed) = &result {
                    invocation.result = placed.clone();
                    work.result_apart = placed.is_none();
                }
                work.callback_pending = is_final && invocation.callback_url.is_some();
                work.callback_next_at_ms = update.now_ms;
                true
            })
            .await?;
        Ok(finished.is_some())
    }

    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error> {
        let body = dead.request.body.clone();
        self.store_new(new_work(&dead, errors), body).await
    }

    async fn async_invocation(&self, id: &str) -> Result<Option<AsyncInvocation>, Error> {
        self.whole(id).await
    }

    async fn async_invocations(
        &self,
        function: &str,
        state: Option<AsyncState>,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let pick = |s: &Summary| s.function == function && state.is_none_or(|st| s.state == st);
        self.listed(pick, limit).await
    }

    async fn cancel_async(&self, id: &str) -> Result<Option<AsyncState>, Error> {
        let now = now_ms();
        let cancelled = self
            .change(id, |work| {
                let waits = matches!(
                    work.invocation.state,
                    AsyncState::Queued | AsyncState::Failed
                );
                if waits {
                    work.invocation.state = AsyncState::Cancelled;
                    work.invocation.finished_at_ms = Some(now);
                }
                waits
            })
            .await?;
        if cancelled.is_some() {
            return Ok(Some(AsyncState::Cancelled));
        }
        let state = self.read(id).await?;
        Ok(state.map(|(stored, _)| stored.work.invocation.state))
    }

    async fn replay_dead(
        &self,
        function: &str,
        ids: Vec<String>,
        expires_at_ms: i64,
    ) -> Result<u64, Error> {
        let dead = self
            .index
            .select(|s| s.function == function && s.state == AsyncState::Dead);
        let chosen = dead
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| ids.is_empty() || ids.contains(id))
            .collect();
        let now = now_ms();
        self.change_all(chosen, |work| {
            let invocation = &mut work.invocation;
            if invocation.state != AsyncState::Dead {
                return false;
            }
            invocation.state = AsyncState::Queued;
            invocation.attempts = 0;
            invocation.next_attempt_at_ms = now;
            invocation.expires_at_ms = expires_at_ms;
            invocation.finished_at_ms = None;
            work.callback_pending = false;
            true
        })
        .await
    }

    async fn queue_depth(&self) -> Result<(u64, Option<i64>), Error> {
        let waiting = |s: &Summary| matches!(s.state, AsyncState::Queued | AsyncState::Failed);
        let count = self.index.select(waiting).len() as u64;
        Ok((count, self.index.earliest(waiting, |s| s.enqueued_at_ms)))
    }

    async fn next_retry_at(&self) -> Result<Option<i64>, Error> {
        let failed = |s: &Summary| s.state == AsyncState::Failed;
        Ok(self.index.earliest(failed, |s| s.next_attempt_at_ms))
    }

    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error> {
        let ours = |s: &Summary| {
            held_by(s, &self.node) || s.callback_next_at_ms + ORPHANED_CALLBACK_MS <= now_ms
        };
        let due = |s: &Summary| s.callback_pending && s.callback_next_at_ms <= now_ms && ours(s);
        self.listed(due, limit).await
    }

    async fn next_callback_at(&self) -> Result<Option<i64>, Error> {
        let pending = |s: &Summary| s.callback_pending;
        Ok(self.index.earliest(pending, |s| s.callback_next_at_ms))
    }

    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error> {
        self.change(id, |work| {
            work.invocation.callback_attempts += 1;
            work.callback_pending = retry_at_ms.is_some();
            work.callback_next_at_ms = retry_at_ms.unwrap_or(0);
            true
        })
        .await
        .map(drop)
    }
}

fn held_by(summary: &Summary, node: &str) -> bool {
    summary.lease.as_ref().is_some_and(|held| held.node == node)
}
