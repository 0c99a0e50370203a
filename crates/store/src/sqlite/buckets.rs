//! Buckets' metadata in the embedded store (the SQL is in bucket_sql.rs).

use async_trait::async_trait;
use gust_core::{BucketInfo, Error, ErrorKind, ObjectInfo, S3Key};

use super::{SqliteStore, bucket_sql};
use crate::{BucketStore, NewAsync, ObjectQuery, Upload, UploadedPart};

#[async_trait]
impl BucketStore for SqliteStore {
    async fn create_bucket(&self, bucket: BucketInfo) -> Result<bool, Error> {
        self.with(move |conn| bucket_sql::create_bucket(conn, &bucket))
            .await
    }

    async fn buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        self.with(|conn| bucket_sql::buckets(conn)).await
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketInfo>, Error> {
        let name = name.to_string();
        self.with(move |conn| bucket_sql::bucket(conn, &name)).await
    }

    async fn delete_bucket(&self, name: &str, force: bool) -> Result<Option<Vec<String>>, Error> {
        let owned = name.to_string();
        match self
            .with(move |conn| bucket_sql::delete_bucket(conn, &owned, force))
            .await?
        {
            None => Ok(None),
            Some(Ok(files)) => Ok(Some(files)),
            Some(Err(())) => Err(Error::new(
                ErrorKind::Conflict,
                format!("bucket `{name}` is not empty: remove its objects first, or use --force"),
            )),
        }
    }

    async fn put_object(
        &self,
        object: ObjectInfo,
        upload: Option<String>,
        events: Vec<NewAsync>,
    ) -> Result<Vec<String>, Error> {
        let bucket = object.bucket.clone();
        let written = self
            .with(move |conn| bucket_sql::put_object(conn, &object, upload.as_deref(), &events))
            .await?;
        written_or_error(written, &bucket)
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.with(move |conn| bucket_sql::object(conn, &bucket, &key))
            .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: Vec<NewAsync>,
    ) -> Result<Option<Vec<String>>, Error> {
        let (owned, key) = (bucket.to_string(), key.to_string());
        let written = self
            .with(move |conn| bucket_sql::delete_object(conn, &owned, &key, &events))
            .await?;
        written_or_error(written, bucket)
    }

    async fn objects(&self, bucket: &str, query: ObjectQuery) -> Result<Vec<ObjectInfo>, Error> {
        let bucket = bucket.to_string();
        self.with(move |conn| bucket_sql::objects(conn, &bucket, &query))
            .await
    }

    async fn create_upload(&self, upload: Upload) -> Result<(), Error> {
        let bucket = upload.bucket.clone();
        if self
            .with(move |conn| bucket_sql::create_upload(conn, &upload))
            .await?
        {
            Ok(())
        } else {
            Err(no_bucket(&bucket))
        }
    }

    async fn upload(&self, id: &str) -> Result<Option<Upload>, Error> {
        let id = id.to_string();
        self.with(move |conn| bucket_sql::upload(conn, &id)).await
    }

    async fn put_part(&self, upload: &str, part: UploadedPart) -> Result<Option<String>, Error> {
        let id = upload.to_string();
        self.with(move |conn| bucket_sql::put_part(conn, &id, &part))
            .await?
            .ok_or_else(|| Error::not_found(format!("no upload with id `{upload}`")))
    }

    async fn parts(&self, upload: &str) -> Result<Vec<UploadedPart>, Error> {
        let upload = upload.to_string();
        self.with(move |conn| bucket_sql::parts(conn, &upload))
            .await
    }

    async fn abort_upload(&self, id: &str) -> Result<Vec<String>, Error> {
        let id = id.to_string();
        self.with(move |conn| bucket_sql::abort_upload(conn, &id))
            .await
    }

    async fn files_in_use(&self) -> Result<std::collections::HashSet<String>, Error> {
        self.with(bucket_sql::files_in_use).await
    }

    async fn create_key(&self, key: S3Key) -> Result<(), Error> {
        self.with(move |conn| bucket_sql::create_key(conn, &key))
            .await
    }

    async fn s3_keys(&self) -> Result<Vec<S3Key>, Error> {
        self.with(|conn| bucket_sql::keys(conn)).await
    }

    async fn s3_key(&self, access_key: &str) -> Result<Option<S3Key>, Error> {
        let access_key = access_key.to_string();
        self.with(move |conn| bucket_sql::key(conn, &access_key))
            .await
    }

    async fn delete_key(&self, access_key: &str) -> Result<bool, Error> {
        let access_key = access_key.to_string();
        self.with(move |conn| bucket_sql::delete_key(conn, &access_key))
            .await
    }
}

fn no_bucket(bucket: &str) -> Error {
    Error::not_found(format!("no bucket named `{bucket}`"))
}

fn written_or_error<T>(written: bucket_sql::Written<T>, bucket: &str) -> Result<T, Error> {
    match written {
        bucket_sql::Written::Done(value) => Ok(value),
        bucket_sql::Written::NoBucket => Err(no_bucket(bucket)),
        bucket_sql::Written::OverLimits(over) => Err(Error::new(ErrorKind::Throttled, over)),
    }
}
