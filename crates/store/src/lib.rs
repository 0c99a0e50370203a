//! Where Gust keeps its state: the `Store` trait, its embedded SQLite implementation and the
//! content-addressed blob store for artifacts.

mod blobs;
mod schema;
mod sqlite;
mod usage_sql;

use async_trait::async_trait;
use gust_core::{
    Error, FunctionConfig, FunctionInfo, InvocationRecord, LogLine, Runtime, UsageQuery, UsageSums,
    Version,
};

pub use blobs::BlobStore;
pub use sqlite::SqliteStore;

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
    /// Deletes the function, its versions and logs; its invocation records stay, for usage.
    /// False if it did not exist.
    async fn delete_function(&self, name: &str) -> Result<bool, Error>;
    async fn record_invocations(&self, records: Vec<InvocationRecord>) -> Result<(), Error>;
    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error>;
    /// The most recent invocations of a function, newest first.
    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error>;
    /// The most recent log lines of a function, oldest first.
    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error>;
    /// Usage summed per group over records and hourly roll-ups, ordered by key.
    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error>;
    /// Folds invocation records started before `before_ms` into hourly usage and deletes
    /// them with the log lines of that age. Returns how many records were folded.
    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error>;
}
