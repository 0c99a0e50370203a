//! Gust's side of the S3 API: s3s parses, authenticates and answers; this implements its `S3`
//! trait over Gust's storage (metadata in the store, bytes in object files).

mod buckets;
mod multipart;
mod objects;

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{BucketAccess, Error, ErrorKind, ObjectInfo, S3Key, now_ms};
use gust_store::BucketStore;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::files::{ObjectFiles, WriteError, Written};
use crate::keys::KeyRing;
use crate::notify::{Change, ChangeKind, Notifier};

/// Largest object, by default: S3's limit for one PUT.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Who makes a change: the function whose key signed it (when a function's did), and the trace
/// its request is part of.
#[derive(Clone)]
struct Writer {
    function: Option<String>,
    traceparent: Option<String>,
}

pub struct GustS3 {
    store: Arc<dyn BucketStore>,
    files: Arc<ObjectFiles>,
    keys: Arc<KeyRing>,
    notifier: Arc<dyn Notifier>,
    max_object_bytes: u64,
}

impl GustS3 {
    pub fn new(
        store: Arc<dyn BucketStore>,
        files: Arc<ObjectFiles>,
        keys: Arc<KeyRing>,
        notifier: Arc<dyn Notifier>,
        max_object_bytes: u64,
    ) -> GustS3 {
        GustS3 {
            store,
            files,
            keys,
            notifier,
            max_object_bytes,
        }
    }

    /// The key that signed the request.
    async fn signer<T>(&self, req: &S3Request<T>) -> S3Result<S3Key> {
        let Some(credentials) = &req.credentials else {
            return Err(s3_error!(
                AccessDenied,
                "sign the request with a key of this endpoint (see <data-dir>/s3-credentials)"
            ));
        };
        self.keys
            .get(&credentials.access_key)
            .await
            .map_err(internal)?
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
    }

    /// Who makes a change to `bucket` with this request, if its key may write there.
    async fn writer<T>(&self, req: &S3Request<T>, bucket: &str) -> S3Result<Writer> {
        let key = self.allow(req, Some(bucket), BucketAccess::Write).await?;
        let traceparent = req.headers.get("traceparent");
        Ok(Writer {
            function: key.function,
            traceparent: traceparent.and_then(|v| v.to_str().ok()).map(String::from),
        })
    }

