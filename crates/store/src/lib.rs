//! Where Gust keeps its state: the `Store` trait, its embedded SQLite implementation and the
//! content-addressed blob store for artifacts.

mod alias_sql;
mod aliases;
mod blobs;
mod bucket_sql;
mod buckets;
mod kv_sql;
mod packed_records;
mod packed_writer;
mod private_file;
mod queue_sql;
mod record_sql;
mod route_sql;
mod routes;
mod schema;
mod secret_sql;
mod secrets;
mod sqlite;
mod sqlite_kv;
mod token_sql;
mod tokens;
mod trigger_sql;
mod usage_sql;

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{
    AsyncInvocation, AsyncResult, AsyncState, AttemptError, Error, FunctionConfig, FunctionInfo,
    InvocationRecord, LogLine, Origin, Runtime, StoredRequest, Trigger, UsageQuery, UsageSums,
    Version,
};
use serde_json::{Map, Value};

pub use aliases::AliasStore;
pub use blobs::BlobStore;
pub use buckets::{BucketStore, ObjectQuery, Upload, UploadedPart};
pub use private_file::write_private;
pub use routes::RouteStore;
pub use secrets::{SealedSecret, SecretStore};
pub use sqlite::SqliteStore;
pub use tokens::{NewToken, TokenStore};

/// A stored value that does not read back as its type (a row written by a newer version, or
/// damaged by hand).
fn bad_column(column: usize, why: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        why.to_string().into(),
    )
}

/// A column that holds JSON, read back as `T`.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row,
    column: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| bad_column(column, e))
}

/// A column that holds one of an enum's names, read back as the enum.
fn named_column<T>(
    row: &rusqlite::Row,
    column: usize,
    kind: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let name: String = row.get(column)?;
    parse(&name).ok_or_else(|| bad_column(column, format!("unknown {kind} {name}")))
}

/// The result of deploying: the version that now serves, and whether it is new.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub version: Version,
    pub created: bool,
}

/// A new version to record; the artifact is already in the blob store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub function: String,
    pub runtime: Runtime,
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub config: FunctionConfig,
}

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

/// Durable platform state. Embedded (SQLite) by default; a cluster store implements the same.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), Error>;
    /// Records a version unless the latest version is identical (same artifact and config).
    async fn deploy(&self, new: NewVersion) -> Result<Deployed, Error>;
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>, Error>;
    async fn functions(&self) -> Result<Vec<FunctionInfo>, Error>;
    async fn versions(&self, name: &str) -> Result<Vec<Version>, Error>;
    /// Deletes the function, its versions, schedules, asynchronous invocations and logs; its
    /// invocation records stay, for usage.
    /// False if it did not exist.
    async fn delete_function(&self, name: &str) -> Result<bool, Error>;
    /// Whether any version of any function still runs this artifact.
    async fn artifact_in_use(&self, sha256: &str) -> Result<bool, Error>;
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
    /// Usage summed per group over records and hourly roll-ups, ordered by key.
    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error>;
    /// Stores an asynchronous invocation; once this returns, it will run.
    async fn enqueue(&self, new: NewAsync) -> Result<(), Error>;
    /// Marks up to `limit` due invocations running and returns them: oldest first, taking turns
    /// across functions, with at most `per_function` running for any one function.
    async fn claim_due(
        &self,
        now_ms: i64,
        limit: u32,
        per_function: u32,
    ) -> Result<Vec<AsyncInvocation>, Error>;
    async fn finish_attempt(&self, id: &str, update: AttemptUpdate) -> Result<(), Error>;
    /// Stores an event that a stream source delivered in place and gave up on: dead at once,
    /// with its attempts' errors, replayable like any dead letter.
    async fn bury(&self, dead: NewAsync, errors: Vec<AttemptError>) -> Result<(), Error>;
    /// After a restart: attempts that were running are due again.
    async fn requeue_running(&self) -> Result<u64, Error>;
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
    async fn due_callbacks(&self, now_ms: i64, limit: u32) -> Result<Vec<AsyncInvocation>, Error>;
    /// When the earliest retry waiting to run comes due (it may be past, held back by its
    /// function's share of the workers).
    async fn next_retry_at(&self) -> Result<Option<i64>, Error>;
    /// When the earliest callback waiting to be delivered comes due.
    async fn next_callback_at(&self) -> Result<Option<i64>, Error>;
    /// Records a callback try: done (or given up) with `None`, else to retry at `retry_at_ms`.
    async fn callback_tried(&self, id: &str, retry_at_ms: Option<i64>) -> Result<(), Error>;
    /// Log lines written by one invocation, oldest first.
    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error>;
    async fn add_trigger(&self, trigger: Trigger) -> Result<(), Error>;
    /// Triggers, of one function or all, of one kind or all, oldest first.
    async fn triggers(
        &self,
        function: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Trigger>, Error>;
    /// False if there was no such trigger.
    async fn delete_trigger(&self, id: &str) -> Result<bool, Error>;
    /// Replaces what a trigger's source keeps of its progress.
    async fn set_trigger_state(&self, id: &str, state: Map<String, Value>) -> Result<(), Error>;
    /// Folds invocation records started before `before_ms` into hourly usage and deletes
    /// them with the log lines and finished asynchronous results of that age (dead letters
    /// stay). Returns how many records were folded.
    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error>;
}
