//! The work queue: asynchronous invocations and event deliveries waiting to run, running, or
//! done, with their retries, dead letters and callbacks.

use async_trait::async_trait;
use gust_core::{
    AsyncInvocation, AsyncResult, AsyncState, AttemptError, Error, Origin, StoredRequest,
};

/// An asynchronous invocation to keep until it has run.
#[derive(Debug, Clone)]
pub struct NewAsync {
    pub id: String,
    pub function: String,
    pub origin: Origin,
    pub request: StoredRequest,
    pub callback_url: Option<String>,
    pub max_retries: u32,
    pub enqueued_at_ms: i64,
    pub expires_at_ms: i64,
    /// Past these, the invocation is refused (429) and nothing is stored.
    pub limits: BacklogLimits,
}

/// How much may wait in the asynchronous queue: the invocations waiting to run (queued,
/// running, or failed awaiting a retry) and their payloads.
#[derive(Debug, Clone, Copy)]
pub struct BacklogLimits {
    pub per_function: u64,
    pub per_function_bytes: u64,
    pub node_bytes: u64,
}

impl Default for BacklogLimits {
    fn default() -> Self {
        BacklogLimits {
            per_function: 100_000,
            per_function_bytes: 512 << 20,
            node_bytes: 2 << 30,
        }
    }
}

/// What waits in the queue when a new invocation comes: its function's invocations and their
/// payloads' bytes, and the payloads' bytes over all functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backlog {
    pub count: u64,
    pub bytes: u64,
    pub all_bytes: u64,
}

impl Backlog {
    /// Why `new` may not join this backlog under its limits, if it may not.
    pub fn refuses(&self, new: &NewAsync) -> Option<String> {
        let Backlog {
            count,
            bytes,
            all_bytes,
        } = *self;
        let limits = &new.limits;
        let size = new.request.body.len() as u64;
        let mib = |bytes: u64| bytes >> 20;
        if count + 1 > limits.per_function {
            Some(format!(
                "`{}` already has {count} asynchronous invocations waiting, its limit \
                 (gust serve --max-queued-per-function); retry later",
                new.function
            ))
        } else if bytes + size > limits.per_function_bytes {
            Some(format!(
                "`{}` already has {} MiB of asynchronous payloads waiting, its limit is {} MiB \
                 (gust serve --max-queued-mb-per-function); retry later",
                new.function,
                mib(bytes),
                mib(limits.per_function_bytes)
            ))
        } else if all_bytes + size > limits.node_bytes {
            Some(format!(
                "this node already has {} MiB of asynchronous payloads waiting, its limit is {} \
                 MiB (gust serve --max-queued-mb); retry later",
                mib(all_bytes),
                mib(limits.node_bytes)
            ))
        } else {
            None
        }
    }
}

/// How an attempt ended, and what the invocation does next.
#[derive(Debug, Clone)]
pub struct AttemptUpdate {
    pub state: AsyncState,
    pub now_ms: i64,
    /// When the next attempt may start (for `Failed`).
    pub next_attempt_at_ms: i64,
    pub error: Option<AttemptError>,
    pub result: Option<AsyncResult>,
}

/// Who holds claimed work, and until when unless it renews: work whose lease runs out (its
/// node stopped) is due again for any node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub node: String,
    pub until_ms: i64,
}

#[async_trait]
pub trait WorkQueue: Send + Sync + 'static {
    /// Stores an asynchronous invocation; once this returns, it will run.
    async fn enqueue(&self, new: NewAsync) -> Result<(), Error>;
    /// Marks up to `limit` due invocations running under `lease` and returns them: oldest
    /// first, taking turns across functions, with at most `per_function` running for any one
    /// function on any node.
    async fn claim_due(
        &self,
        now_ms: i64,
        lease: &Lease,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error>;
    /// Extends every lease `lease.node` holds to `lease.until_ms`; returns how many it holds.
    async fn renew_leases(&self, lease: &Lease) -> Result<u64, Error>;
    /// Work of nodes other than `node` whose lease ran out before `now_ms` is due again at
    /// once (a node never expires its own: it knows what it runs); returns how much.
    async fn expire_leases(&self, now_ms: i64, node: &str) -> Result<u64, Error>;
    /// Work `node` holds is due again at once (the node restarted: none of it runs any more);
    /// returns how much.
    async fn release_leases(&self, node: &str) -> Result<u64, Error>;
    /// Records how `node`'s attempt ended. False, and nothing changes, when the attempt is
    /// no longer `node`'s: its lease ran out and another node took the work over.
    async fn finish_attempt(
        &self,
        id: &str,
        node: &str,
        update: AttemptUpdate,
    ) -> Result<bool, Error>;
    /// Stores an event that a stream source delivered in place and gave up on: dead at once,
    /// with its attempts' errors, replayable like any dead letter.
    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error>;
    async fn async_invocation(&self, id: &str) -> Result<Option<AsyncInvocation>, Error>;
    /// A function's asynchronous invocations, newest first, optionally in one state.
    async fn async_invocations(
        &self,
        function: &str,
        state: Option<AsyncState>,
        limit: u32,
    ) -> Result<Vec<AsyncInvocation>, Error>;
    /// Cancels a waiting invocation; returns its state afterwards (None if unknown).
    async fn cancel_async(&self, id: &str) -> Result<Option<AsyncState>, Error>;
    /// Requeues dead invocations of a function (all when `ids` is empty); returns how many.
    async fn replay_dead(
        &self,
        function: &str,
        ids: Vec<String>,
        expires_at_ms: i64,
    ) -> Result<u64, Error>;
    /// Invocations waiting to run (queued or waiting for a retry) and when the oldest of them
    /// was accepted.
    async fn queue_depth(&self) -> Result<(u64, Option<i64>), Error>;
    /// When the earliest retry waiting to run comes due (it may be past, held back by its
    /// function's share of the workers).
    async fn next_retry_at(&self) -> Result<Option<i64>, Error>;
    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error>;
    /// When the earliest callback waiting to be delivered comes due.
    async fn next_callback_at(&self) -> Result<Option<i64>, Error>;
    /// Records a callback try: done (or given up) with `None`, else to retry at `retry_at_ms`.
    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error>;
}
