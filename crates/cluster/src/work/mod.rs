//! The work queue in a JetStream key-value bucket, shared by the nodes of a cluster: each
//! invocation's state under `work.ID` and its body under `body.ID`. Every step (a claim, a
//! lease renewed or expired, an attempt finished) is a compare-and-set on the state's
//! revision, so two nodes never both take one step; each node picks what to try from its view
//! of the bucket (index.rs), which the bucket's watch keeps current.

mod entry;
mod index;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use futures::StreamExt;
use futures::future::join_all;
use gust_core::{AsyncInvocation, AsyncResult, AsyncState, AttemptError, Error, ErrorKind, now_ms};
use gust_store::{AttemptUpdate, Lease, NewAsync, WorkQueue};
use tokio::sync::watch;

use crate::{key_safe, nats_error};
use entry::{Held, INLINE_BODY, INLINE_RESULT, Stored, Work, body_key, result_key, work_key};
use index::{Index, Summary};

const BUCKET: &str = "gust-work";
/// How long an invocation is kept, whatever its state: a dead letter waits this long for a
/// replay (a waiting invocation expires long before).
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a succeeded or cancelled invocation is kept, to be read and listed.
const KEEP_FINISHED_MS: i64 = 3600 * 1000;
/// Finished invocations a node removes at once.
const SWEEP: usize = 1000;
/// Room kept in a message for the body's key and headers.
const MESSAGE_OVERHEAD: usize = 4096;
/// How long a node waits at start for its view of the queue to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);
const RETRY: Duration = Duration::from_secs(1);
/// A callback is delivered by the node that ran its invocation; one overdue by this long (its
/// node is gone) by any node.
const ORPHANED_CALLBACK_MS: i64 = 30_000;

pub struct JetStreamWorkQueue {
    kv: kv::Store,
    node: String,
    index: Arc<Index>,
    /// The largest body a message takes (NATS's max_payload, less room for the rest).
    max_body: usize,
    /// Keeps the watch going for as long as the queue lives.
    _caught_up: watch::Receiver<u64>,
}