    /// The key that signed the request, if it may use `bucket` (every bucket: None) that way.
    async fn allow<T>(
        &self,
        req: &S3Request<T>,
        bucket: Option<&str>,
        access: BucketAccess,
    ) -> S3Result<S3Key> {
        let key = self.signer(req).await?;
        if key.allows(bucket, access) {
            Ok(key)
        } else {
            let what = match access {
                BucketAccess::Read => "read",
                BucketAccess::Write => "write",
                BucketAccess::ReadWrite => "use",
            };
            let target = bucket.map_or("every bucket".to_string(), |b| format!("bucket `{b}`"));
            Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!("key {} may not {what} {target}", key.access_key),
            ))
        }
    }

    /// Writes a request's body (none: an empty object) to a new file, within the size limit.
    async fn write_body(&self, body: Option<StreamingBlob>) -> S3Result<Written> {
        match body {
            Some(body) => self.files.write(body, self.max_object_bytes).await,
            None => {
                let nothing = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
                self.files.write(nothing, 0).await
            }
        }
        .map_err(write_error)
    }

    /// The bucket, or NoSuchBucket.
    async fn existing_bucket(&self, bucket: &str) -> S3Result<()> {
        match self.store.bucket(bucket).await.map_err(internal)? {
            Some(_) => Ok(()),
            None => Err(no_such_bucket(bucket)),
        }
    }

    /// Commits a new object and the events it raises; removes the files it replaced. On
    /// failure the new object's own files go too, unless they are an upload's parts.
    async fn commit(
        &self,
        object: ObjectInfo,
        upload: Option<String>,
        how: &'static str,
        writer: Writer,
    ) -> S3Result<()> {
        let change = Change {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            what: ChangeKind::Created {
                how,
                size: object.size,
                etag: object.etag.clone(),
            },
            at_ms: object.modified_at_ms,
            sequencer: ulid::Ulid::new().to_string(),
            writer: writer.function,
            traceparent: writer.traceparent,
        };
        let events = self.notifier.events(&change).await.map_err(internal)?;
        let raised = !events.is_empty();
        let own_files: Vec<String> = object.parts.iter().map(|p| p.blob.clone()).collect();
        let from_upload = upload.is_some();
        match self.store.put_object(object, upload, events).await {
            Ok(replaced) => {
                self.files.remove(&replaced);
                if raised {
                    self.notifier.committed();
                }
                Ok(())
            }
            Err(e) => {
                if !from_upload {
                    self.files.remove(&own_files);
                }
                Err(store_error(e, &change.bucket))
            }
        }
    }

    /// Removes an object and commits the events it raises; false when there was none.
    async fn remove(&self, bucket: &str, key: &str, writer: Writer) -> S3Result<bool> {
        let change = Change {
            bucket: bucket.to_string(),
            key: key.to_string(),
            what: ChangeKind::Removed,
            at_ms: now_ms(),
            sequencer: ulid::Ulid::new().to_string(),
            writer: writer.function,
            traceparent: writer.traceparent,
        };
        let events = self.notifier.events(&change).await.map_err(internal)?;
        let raised = !events.is_empty();
        let removed = self
            .store
            .delete_object(bucket, key, events)
            .await
            .map_err(|e| store_error(e, bucket))?;
        match removed {
            Some(files) => {
                self.files.remove(&files);
                if raised {
                    self.notifier.committed();
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn internal(e: Error) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.message)
}

fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        format!("no bucket named `{bucket}`"),
    )
}

/// A store error as S3 names it.
fn store_error(e: Error, bucket: &str) -> S3Error {
    match e.kind {
        ErrorKind::NotFound => no_such_bucket(bucket),
        ErrorKind::Throttled => S3Error::with_message(S3ErrorCode::SlowDown, e.message),
        ErrorKind::Unavailable => S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.message),
        ErrorKind::Conflict => S3Error::with_message(S3ErrorCode::BucketNotEmpty, e.message),
        _ => internal(e),
    }
}

fn write_error(e: WriteError) -> S3Error {
    match e {
        WriteError::TooLarge(_) => {
            S3Error::with_message(S3ErrorCode::EntityTooLarge, e.to_string())
        }
        WriteError::Body(_) => S3Error::with_message(S3ErrorCode::IncompleteBody, e.to_string()),
        WriteError::Disk(_) => S3Error::with_message(S3ErrorCode::InternalError, e.to_string()),
    }
}

/// Checks a bucket name and a key as S3 would.
fn check_names(bucket: &str, key: Option<&str>) -> S3Result<()> {
    gust_core::validate_bucket_name(bucket)
        .map_err(|e| S3Error::with_message(S3ErrorCode::InvalidBucketName, e.message))?;
    if let Some(key) = key {
        gust_core::validate_object_key(key).map_err(|e| {
            let code = if key.len() > gust_core::MAX_KEY_BYTES {
                S3ErrorCode::KeyTooLongError
            } else {
                S3ErrorCode::InvalidArgument
            };
            S3Error::with_message(code, e.message)
        })?;
    }
    Ok(())
}

fn timestamp(ms: i64) -> Timestamp {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    Timestamp::from(at)
}

/// `x-amz-meta-*` pairs in a stable order.
fn sorted(metadata: Option<Metadata>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = metadata.unwrap_or_default().into_iter().collect();
    pairs.sort();
    pairs
}

fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_string())
}

#[async_trait]
impl S3 for GustS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.list_buckets_of(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.create(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.head(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.delete(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.put(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.get(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.head_of(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.delete_one(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.delete_many(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.copy(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.list(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.start_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.put_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.list_parts_of(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.complete(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort(req).await
    }
}
