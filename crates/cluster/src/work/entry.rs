//! One asynchronous invocation as the work bucket keeps it: its state under `work.ID` (small,
//! rewritten at every step, watched by every node) and its request's body under `body.ID`
//! (written once, read by the node that runs it).

use gust_core::{AsyncInvocation, AsyncState};
use serde::{Deserialize, Serialize};

/// The state of one invocation (its body apart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Work {
    pub invocation: AsyncInvocation,
    /// Bytes of its body, which count in the backlog's caps.
    pub body_bytes: u64,
    /// Who runs it, and until when unless it renews.
    pub lease: Option<Held>,
    /// A finished invocation with a callback to deliver, and when to try next.
    pub callback_pending: bool,
    pub callback_next_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub node: String,
    pub until_ms: i64,
}

pub fn work_key(id: &str) -> String {
    format!("work.{id}")
}

pub fn body_key(id: &str) -> String {
    format!("body.{id}")
}

impl Work {
    /// Waiting to run: queued, running, or failed awaiting a retry.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self.invocation.state,
            AsyncState::Queued | AsyncState::Running | AsyncState::Failed
        )
    }

    /// May start an attempt at `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        match self.invocation.state {
            AsyncState::Queued => true,
            AsyncState::Failed => self.invocation.next_attempt_at_ms <= now_ms,
            _ => false,
        }
    }

    /// Held by `node` and running.
    pub fn is_run_by(&self, node: &str) -> bool {
        self.invocation.state == AsyncState::Running
            && self.lease.as_ref().is_some_and(|held| held.node == node)
    }
}
