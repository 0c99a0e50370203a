//! Asynchronous invocations: accepted durably, run by workers within each function's share,
//! retried with backoff, dead-lettered, and reported to callbacks.

mod attempt;
mod backoff;
mod callback;
mod callback_client;
mod destinations;
mod in_place;
mod leases;
mod result_body;
mod signature;
mod trace_context;

use std::sync::Arc;
use std::time::Duration;

use gust_core::{AsyncInvocation, AsyncState, Error, Origin, StoredRequest, now_ms};
use gust_store::{BacklogLimits, NewAsync, WorkQueue};
use tokio::sync::{Notify, Semaphore};

use crate::Dispatcher;
pub use callback_client::literal_refusal;
pub use destinations::{Message, Outlet, Outlets};
pub use in_place::Delivered;
pub use signature::CallbackSigner;

/// How the queue runs.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The name the node claims work under; it must stay the same across restarts.
    pub node: String,
    /// Attempts running at once on this node; 0 makes a node that only accepts invocations.
    pub workers: u32,
    /// Attempts of one function running at once, so that one backlog cannot starve the rest.
    pub per_function: u32,
    /// First retry delay; each retry doubles it (with jitter).
    pub base_delay: Duration,
    /// Callbacks may go to loopback, private and link-local addresses.
    pub allow_private_callbacks: bool,
    /// How much may wait to run; past it, enqueueing answers 429.
    pub backlog: BacklogLimits,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            node: "gust".into(),
            workers: 64,
            per_function: 16,
            base_delay: Duration::from_secs(1),
            allow_private_callbacks: false,
            backlog: BacklogLimits::default(),
        }
    }
}

/// Longest sleep of a queue with nothing due. What makes work due wakes it sooner: an enqueue,
/// a replay or a finished attempt notifies it, and it sleeps only until the next retry (or
/// callback) comes due. This is the safety net under those.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// The sleep after the store failed to answer, before asking again.
const ERROR_WAIT: Duration = Duration::from_millis(100);
/// How long a busy queue waits for more attempts to finish before claiming again.
const BATCH_WAIT: Duration = Duration::from_millis(2);

pub struct AsyncQueue {
    dispatcher: Arc<Dispatcher>,
    store: Arc<dyn WorkQueue>,
    options: QueueOptions,
    work_ready: Notify,
    callbacks_ready: Notify,
    http: reqwest::Client,
    signer: CallbackSigner,
    outlets: Outlets,
}

impl AsyncQueue {
    /// Requeues what this node was running when it stopped, then starts the workers and the
    /// task that keeps their leases.
    pub async fn start(
        dispatcher: Arc<Dispatcher>,
        store: Arc<dyn WorkQueue>,
        options: QueueOptions,
        signer: CallbackSigner,
        outlets: Outlets,
    ) -> Result<Arc<Self>, Error> {
        let queue = Arc::new(AsyncQueue {
            dispatcher,
            store,
            work_ready: Notify::new(),
            callbacks_ready: Notify::new(),
            http: callback_client::callback_client(options.allow_private_callbacks),
            options,
            signer,
            outlets,
        });
        queue.release_held().await?;
        tokio::spawn(queue.clone().keep_leases());
        tokio::spawn(queue.clone().run_workers());
        tokio::spawn(queue.clone().deliver_callbacks());
        Ok(queue)
    }

    /// Stores an invocation for `function` (which must exist) and wakes a worker. Returns its
    /// id once the store has committed it.
    pub async fn enqueue(
        &self,
        function: &str,
        origin: Origin,
        request: StoredRequest,
        callback_url: Option<String>,
    ) -> Result<String, Error> {
        let new = self
            .prepare(function, origin, request, callback_url)
            .await?;
        let id = new.id.clone();
        self.store.enqueue(new).await?;
        self.wake();
        Ok(id)
    }

    /// An invocation for `function` (which must exist), ready to be stored: by `enqueue`, or
    /// by a source in a transaction of its own (a bucket, with the object that raised it).
    pub async fn prepare(
        &self,
        function: &str,
        origin: Origin,
        request: StoredRequest,
        callback_url: Option<String>,
    ) -> Result<NewAsync, Error> {
        // The loaded version (kept in memory) has the settings: no store read per enqueue.
        let config = self.dispatcher.resolve(function).await?.config.clone();
        let now = now_ms();
        let mut new = NewAsync {
            id: ulid::Ulid::new().to_string(),
            function: function.to_string(),
            origin,
            request,
            callback_url,
            max_retries: config.max_retries,
            enqueued_at_ms: now,
            expires_at_ms: now + config.max_event_age_ms as i64,
            limits: self.options.backlog,
        };
        self.trace_enqueue(&mut new);
        Ok(new)
    }

