//! What an object's change raises: the bucket endpoint asks, before it commits the change, for
//! the asynchronous invocations to store with it.

use async_trait::async_trait;
use gust_core::Error;
use gust_store::NewAsync;

/// One change of one object.
#[derive(Debug, Clone)]
pub struct Change {
    pub bucket: String,
    pub key: String,
    pub what: ChangeKind,
    pub at_ms: i64,
    /// Orders the changes of one key, as S3's `sequencer` does: later changes sort higher.
    pub sequencer: String,
    /// The function whose key made the change, when a function made it.
    pub writer: Option<String>,
    /// The W3C `traceparent` of the request that made it, so that its events join that trace.
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Put, copied or completed from parts (S3's event names `Put`, `Copy`,
    /// `CompleteMultipartUpload`).
    Created {
        how: &'static str,
        size: u64,
        etag: String,
    },
    Removed,
}

#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// The invocations that `change` raises, to be committed with it.
    async fn events(&self, change: &Change) -> Result<Vec<NewAsync>, Error>;
    /// Events were committed: the queue may take them.
    fn committed(&self);
}
