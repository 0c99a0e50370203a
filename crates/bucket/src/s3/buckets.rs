//! ListBuckets, CreateBucket, HeadBucket, DeleteBucket.

use gust_core::{BucketAccess, BucketInfo, now_ms};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::{GustS3, check_names, internal, no_such_bucket, store_error, timestamp};

impl GustS3 {
    /// Every bucket for a root key; a scoped key sees those it may use.
    pub(super) async fn list_buckets_of(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let key = self.signer(&req).await?;
        let buckets = self.store.buckets().await.map_err(internal)?;
        let visible = buckets
            .into_iter()
            .filter(|bucket| key.may_use(&bucket.name));
        let buckets = visible
            .map(|bucket| Bucket {
                name: Some(bucket.name),
                creation_date: Some(timestamp(bucket.created_at_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    pub(super) async fn create(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.allow(&req, None, BucketAccess::Write).await?;
        let name = &req.input.bucket;
        check_names(name, None)?;
        let bucket = BucketInfo {
            name: name.clone(),
            created_at_ms: now_ms(),
        };
        if !self.store.create_bucket(bucket).await.map_err(internal)? {
            return Err(S3Error::with_message(
                S3ErrorCode::BucketAlreadyOwnedByYou,
                format!("bucket `{name}` exists"),
            ));
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    pub(super) async fn head(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let bucket = &req.input.bucket;
        let key = self.signer(&req).await?;
        if !key.may_use(bucket) {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!("key {} may not use bucket `{bucket}`", key.access_key),
            ));
        }
        self.existing_bucket(bucket).await?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    /// Refused while the bucket holds objects (`gust bucket rm --force` empties it first).
    pub(super) async fn delete(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.allow(&req, None, BucketAccess::Write).await?;
        let bucket = &req.input.bucket;
        match self.store.delete_bucket(bucket, false).await {
            Ok(Some(files)) => {
                self.files.remove(&files);
                Ok(S3Response::new(DeleteBucketOutput::default()))
            }
            Ok(None) => Err(no_such_bucket(bucket)),
            Err(e) => Err(store_error(e, bucket)),
        }
    }
}