    /// New invocations were stored: a worker takes them.
    pub fn wake(&self) {
        self.work_ready.notify_one();
    }

    /// The secret that verifies `function`'s callback signatures.
    pub fn callback_secret(&self, function: &str) -> String {
        self.signer.secret_for(function)
    }

    /// Whether callbacks may go to internal addresses on this node.
    pub fn allows_private_callbacks(&self) -> bool {
        self.options.allow_private_callbacks
    }

    /// Puts dead invocations back in the queue (all of the function's when `ids` is empty).
    /// An id that is not one of the function's dead letters is refused (404), and then none
    /// is replayed.
    pub async fn replay(&self, function: &str, ids: Vec<String>) -> Result<u64, Error> {
        let info = self.dispatcher.function(function).await?;
        let mut unknown = Vec::new();
        for id in &ids {
            let found = self.store.async_invocation(id).await?;
            let dead = found.is_some_and(|i| i.function == function && i.state == AsyncState::Dead);
            if !dead {
                unknown.push(id.as_str());
            }
        }
        if !unknown.is_empty() {
            return Err(Error::not_found(format!(
                "not a dead letter of `{function}`: {}; `gust dlq {function}` lists them",
                unknown.join(", ")
            )));
        }
        let expires = now_ms() + info.latest.config.max_event_age_ms as i64;
        let replayed = self.store.replay_dead(function, ids, expires).await?;
        self.work_ready.notify_one();
        Ok(replayed)
    }

    async fn run_workers(self: Arc<Self>) {
        let workers = self.options.workers;
        if workers == 0 {
            tracing::info!("no asynchronous workers on this node: it only accepts invocations");
            return;
        }
        let slots = Arc::new(Semaphore::new(workers as usize));
        loop {
            // With no free worker, a finished attempt is what wakes the queue.
            let mut wait = IDLE_WAIT;
            let free = slots.available_permits() as u32;
            if free > 0 {
                match self
                    .store
                    .claim_due(now_ms(), &self.lease(), free, self.options.per_function)
                    .await
                {
                    Ok(claimed) if !claimed.is_empty() => {
                        for invocation in claimed {
                            self.spawn_attempt(&slots, invocation);
                        }
                        continue;
                    }
                    Ok(_) => wait = until_due(self.store.next_retry_at().await),
                    Err(e) => {
                        tracing::error!("cannot claim asynchronous invocations: {e}");
                        wait = ERROR_WAIT;
                    }
                }
            }
            tokio::select! {
                () = self.work_ready.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            // Under load, let a few more attempts finish so that one claim serves them all:
            // a claim per finished attempt would cost a query per invocation.
            let free = slots.available_permits() as u32;
            if free < workers / 4 {
                tokio::time::sleep(BATCH_WAIT).await;
            }
        }
    }

    fn spawn_attempt(self: &Arc<Self>, slots: &Arc<Semaphore>, invocation: AsyncInvocation) {
        let slot = slots
            .clone()
            .try_acquire_owned()
            .expect("claims never exceed the free slots");
        let queue = self.clone();
        tokio::spawn(async move {
            queue.attempt(invocation).await;
            drop(slot);
            queue.work_ready.notify_one();
        });
    }
}

/// How long a queue with nothing to take sleeps, given when the next waiting item comes due.
/// One already due is held back by its function's share of the workers: the attempt that
/// frees it wakes the queue.
fn until_due(next_due_ms: Result<Option<i64>, Error>) -> Duration {
    match next_due_ms {
        Ok(Some(at)) => match u64::try_from(at - now_ms()) {
            Ok(ms) if ms > 0 => Duration::from_millis(ms).min(IDLE_WAIT),
            _ => IDLE_WAIT,
        },
        Ok(None) => IDLE_WAIT,
        Err(e) => {
            tracing::error!("cannot read when queued work comes due: {e}");
            ERROR_WAIT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_queue_sleeps_until_the_next_item_is_due() {
        let slept = until_due(Ok(Some(now_ms() + 300)));
        assert!(slept > Duration::ZERO && slept <= Duration::from_millis(300));
        assert_eq!(until_due(Ok(Some(now_ms() + 60_000))), IDLE_WAIT);
        assert_eq!(until_due(Ok(None)), IDLE_WAIT);
        assert_eq!(
            until_due(Ok(Some(now_ms() - 5))),
            IDLE_WAIT,
            "held back: woken"
        );
        assert_eq!(until_due(Err(Error::internal("down"))), ERROR_WAIT);
    }
}
