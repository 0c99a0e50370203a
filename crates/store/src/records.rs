//! Records: what ran, what it logged, and what it cost.

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{Error, InvocationRecord, LogLine, UsageQuery, UsageSums};

#[async_trait]
pub trait Records: Send + Sync + 'static {
    /// Stores finished invocations' records. They are shared, not handed over, so that the
    /// caller frees them after the write: a store's own thread would free them into heaps
    /// it never allocates from, taking their lock each time.
    async fn record_invocations(&self, records: Arc<Vec<InvocationRecord>>) -> Result<(), Error>;
    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error>;
    /// The most recent invocations of a function, newest first.
    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error>;
    /// Each function invoked since `since_ms` (a start time), with the start of its latest
    /// invocation, latest first.
    async fn last_invoked(&self, since_ms: i64) -> Result<Vec<(String, i64)>, Error>;
    /// The most recent log lines of a function, oldest first.
    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error>;
    /// Log lines written by one invocation, oldest first.
    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error>;
    /// Usage summed per group over records and hourly roll-ups, the groups in the order
    /// they were first used.
    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error>;
    /// Folds invocation records started before `before_ms` into hourly usage and deletes
    /// them with the log lines and finished asynchronous results of that age (dead letters
    /// stay). Returns how many records were folded.
    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error>;
}
