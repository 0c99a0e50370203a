//! Concurrency limits: per function (`max_concurrency`, with a bounded wait queue) and per
//! node. A request over a limit is refused with 429 before it runs, so it is never billed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gust_core::{Error, ErrorKind, FunctionConfig};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Leave to run one invocation; the slots are given back when it is dropped.
pub struct Permit {
    _function: OwnedSemaphorePermit,
    _node: OwnedSemaphorePermit,
}

/// How a caller waits for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Synchronous callers: within the function's queue size and timeout, else 429.
    Queue,
    /// The durable queue's workers: as long as it takes (the event is safe in the store).
    Wait,
}

/// The node's limit, over all functions.
pub struct NodeLimit {
    slots: Arc<Semaphore>,
    max: u32,
}

impl NodeLimit {
    pub fn new(max: u32) -> NodeLimit {
        NodeLimit {
            slots: Arc::new(Semaphore::new(max as usize)),
            max,
        }
    }

    /// Invocations holding a slot now.
    pub fn in_use(&self) -> u32 {
        self.max - self.slots.available_permits() as u32
    }
}

/// One function's limit.
pub struct Limiter {
    slots: Arc<Semaphore>,
    max: u32,
    waiting: AtomicU32,
    queue_size: u32,
    queue_timeout: Duration,
}

impl Limiter {
    pub fn new(config: &FunctionConfig) -> Limiter {
        Limiter {
            slots: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            max: config.max_concurrency,
            waiting: AtomicU32::new(0),
            queue_size: config.queue_size,
            queue_timeout: Duration::from_millis(config.queue_timeout_ms),
        }
    }

    /// Invocations running now.
    pub fn in_use(&self) -> u32 {
        self.max - self.slots.available_permits() as u32
    }

    pub async fn admit(&self, node: &NodeLimit, how: Admission) -> Result<Permit, Error> {
        let function = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) if how == Admission::Wait => self.wait().await,
            Err(_) => self.queue().await?,
        };
        let slots = &node.slots;
        let node = match (slots.clone().try_acquire_owned(), how) {
            (Ok(permit), _) => permit,
            (Err(_), Admission::Wait) => slots.clone().acquire_owned().await.map_err(closed)?,
            (Err(_), Admission::Queue) => {
                return Err(throttled(format!(
                    "this node is running its limit of {} invocations; retry shortly",
                    node.max
                )));
            }
        };
        Ok(Permit {
            _function: function,
            _node: node,
        })
    }

    async fn wait(&self) -> OwnedSemaphorePermit {
        match self.slots.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("a limiter's semaphore is never closed"),
        }
    }

    async fn queue(&self) -> Result<OwnedSemaphorePermit, Error> {
        let _waiting = Waiting::join(&self.waiting, self.queue_size).ok_or_else(|| {
            throttled(format!(
                "the function is running its limit of {} requests and {} more are waiting; \
                 retry shortly",
                self.max, self.queue_size
            ))
        })?;
        tokio::time::timeout(self.queue_timeout, self.wait())
            .await
            .map_err(|_| {
                throttled(format!(
                    "no slot freed up within {} ms (the function runs at most {} requests at \
                     once); retry shortly",
                    self.queue_timeout.as_millis(),
                    self.max
                ))
            })
    }
}

/// A place in a function's wait queue, left when dropped (also when the caller goes away).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn join(counter: &'a AtomicU32, queue_size: u32) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < queue_size).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting(counter))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn throttled(message: String) -> Error {
    Error::new(ErrorKind::Throttled, message)
}

fn closed(_: tokio::sync::AcquireError) -> Error {
    Error::internal("the node's limiter was closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(max: u32, queue_size: u32, queue_timeout_ms: u64) -> Limiter {
        Limiter::new(&FunctionConfig {
            max_concurrency: max,
            queue_size,
            queue_timeout_ms,
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn over_the_limit_waits_then_is_refused() {
        let node = NodeLimit::new(100);
        let limiter = limited(1, 1, 50);
        let first = limiter.admit(&node, Admission::Queue).await.unwrap();
        assert_eq!(limiter.in_use(), 1);
        // Waits its 50 ms in the queue, then gives up.
        let err = limiter.admit(&node, Admission::Queue).await.err().unwrap();
        assert_eq!(err.kind, ErrorKind::Throttled);
        assert!(err.message.contains("within 50 ms"), "{}", err.message);
        drop(first);
        assert!(limiter.admit(&node, Admission::Queue).await.is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let node = NodeLimit::new(100);
        let limiter = Arc::new(limited(1, 0, 10_000));
        let _running = limiter.admit(&node, Admission::Queue).await.unwrap();
        let err = limiter.admit(&node, Admission::Queue).await.err().unwrap();
        assert!(
            err.message.contains("0 more are waiting"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn the_node_limit_applies_across_functions() {
        let node = NodeLimit::new(1);
        let (a, b) = (limited(10, 10, 10), limited(10, 10, 10));
        let _held = a.admit(&node, Admission::Queue).await.unwrap();
        let err = b.admit(&node, Admission::Queue).await.err().unwrap();
        assert_eq!(err.kind, ErrorKind::Throttled);
    }
}