impl JetStreamWorkQueue {
    /// The cluster's work queue as node `node` sees it, once its view has caught up with the
    /// bucket. `max_payload` is the NATS server's largest message.
    pub async fn open(
        jetstream: &jetstream::Context,
        node: &str,
        max_payload: usize,
    ) -> Result<JetStreamWorkQueue, Error> {
        let kv = match jetstream.get_key_value(BUCKET).await {
            Ok(kv) => kv,
            Err(_) => jetstream
                .create_key_value(kv::Config {
                    bucket: BUCKET.into(),
                    description: "Gust's asynchronous invocations".into(),
                    max_age: KEEP,
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error("cannot make the work queue's bucket", e))?,
        };
        let index = Arc::new(Index::default());
        // Under `work.` as the watch sees only that; no invocation id begins with `_`.
        let marker = format!("work._ready.{}", key_safe(node));
        let (seen, mut caught_up) = watch::channel(0);
        tokio::spawn(follow(kv.clone(), index.clone(), marker.clone(), seen));
        // The marker is written after the watch began: once the watch delivers it, the view
        // holds everything written before.
        let written = kv
            .put(&marker, now_ms().to_string().into())
            .await
            .map_err(|e| nats_error("cannot write to the work queue", e))?;
        tokio::time::timeout(CATCH_UP, caught_up.wait_for(|seen| *seen >= written))
            .await
            .map_err(|_| nats_error("cannot read the work queue", "no answer within 30 s"))?
            .map_err(|e| nats_error("cannot read the work queue", e))?;
        Ok(JetStreamWorkQueue {
            kv,
            node: node.to_string(),
            index,
            max_body: max_payload.saturating_sub(MESSAGE_OVERHEAD),
            _caught_up: caught_up,
        })
    }

    async fn read(&self, id: &str) -> Result<Option<(Stored, u64)>, Error> {
        let key = work_key(id);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| nats_error(&format!("cannot read {key}"), e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        Ok(Some((Stored::decode(&entry.value)?, entry.revision)))
    }

    /// The body of a state stored without it.
    async fn body(&self, id: &str) -> Result<Vec<u8>, Error> {
        let key = body_key(id);
        let body = self
            .kv
            .get(&key)
            .await
            .map_err(|e| nats_error(&format!("cannot read {key}"), e))?;
        Ok(body.map(|b| b.to_vec()).unwrap_or_default())
    }

    /// A result stored apart.
    async fn result(&self, id: &str) -> Result<Option<AsyncResult>, Error> {
        let key = result_key(id);
        let stored = self
            .kv
            .get(&key)
            .await
            .map_err(|e| nats_error(&format!("cannot read {key}"), e))?;
        let Some(json) = stored else { return Ok(None) };
        let result = serde_json::from_slice(&json)
            .map_err(|e| Error::internal(format!("the work queue's {key} does not read: {e}")))?;
        Ok(Some(result))
    }

    /// Where `result` goes: with the state when it is small (Some), or written under
    /// `result.ID` now (None), cut to what a message holds.
    async fn place_result(
        &self,
        id: &str,
        result: AsyncResult,
    ) -> Result<Option<AsyncResult>, Error> {
        let json = serde_json::to_vec(&result).expect("results serialize");
        if json.len() <= INLINE_RESULT {
            return Ok(Some(result));
        }
        let fitted = fit(result, json.len(), self.max_body);
        let key = result_key(id);
        self.kv
            .put(
                &key,
                serde_json::to_vec(&fitted)
                    .expect("results serialize")
                    .into(),
            )
            .await
            .map_err(|e| nats_error(&format!("cannot write {key}"), e))?;
        Ok(None)
    }

    /// The whole invocation, body included.
    async fn whole(&self, id: &str) -> Result<Option<AsyncInvocation>, Error> {
        let Some((stored, _)) = self.read(id).await? else {
            return Ok(None);
        };
        let body = match stored.inline_body {
            Some(body) => body,
            None => self.body(id).await?,
        };
        let result_apart = stored.work.result_apart;
        let mut invocation = with_body(stored.work, body);
        if result_apart {
            invocation.result = self.result(id).await?;
        }
        Ok(Some(invocation))
    }

    /// Stores a new invocation's state and body; a conflict if its id is taken.
    async fn store_new(&self, work: Work, body: Vec<u8>) -> Result<(), Error> {
        let id = work.invocation.id.clone();
        let inline_body = match work.has_inline_body() {
            true => Some(body),
            false => {
                let key = body_key(&id);
                self.kv
                    .put(&key, body.into())
                    .await
                    .map_err(|e| nats_error(&format!("cannot write {key}"), e))?;
                None
            }
        };
        let key = work_key(&id);
        let stored = Stored { work, inline_body };
        match self.kv.create(&key, stored.encode()).await {
            Ok(revision) => {
                self.remember(&id, &stored.work, revision);
                Ok(())
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(Error::new(
                ErrorKind::Conflict,
                format!("an asynchronous invocation with id {id} exists"),
            )),
            Err(e) => Err(nats_error(&format!("cannot write {key}"), e)),
        }
    }

    /// Takes one step of `id`'s state: `step` changes it and says whether to write it (false
    /// leaves it be). Read again and retried when another node wrote first; the state as
    /// written, or None when nothing was (no such invocation, or `step` refused).
    async fn change(
        &self,
        id: &str,
        step: impl Fn(&mut Work) -> bool,
    ) -> Result<Option<Stored>, Error> {
        let key = work_key(id);
        loop {
            let Some((mut stored, revision)) = self.read(id).await? else {
                self.index.apply(id, None, u64::MAX);
                return Ok(None);
            };
            if !step(&mut stored.work) {
                self.remember(id, &stored.work, revision);
                return Ok(None);
            }
            match self.kv.update(&key, stored.encode(), revision).await {
                Ok(revision) => {
                    self.remember(id, &stored.work, revision);
                    return Ok(Some(stored));
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(nats_error(&format!("cannot write {key}"), e)),
            }
        }
    }

    /// Takes `step` on each of `ids` at once; how many were written.
    async fn change_all(
        &self,
        ids: Vec<String>,
        step: impl Fn(&mut Work) -> bool,
    ) -> Result<u64, Error> {
        let changes = ids.iter().map(|id| self.change(id, &step));
        let mut changed = 0;
        for done in join_all(changes).await {
            changed += u64::from(done?.is_some());
        }
        Ok(changed)
    }

    /// Removes up to `SWEEP` invocations that succeeded or were cancelled over an hour ago:
    /// those `node` ran, and those cancelled before any node ran them.
    async fn sweep_finished(&self, node: &str) -> Result<(), Error> {
        let before = now_ms() - KEEP_FINISHED_MS;
        let done = |s: &Summary| {
            matches!(s.state, AsyncState::Succeeded | AsyncState::Cancelled)
                && s.finished_at_ms.is_some_and(|at| at < before)
                && s.lease.as_ref().is_none_or(|held| held.node == node)
        };
        let mut old = self.index.select(done);
        old.truncate(SWEEP);
        for (id, summary) in old {
            let mut keys = vec![work_key(&id)];
            if summary.body_bytes > INLINE_BODY {
                keys.push(body_key(&id));
            }
            if summary.result_apart {
                keys.push(result_key(&id));
            }
            for key in keys {
                self.kv
                    .purge(&key)
                    .await
                    .map_err(|e| nats_error(&format!("cannot remove {key}"), e))?;
            }
            self.index.apply(&id, None, summary.revision);
        }
        Ok(())
    }

    fn remember(&self, id: &str, work: &Work, revision: u64) {
        self.index
            .apply(id, Some(Summary::of(work, revision)), revision);
    }

    /// Claims `id` if it is still due. A body kept apart is read first, so that work claimed
    /// always comes back whole.
    async fn claim_one(
        &self,
        id: &str,
        body_bytes: u64,
        now_ms: i64,
        lease: &Lease,
    ) -> Result<Option<AsyncInvocation>, Error> {
        let apart = match body_bytes > INLINE_BODY {
            true => Some(self.body(id).await?),
            false => None,
        };
        let claimed = self
            .change(id, |work| {
                if !work.is_due(now_ms) {
                    return false;
                }
                work.invocation.state = AsyncState::Running;
                work.invocation.attempts += 1;
                work.lease = Some(Held {
                    node: lease.node.clone(),
                    until_ms: lease.until_ms,
                });
                true
            })
            .await?;
        Ok(claimed.map(|stored| {
            let body = stored.inline_body.or(apart).unwrap_or_default();
            with_body(stored.work, body)
        }))
    }

    /// The invocations `pick` chooses, whole, newest first at most `limit`.
    async fn listed(
        &self,
        pick: impl Fn(&Summary) -> bool,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error> {
        let mut chosen = self.index.select(pick);
        chosen.sort_by(|(a, x), (b, y)| (y.enqueued_at_ms, b).cmp(&(x.enqueued_at_ms, a)));
        chosen.truncate(limit as usize);
        let reads = chosen.iter().map(|(id, _)| self.whole(id));
        let mut listed = Vec::with_capacity(chosen.len());
        for read in join_all(reads).await {
            listed.extend(read?);
        }
        Ok(listed)
    }
}

/// Keeps `index` current from the bucket's watch, and says in `seen` the revision of each
/// `marker` it reads; started again when it breaks, until the queue is dropped.
async fn follow(kv: kv::Store, index: Arc<Index>, marker: String, seen: watch::Sender<u64>) {
    while !seen.is_closed() {
        match kv.watch_with_history("work.>").await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next().await {
                    let Ok(entry) = entry else { break };
                    take(&index, &marker, &seen, entry);
                }
            }
            Err(e) => tracing::warn!("the work queue's watch did not start: {e}"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn take(index: &Index, marker: &str, seen: &watch::Sender<u64>, entry: kv::Entry) {
    if entry.key == marker {
        seen.send_replace(entry.revision);
        return;
    }
    let Some(id) = entry.key.strip_prefix("work.") else {
        return;
    };
    let stored = match entry.operation {
        kv::Operation::Put => Stored::decode(&entry.value).ok(),
        kv::Operation::Delete | kv::Operation::Purge => None,
    };
    let summary = stored.map(|stored| Summary::of(&stored.work, entry.revision));
    index.apply(id, summary, entry.revision);
}

fn with_body(work: Work, body: Vec<u8>) -> AsyncInvocation {
    let mut invocation = work.invocation;
    invocation.request.body = body;
    invocation
}

/// A new invocation's state: queued, or dead with `errors` (given up where it came from).
fn new_work(new: &NewAsync, errors: Vec<AttemptError>) -> Work {
    let dead = !errors.is_empty();
    let finished = dead.then(|| errors.last().map_or(new.enqueued_at_ms, |e| e.at_ms));
    Work {
        invocation: AsyncInvocation {
            id: new.id.clone(),
            function: new.function.clone(),
            origin: new.origin.clone(),
            state: if dead {
                AsyncState::Dead
            } else {
                AsyncState::Queued
            },
            attempts: errors.len() as u32,
            max_retries: new.max_retries,
            enqueued_at_ms: new.enqueued_at_ms,
            next_attempt_at_ms: new.enqueued_at_ms,
            expires_at_ms: new.expires_at_ms,
            finished_at_ms: finished,
            callback_url: new.callback_url.clone(),
            callback_attempts: 0,
            request: new.request.clone(),
            errors,
            result: None,
        },
        body_bytes: new.request.body.len() as u64,
        lease: None,
        callback_pending: false,
        callback_next_at_ms: 0,
        result_apart: false,
    }
}

/// `result` (`size` bytes as JSON) cut to fit `max` bytes: its body shortened (at a
/// character, or at a whole base64 quantum) and marked truncated.
fn fit(mut result: AsyncResult, size: usize, max: usize) -> AsyncResult {
    if size <= max {
        return result;
    }
    // Each byte of the body is at least one byte of the JSON.
    let mut keep = result.body.len().saturating_sub(size - max);
    if result.body_base64 {
        keep -= keep % 4;
    }
    while !result.body.is_char_boundary(keep) {
        keep -= 1;
    }
    result.body.truncate(keep);
    result.truncated = true;
    result
}

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
    /// what it finished over an hour ago.
    async fn renew_leases(&self, lease: &Lease) -> Result<u64, Error> {
        self.sweep_finished(&lease.node).await?;
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

#[cfg(test)]
mod tests {
    use gust_store::conformance::{self, Fresh};

    use super::*;
    use crate::test_server::NatsServer;

    async fn fresh() -> Fresh<JetStreamWorkQueue> {
        let server = NatsServer::start();
        let client = server.connect().await;
        let max_payload = client.server_info().max_payload;
        let queue = JetStreamWorkQueue::open(&jetstream::new(client), "node-a", max_payload)
            .await
            .unwrap();
        Fresh {
            store: queue,
            keep: Box::new(server),
        }
    }

    fn new_async(id: &str, body: Vec<u8>) -> NewAsync {
        NewAsync {
            id: id.into(),
            function: "f".into(),
            origin: gust_core::Origin::ASYNC,
            request: gust_core::StoredRequest {
                method: "POST".into(),
                path_with_query: "/".into(),
                headers: Vec::new(),
                body,
            },
            callback_url: None,
            max_retries: 0,
            enqueued_at_ms: 1,
            expires_at_ms: i64::MAX,
            limits: gust_store::BacklogLimits::default(),
        }
    }

    #[tokio::test]
    async fn is_a_work_queue() {
        conformance::work_queue::run(fresh).await;
    }

    #[tokio::test]
    async fn bodies_kept_with_the_state_or_apart_come_back_whole() {
        let queue = fresh().await;
        let (small, large) = (vec![7; 10], vec![8; INLINE_BODY as usize + 1]);
        for (id, body) in [("small", &small), ("large", &large)] {
            queue
                .store
                .enqueue(new_async(id, body.clone()))
                .await
                .unwrap();
        }
        let lease = Lease {
            node: "node-a".into(),
            until_ms: 10_000,
        };
        let claimed = queue.store.claim_due(1, &lease, 10, 10).await.unwrap();
        let body_of = |id: &str| {
            let found = claimed.iter().find(|c| c.id == id);
            found.map(|c| c.request.body.clone())
        };
        assert_eq!(body_of("small"), Some(small));
        assert_eq!(body_of("large"), Some(large.clone()));
        let read = queue.store.async_invocation("large").await.unwrap();
        assert_eq!(read.unwrap().request.body, large);
    }

    #[tokio::test]
    async fn what_a_node_finished_over_an_hour_ago_is_removed_as_it_renews() {
        let queue = fresh().await;
        let lease = Lease {
            node: "node-a".into(),
            until_ms: i64::MAX,
        };
        for id in ["old", "recent"] {
            queue
                .store
                .enqueue(new_async(id, Vec::new()))
                .await
                .unwrap();
        }
        queue.store.claim_due(1, &lease, 10, 10).await.unwrap();
        for (id, ago_ms) in [("old", 2 * KEEP_FINISHED_MS), ("recent", 1_000)] {
            let done = AttemptUpdate {
                state: AsyncState::Succeeded,
                now_ms: now_ms() - ago_ms,
                next_attempt_at_ms: 0,
                error: None,
                result: None,
            };
            assert!(
                queue
                    .store
                    .finish_attempt(id, "node-a", done)
                    .await
                    .unwrap()
            );
        }
        queue.store.renew_leases(&lease).await.unwrap();
        assert!(queue.store.async_invocation("old").await.unwrap().is_none());
        assert!(
            queue
                .store
                .async_invocation("recent")
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_large_result_is_kept_apart_and_one_past_a_message_is_cut() {
        let queue = fresh().await;
        let lease = Lease {
            node: "node-a".into(),
            until_ms: i64::MAX,
        };
        for id in ["large", "huge"] {
            queue
                .store
                .enqueue(new_async(id, Vec::new()))
                .await
                .unwrap();
        }
        queue.store.claim_due(1, &lease, 10, 10).await.unwrap();
        for (id, bytes) in [("large", 10_000), ("huge", 2 << 20)] {
            let done = AttemptUpdate {
                state: AsyncState::Succeeded,
                now_ms: 2,
                next_attempt_at_ms: 0,
                error: None,
                result: Some(AsyncResult {
                    http_status: 200,
                    headers: Vec::new(),
                    body: "é".repeat(bytes / 2),
                    body_base64: false,
                    truncated: false,
                }),
            };
            assert!(
                queue
                    .store
                    .finish_attempt(id, "node-a", done)
                    .await
                    .unwrap()
            );
        }
        let result_of = async |id| {
            let read = queue.store.async_invocation(id).await.unwrap();
            read.unwrap().result.unwrap()
        };
        let large = result_of("large").await;
        assert_eq!((large.body.len(), large.truncated), (10_000, false));
        let huge = result_of("huge").await;
        assert!(huge.truncated && huge.body.len() < 1 << 20 && huge.body.len() > 900_000);
    }
}
