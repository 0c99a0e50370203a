use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Origin;

/// Where an asynchronous invocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AsyncState {
    /// Waiting for its first attempt.
    Queued,
    /// An attempt is running.
    Running,
    /// An attempt failed; another is scheduled.
    Failed,
    Succeeded,
    /// Every attempt failed (or the event grew too old): in the function's dead-letter list.
    Dead,
    /// Cancelled before it ran.
    Cancelled,
}

string_enum!(AsyncState {
    Queued => "queued",
    Running => "running",
    Failed => "failed",
    Succeeded => "succeeded",
    Dead => "dead",
    Cancelled => "cancelled",
});

impl AsyncState {
    /// Finished for good: no attempt will follow.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AsyncState::Succeeded | AsyncState::Dead | AsyncState::Cancelled
        )
    }
}

/// The request an asynchronous invocation will deliver, as it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredRequest {
    pub method: String,
    pub path_with_query: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttemptError {
    pub attempt: u32,
    pub at_ms: i64,
    /// The status the function answered with, if it answered.
    pub http_status: Option<u16>,
    pub message: String,
}

/// What the function answered on the attempt that ended the invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AsyncResult {
    pub http_status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, as text when it is UTF-8, else base64 (see `body_base64`).
    pub body: String,
    pub body_base64: bool,
    /// The function answered more than the kept limit: `body` is its beginning.
    #[serde(default)]
    pub truncated: bool,
}

/// An invocation accepted for later: its request, its attempts and, once done, its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AsyncInvocation {
    pub id: String,
    pub function: String,
    #[serde(flatten)]
    pub origin: Origin,
    pub state: AsyncState,
    pub attempts: u32,
    pub max_retries: u32,
    pub enqueued_at_ms: i64,
    pub next_attempt_at_ms: i64,
    /// Past this time no new attempt starts: the invocation goes to the dead-letter list.
    pub expires_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub callback_url: Option<String>,
    /// Deliveries of the callback tried so far.
    pub callback_attempts: u32,
    pub request: StoredRequest,
    pub errors: Vec<AttemptError>,
    pub result: Option<AsyncResult>,
}
