//! PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject, ListObjectsV2.

use std::collections::HashMap;

use gust_core::{BucketAccess, ObjectInfo, now_ms};
use gust_store::ObjectQuery;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::{GustS3, check_names, etag, internal, sorted, timestamp, write_error};

/// Most keys a listing answers at once, as S3 has it.
const MAX_KEYS: i32 = 1000;

impl GustS3 {
    pub(super) async fn put(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let writer = self.writer(&req, bucket).await?;
        check_names(bucket, Some(key))?;
        self.existing_bucket(bucket).await?;
        let input = req.input;
        if input
            .content_length
            .is_some_and(|len| len as u64 > self.max_object_bytes)
        {
            return Err(too_large(self.max_object_bytes));
        }
        let written = self.write_body(input.body).await?;
        let md5 = hex::encode(written.md5);
        let object = ObjectInfo {
            bucket: input.bucket,
            key: input.key,
            size: written.part.size,
            etag: md5.clone(),
            content_type: input.content_type,
            metadata: sorted(input.metadata),
            parts: vec![written.part],
            modified_at_ms: now_ms(),
        };
        self.commit(object, None, "Put", writer).await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&md5)),
            ..Default::default()
        }))
    }

    /// An object, or NoSuchKey (NoSuchBucket when its bucket is missing).
    async fn existing_object(&self, bucket: &str, key: &str) -> S3Result<ObjectInfo> {
        if let Some(object) = self.store.object(bucket, key).await.map_err(internal)? {
            return Ok(object);
        }
        self.existing_bucket(bucket).await?;
        Err(S3Error::with_message(
            S3ErrorCode::NoSuchKey,
            format!("no object `{key}` in bucket `{bucket}`"),
        ))
    }

    pub(super) async fn get(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Read).await?;
        let object = self.existing_object(bucket, key).await?;
        let (range, content_range) = match &req.input.range {
            None => (0..object.size, None),
            Some(asked) => {
                let range = asked
                    .check(object.size)
                    .map_err(|_| s3_error!(InvalidRange, "the range is outside the object"))?;
                let shown = format!("bytes {}-{}/{}", range.start, range.end - 1, object.size);
                (range, Some(shown))
            }
        };
        let length = range.end - range.start;
        let body = self
            .files
            .read(object.parts.clone(), range.start, range.end);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some(length as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            content_type: object.content_type.clone(),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.modified_at_ms)),
            metadata: metadata_map(&object),
            ..Default::default()
        }))
    }

    pub(super) async fn head_of(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Read).await?;
        let object = self.existing_object(bucket, key).await?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(object.size as i64),
            accept_ranges: Some("bytes".into()),
            content_type: object.content_type.clone(),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.modified_at_ms)),
            metadata: metadata_map(&object),
            ..Default::default()
        }))
    }

    /// Removing a missing key succeeds, as in S3.
    pub(super) async fn delete_one(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let writer = self.writer(&req, bucket).await?;
        if !self.remove(bucket, key, writer).await? {
            self.existing_bucket(bucket).await?;
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(super) async fn delete_many(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = &req.input.bucket;
        let writer = self.writer(&req, bucket).await?;
        self.existing_bucket(bucket).await?;
        let quiet = req.input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in &req.input.delete.objects {
            match self.remove(bucket, &object.key, writer.clone()).await {
                Ok(_) if quiet => {}
                Ok(_) => deleted.push(DeletedObject {
                    key: Some(object.key.clone()),
                    ..Default::default()
                }),
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(object.key.clone()),
                    message: e.message().map(str::to_string),
                    ..Default::default()
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    /// Copies the bytes into files of the new object's own: objects never share files, so
    /// removing one never touches another.
    pub(super) async fn copy(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let CopySource::Bucket {
            bucket: from_bucket,
            key: from_key,
            ..
        } = &req.input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "copy from a bucket/key source"));
        };
        self.allow(&req, Some(from_bucket), BucketAccess::Read)
            .await?;
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let writer = self.writer(&req, bucket).await?;
        check_names(bucket, Some(key))?;
        self.existing_bucket(bucket).await?;
        let source = self.existing_object(from_bucket, from_key).await?;
        let bytes = self.files.read(source.parts.clone(), 0, source.size);
        let written = self
            .files
            .write(Box::pin(bytes), self.max_object_bytes)
            .await
            .map_err(write_error)?;
        let replace = req
            .input
            .metadata_directive
            .as_ref()
            .is_some_and(|directive| directive.as_str() == MetadataDirective::REPLACE);
        let input = req.input;
        let (content_type, metadata) = if replace {
            (input.content_type, sorted(input.metadata))
        } else {
            (source.content_type, source.metadata)
        };
        let md5 = hex::encode(written.md5);
        let object = ObjectInfo {
            bucket: input.bucket,
            key: input.key,
            size: written.part.size,
            etag: md5.clone(),
            content_type,
            metadata,
            parts: vec![written.part],
            modified_at_ms: now_ms(),
        };
        let modified = object.modified_at_ms;
        self.commit(object, None, "Copy", writer).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&md5)),
                last_modified: Some(timestamp(modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    /// Keys in order under a prefix; with a delimiter, the keys that go on past it are rolled
    /// into one common prefix each. The continuation token is the last key or prefix answered.
    pub(super) async fn list(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket = &req.input.bucket;
        self.allow(&req, Some(bucket), BucketAccess::Read).await?;
        self.existing_bucket(bucket).await?;
        let input = &req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max_keys = input.max_keys.unwrap_or(MAX_KEYS).clamp(0, MAX_KEYS) as usize;
        let mut after = match &input.continuation_token {
            Some(token) => Some(
                String::from_utf8(hex::decode(token).map_err(|_| bad_token())?)
                    .map_err(|_| bad_token())?,
            ),
            None => input.start_after.clone(),
        };
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        'pages: loop {
            let query = ObjectQuery {
                prefix: prefix.clone(),
                after: after.clone(),
                limit: MAX_KEYS as u32,
            };
            let page = self.store.objects(bucket, query).await.map_err(internal)?;
            if page.is_empty() {
                break;
            }
            for object in page {
                if contents.len() + prefixes.len() == max_keys {
                    truncated = true;
                    break 'pages;
                }
                let rolled = delimiter.as_deref().and_then(|d| {
                    let rest = &object.key[prefix.len()..];
                    rest.find(d)
                        .map(|at| object.key[..prefix.len() + at + d.len()].to_string())
                });
                match rolled {
                    Some(common) => {
                        // Every key under this common prefix sorts before this bound.
                        after = Some(format!("{common}\u{10FFFF}"));
                        prefixes.push(common);
                        continue 'pages;
                    }
                    None => {
                        after = Some(object.key.clone());
                        contents.push(object);
                    }
                }
            }
        }
        let last = prefixes
            .last()
            .cloned()
            .into_iter()
            .chain(contents.last().map(|o| o.key.clone()))
            .max();
        let key_count = (contents.len() + prefixes.len()) as i32;
        let objects = contents
            .into_iter()
            .map(|object| Object {
                key: Some(object.key),
                size: Some(object.size as i64),
                e_tag: Some(etag(&object.etag)),
                last_modified: Some(timestamp(object.modified_at_ms)),
                ..Default::default()
            })
            .collect();
        let common_prefixes = prefixes
            .into_iter()
            .map(|prefix| CommonPrefix {
                prefix: Some(prefix),
            })
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(bucket.clone()),
            prefix: Some(prefix),
            delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            is_truncated: Some(truncated),
            continuation_token: req.input.continuation_token.clone(),
            next_continuation_token: truncated
                .then(|| last.map(|key| hex::encode(key.as_bytes())))
                .flatten(),
            start_after: req.input.start_after.clone(),
            contents: Some(objects),
            common_prefixes: Some(common_prefixes),
            ..Default::default()
        }))
    }
}

fn bad_token() -> S3Error {
    s3_error!(
        InvalidArgument,
        "the continuation token is not one this endpoint gave"
    )
}

fn too_large(limit: u64) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::EntityTooLarge,
        format!("objects are limited to {limit} bytes on this node (--max-object-size)"),
    )
}

fn metadata_map(object: &ObjectInfo) -> Option<Metadata> {
    let map: HashMap<String, String> = object.metadata.iter().cloned().collect();
    (!map.is_empty()).then_some(map)
}
