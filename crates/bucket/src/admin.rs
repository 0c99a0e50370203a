//! Buckets and keys as the management API handles them (`/v1/buckets`, `/v1/s3-keys`).

use std::sync::Arc;

use gust_core::{BucketGrant, BucketInfo, Error, ErrorKind, S3Key, now_ms, validate_bucket_name};
use gust_store::BucketStore;

use crate::{KeyRing, ObjectFiles};

pub struct Buckets {
    store: Arc<dyn BucketStore>,
    files: Arc<ObjectFiles>,
    keys: Arc<KeyRing>,
}

impl Buckets {
    pub fn new(store: Arc<dyn BucketStore>, files: Arc<ObjectFiles>, keys: Arc<KeyRing>) -> Self {
        Buckets { store, files, keys }
    }

    pub async fn create(&self, name: &str) -> Result<BucketInfo, Error> {
        validate_bucket_name(name)?;
        let bucket = BucketInfo {
            name: name.to_string(),
            created_at_ms: now_ms(),
        };
        if !self.store.create_bucket(bucket.clone()).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("bucket `{name}` exists"),
            ));
        }
        Ok(bucket)
    }

    pub async fn list(&self) -> Result<Vec<BucketInfo>, Error> {
        self.store.buckets().await
    }

    /// Removes an empty bucket; with `force`, one with objects too (raising no events).
    pub async fn remove(&self, name: &str, force: bool) -> Result<(), Error> {
        match self.store.delete_bucket(name, force).await? {
            Some(files) => {
                self.files.remove(&files);
                Ok(())
            }
            None => Err(Error::not_found(format!("no bucket named `{name}`"))),
        }
    }

    /// A new key pair, limited to `grants` (none: a root key); its secret is in the answer
    /// only.
    pub async fn create_key(&self, grants: Vec<BucketGrant>) -> Result<S3Key, Error> {
        self.keys.create(grants, None).await
    }

    /// Every key, without its secret.
    pub async fn keys(&self) -> Result<Vec<S3Key>, Error> {
        self.keys.list().await
    }

    pub async fn remove_key(&self, access_key: &str) -> Result<(), Error> {
        if self.keys.remove(access_key).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no S3 key `{access_key}`")))
        }
    }
}
