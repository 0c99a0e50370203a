use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{InvocationId, Origin};

/// How an invocation ended, as the platform saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvocationStatus {
    Ok,
    Error,
    Timeout,
    MemoryExceeded,
    /// The function's process died, or never got ready, before answering.
    Crashed,
}

string_enum!(InvocationStatus {
    Ok => "ok",
    Error => "error",
    Timeout => "timeout",
    MemoryExceeded => "memory_exceeded",
    Crashed => "crashed",
});
string_enum!(LogStream { Stdout => "stdout", Stderr => "stderr" });

/// The record of one invocation: what ran, how it ended, and what it is billed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvocationRecord {
    /// ULID, also sent as `x-gust-invocation-id`.
    #[schema(value_type = String)]
    pub id: InvocationId,
    /// Shared by the records of a function: a record is made on every request.
    #[schema(value_type = String)]
    pub function: Arc<str>,
    pub version: u32,
    /// Shown as `trigger` (its kind) and `source`.
    #[serde(flatten)]
    pub origin: Origin,
    /// 1, or the retry number + 1 of an asynchronous invocation (each attempt is billed).
    pub attempt: u32,
    pub started_at_ms: i64,
    pub duration_us: u64,
    /// Duration rounded up to the next millisecond.
    pub billed_ms: u64,
    pub memory_mb: u32,
    /// Billed seconds × configured memory in GiB.
    pub gb_seconds: f64,
    pub status: InvocationStatus,
    /// The first use of a loaded version.
    pub cold: bool,
    /// Status code of the response the caller got.
    pub http_status: u16,
    pub error: Option<String>,
}

impl InvocationRecord {
    pub fn gb_seconds_for(billed_ms: u64, memory_mb: u32) -> f64 {
        (billed_ms * memory_mb as u64) as f64 / 1024.0 / 1000.0
    }

    /// Billing rounds every started millisecond up; a timeout is billed to its limit.
    pub fn billed_ms_for(duration_us: u64, status: InvocationStatus, timeout_ms: u64) -> u64 {
        match status {
            InvocationStatus::Timeout => timeout_ms,
            _ => duration_us.div_ceil(1000).max(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line a function wrote, tied to the invocation that wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    pub invocation_id: String,
    pub function: String,
    pub ts_ms: i64,
    pub stream: LogStream,
    pub line: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        let billed = |us| InvocationRecord::billed_ms_for(us, InvocationStatus::Ok, 30_000);
        assert_eq!(billed(1), 1);
        assert_eq!(billed(1000), 1);
        assert_eq!(billed(1001), 2);
        assert_eq!(billed(0), 1);
        let error = InvocationRecord::billed_ms_for(2500, InvocationStatus::Error, 30_000);
        assert_eq!(error, 3);
    }

    #[test]
    fn a_timeout_is_billed_to_the_limit() {
        let billed = InvocationRecord::billed_ms_for(1_013_000, InvocationStatus::Timeout, 1000);
        assert_eq!(billed, 1000);
    }

    #[test]
    fn status_round_trips_as_text() {
        for s in [
            InvocationStatus::Ok,
            InvocationStatus::Error,
            InvocationStatus::Timeout,
            InvocationStatus::MemoryExceeded,
            InvocationStatus::Crashed,
        ] {
            assert_eq!(InvocationStatus::parse(s.as_str()), Some(s));
        }
    }
}
