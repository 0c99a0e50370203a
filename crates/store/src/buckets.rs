//! Buckets, objects, uploads in parts and S3 keys: a concern of its own. An object's row and
//! the events it raises are committed together, so a 200 for an upload means its events will
//! be delivered.

use async_trait::async_trait;
use gust_core::{BucketInfo, Error, ObjectInfo, S3Key, StoredPart};

use crate::NewAsync;

/// An upload in parts, from its creation to its completion or abort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub created_at_ms: i64,
}

/// One uploaded part: its number, its file and its MD5 in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: u32,
    pub stored: StoredPart,
    pub md5_hex: String,
}

/// A page of a bucket's keys in order.
#[derive(Debug, Clone, Default)]
pub struct ObjectQuery {
    pub prefix: String,
    /// Only keys after this one.
    pub after: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait BucketStore: Send + Sync + 'static {
    /// False when it already existed.
    async fn create_bucket(&self, bucket: BucketInfo) -> Result<bool, Error>;
    async fn buckets(&self) -> Result<Vec<BucketInfo>, Error>;
    async fn bucket(&self, name: &str) -> Result<Option<BucketInfo>, Error>;
    /// Removes a bucket: an empty one, or with `force` one with objects, whose files are
    /// returned for removal. None when there was no such bucket; a conflict when it is not
    /// empty and `force` is not set.
    async fn delete_bucket(&self, name: &str, force: bool) -> Result<Option<Vec<String>>, Error>;

    /// Puts an object (completing `upload` when it was uploaded in parts) and queues `events`,
    /// in one transaction. Returns the files of the object it replaced. A conflict if the
    /// bucket does not exist; throttled if an event would pass its function's backlog limits.
    async fn put_object(
        &self,
        object: ObjectInfo,
        upload: Option<String>,
        events: Vec<NewAsync>,
    ) -> Result<Vec<String>, Error>;
    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error>;
    /// Removes an object and queues `events` in one transaction; None when there was none,
    /// else the files to remove.
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: Vec<NewAsync>,
    ) -> Result<Option<Vec<String>>, Error>;
    async fn objects(&self, bucket: &str, query: ObjectQuery) -> Result<Vec<ObjectInfo>, Error>;

    async fn create_upload(&self, upload: Upload) -> Result<(), Error>;
    async fn upload(&self, id: &str) -> Result<Option<Upload>, Error>;
    /// Keeps a part; returns the file of the part it replaced, if any.
    async fn put_part(&self, upload: &str, part: UploadedPart) -> Result<Option<String>, Error>;
    async fn parts(&self, upload: &str) -> Result<Vec<UploadedPart>, Error>;
    /// Forgets an upload; returns the files of its parts.
    async fn abort_upload(&self, id: &str) -> Result<Vec<String>, Error>;
    /// Every file an object or an upload's part holds.
    async fn files_in_use(&self) -> Result<std::collections::HashSet<String>, Error>;

    async fn create_key(&self, key: S3Key) -> Result<(), Error>;
    async fn s3_keys(&self) -> Result<Vec<S3Key>, Error>;
    async fn s3_key(&self, access_key: &str) -> Result<Option<S3Key>, Error>;
    /// False when there was no such key.
    async fn delete_key(&self, access_key: &str) -> Result<bool, Error>;
}
