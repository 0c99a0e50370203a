//! One asynchronous invocation as the work bucket keeps it: its state under `work.ID`
//! (rewritten at every step, watched by every node), as JSON followed by its request's body
//! when that is small; a larger body goes under `body.ID` (written once, read by the node
//! that runs it), and a large result under `result.ID`, so that what every node watches stays
//! small. Most invocations thus take one write to enqueue and one read to claim.

use gust_core::{AsyncInvocation, AsyncResult, AsyncState, AttemptError, Error};
use gust_store::NewAsync;
use serde::{Deserialize, Serialize};

/// The largest body kept with the state, and the largest result (as JSON).
pub const INLINE_BODY: u64 = 4096;
pub const INLINE_RESULT: usize = 4096;
/// Ends the JSON (which never holds a raw newline) where a body follows.
const BODY_FOLLOWS: u8 = b'\n';

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
    /// The result is under `result.ID`.
    #[serde(default)]
    pub result_apart: bool,
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

pub fn result_key(id: &str) -> String {
    format!("result.{id}")
}

/// A state as stored, with its body when that is kept with it.
pub struct Stored {
    pub work: Work,
    pub inline_body: Option<Vec<u8>>,
}

impl Stored {
    pub fn encode(&self) -> bytes::Bytes {
        let mut value = serde_json::to_vec(&self.work).expect("work serializes");
        if let Some(body) = &self.inline_body {
            value.push(BODY_FOLLOWS);
            value.extend_from_slice(body);
        }
        value.into()
    }

    pub fn decode(value: &[u8]) -> Result<Stored, Error> {
        let (json, inline_body) = match value.iter().position(|&b| b == BODY_FOLLOWS) {
            Some(end) => (&value[..end], Some(value[end + 1..].to_vec())),
            None => (value, None),
        };
        let work = serde_json::from_slice(json)
            .map_err(|e| Error::internal(format!("an invocation's state does not read: {e}")))?;
        Ok(Stored { work, inline_body })
    }
}

impl Work {
    /// Whether the body is kept with the state rather than under `body.ID`.
    pub fn has_inline_body(&self) -> bool {
        self.body_bytes <= INLINE_BODY
    }

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

pub fn with_body(work: Work, body: Vec<u8>) -> AsyncInvocation {
    let mut invocation = work.invocation;
    invocation.request.body = body;
    invocation
}

/// A new invocation's state: queued, or dead with `errors` (given up where it came from).
pub fn new_work(new: &NewAsync, errors: Vec<AttemptError>) -> Work {
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
pub fn fit(mut result: AsyncResult, size: usize, max: usize) -> AsyncResult {
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
