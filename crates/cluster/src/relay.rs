//! Events that a node's own database queued in the transaction that raised them (an upload's
//! bucket events), moved into the cluster's queue, where any node runs them. A move creates the
//! invocation under its own id in the cluster's queue: a move done twice (the node stopped
//! between its two steps) finds it there the second time.

use std::sync::Arc;
use std::time::Duration;

use gust_core::{AsyncInvocation, AsyncState, Error, ErrorKind, now_ms};
use gust_store::{AttemptUpdate, BacklogLimits, Lease, NewAsync, WorkQueue};

/// How often the node's database is looked at.
const EVERY: Duration = Duration::from_millis(100);
/// How long a move may take before the node would find its own claim stale (it never is: the
/// node releases its leases when it starts).
const HOLD: Duration = Duration::from_secs(60);
const BATCH: u32 = 256;
/// How soon an event the cluster refused (its backlog is full, NATS is away) is tried again.
const RETRY_MS: i64 = 1_000;

/// Moves what `local` queues into `cluster`, for as long as the node runs.
pub fn relay(local: Arc<dyn WorkQueue>, cluster: Arc<dyn WorkQueue>, node: String) {
    tokio::spawn(async move {
        if let Err(e) = local.release_leases(&node).await {
            tracing::warn!("cannot release the moves the last run left: {e}");
        }
        loop {
            if let Err(e) = move_due(local.as_ref(), cluster.as_ref(), &node).await {
                tracing::warn!("cannot move this node's queued events to the cluster: {e}");
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}

async fn move_due(local: &dyn WorkQueue, cluster: &dyn WorkQueue, node: &str) -> Result<(), Error> {
    let now = now_ms();
    let lease = Lease {
        node: node.to_string(),
        until_ms: now + HOLD.as_millis() as i64,
    };
    for event in local.claim_due(now, &lease, BATCH, BATCH).await? {
        let id = event.id.clone();
        let moved = match cluster.enqueue(as_new(event)).await {
            Ok(()) => true,
            Err(e) if e.kind == ErrorKind::Conflict => true,
            Err(e) => {
                tracing::warn!(id, "an event waits to move to the cluster's queue: {e}");
                false
            }
        };
        let update = AttemptUpdate {
            state: if moved {
                AsyncState::Succeeded
            } else {
                AsyncState::Failed
            },
            now_ms: now,
            next_attempt_at_ms: now + RETRY_MS,
            error: None,
            result: None,
        };
        local.finish_attempt(&id, node, update).await?;
    }
    Ok(())
}

/// An event as the cluster's queue takes it: its caps were checked when the node took it.
fn as_new(event: AsyncInvocation) -> NewAsync {
    NewAsync {
        id: event.id,
        function: event.function,
        origin: event.origin,
        request: event.request,
        callback_url: event.callback_url,
        max_retries: event.max_retries,
        enqueued_at_ms: event.enqueued_at_ms,
        expires_at_ms: event.expires_at_ms,
        limits: BacklogLimits {
            per_function: u64::MAX,
            per_function_bytes: u64::MAX,
            node_bytes: u64::MAX,
        },
    }
}
