//! The node's hold on the work it claimed: a lease it renews while it lives. Work whose
//! lease ran out, because its node died, is due again here; work this node held before it
//! restarted is due again as soon as it starts.

use std::sync::Arc;
use std::time::Duration;

use gust_core::{Error, now_ms};
use gust_store::Lease;

use super::AsyncQueue;

/// How long claimed work stays this node's without a renewal: how soon another node takes
/// over the work of one that died.
pub const LEASE: Duration = Duration::from_secs(4);
/// How often the node renews its leases and looks for others' that ran out.
const RENEW_EVERY: Duration = Duration::from_secs(1);

impl AsyncQueue {
    /// The lease work claimed now is held under.
    pub(super) fn lease(&self) -> Lease {
        Lease {
            node: self.options.node.clone(),
            until_ms: now_ms() + LEASE.as_millis() as i64,
        }
    }

    /// Work this node held when it stopped runs again.
    pub(super) async fn release_held(&self) -> Result<(), Error> {
        let released = self.store.release_leases(&self.options.node).await?;
        if released > 0 {
            tracing::info!(
                "{released} asynchronous invocations were running at the last stop: running them again"
            );
        }
        Ok(())
    }

    pub(super) async fn keep_leases(self: Arc<Self>) {
        let mut tick = tokio::time::interval(RENEW_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = self.store.renew_leases(&self.lease()).await {
                tracing::warn!("cannot renew the leases of running invocations: {e}");
            }
            match self.store.expire_leases(now_ms(), &self.options.node).await {
                Ok(0) => {}
                Ok(expired) => {
                    tracing::info!(
                        "{expired} asynchronous invocations of a node that stopped renewing its leases are due again"
                    );
                    self.wake();
                }
                Err(e) => tracing::warn!("cannot look for leases that ran out: {e}"),
            }
        }
    }
}
