//! The work queue in a JetStream key-value bucket, shared by the nodes of a cluster: each
//! invocation's state under `work.ID` (entry.rs). Every step (a claim, a
//! lease renewed or expired, an attempt finished) is a compare-and-set on the state's
//! revision, so two nodes never both take one step; each node picks what to try from its view
//! of the bucket (index.rs), which the bucket's watch keeps current.

mod entry;
mod index;
mod work_queue;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use futures::future::join_all;
use gust_core::{AsyncInvocation, AsyncResult, AsyncState, Error, ErrorKind, now_ms};
use gust_store::Lease;
use tokio::sync::watch;

use crate::{is_a_key, key_safe, nats_error};
use entry::{
    Held, INLINE_BODY, INLINE_RESULT, Stored, Work, body_key, fit, result_key, with_body, work_key,
};
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

    /// An invocation's state and revision; none for an id no invocation has (one that
    /// cannot be a key included).
    async fn read(&self, id: &str) -> Result<Option<(Stored, u64)>, Error> {
        let key = work_key(id);
        if !is_a_key(&key) {
            return Ok(None);
        }
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

#[cfg(test)]
mod tests;
