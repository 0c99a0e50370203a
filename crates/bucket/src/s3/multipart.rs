//! Uploads in parts: create, upload part, list parts, complete, abort. A completed object keeps
//! its parts' files as they are: completing copies nothing.

use gust_core::{BucketAccess, ObjectInfo, now_ms};
use gust_store::{Upload, UploadedPart};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::{GustS3, check_names, etag, internal, sorted, store_error, timestamp};

/// Parts are numbered 1 to 10,000, and all but the last hold at least 5 MiB, as in S3.
const MAX_PART_NUMBER: i32 = 10_000;
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

impl GustS3 {
    /// The upload, if it is the one of `bucket`/`key`.
    async fn existing_upload(&self, id: &str, bucket: &str, key: &str) -> S3Result<Upload> {
        match self.store.upload(id).await.map_err(internal)? {
            Some(upload) if upload.bucket == bucket && upload.key == key => Ok(upload),
            _ => Err(S3Error::with_message(
                S3ErrorCode::NoSuchUpload,
                format!("no upload `{id}` of `{key}` in bucket `{bucket}`"),
            )),
        }
    }

    pub(super) async fn start_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Write).await?;
        check_names(bucket, Some(key))?;
        let input = req.input;
        let metadata = sorted(input.metadata);
        let upload = Upload {
            id: ulid::Ulid::new().to_string(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            content_type: input.content_type,
            metadata,
            created_at_ms: now_ms(),
        };
        let id = upload.id.clone();
        self.store
            .create_upload(upload)
            .await
            .map_err(|e| store_error(e, &input.bucket))?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    pub(super) async fn put_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Write).await?;
        let number = req.input.part_number;
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("part numbers go from 1 to {MAX_PART_NUMBER}; this one is {number}"),
            ));
        }
        self.existing_upload(&req.input.upload_id, bucket, key)
            .await?;
        let input = req.input;
        let written = self.write_body(input.body).await?;
        let md5 = hex::encode(written.md5);
        let part = UploadedPart {
            number: number as u32,
            stored: written.part.clone(),
            md5_hex: md5.clone(),
        };
        match self.store.put_part(&input.upload_id, part).await {
            Ok(replaced) => self.files.remove(&replaced.into_iter().collect::<Vec<_>>()),
            Err(e) => {
                self.files.remove(&[written.part.blob]);
                return Err(S3Error::with_message(S3ErrorCode::NoSuchUpload, e.message));
            }
        }
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&md5)),
            ..Default::default()
        }))
    }

    pub(super) async fn list_parts_of(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Read).await?;
        let upload = self
            .existing_upload(&req.input.upload_id, bucket, key)
            .await?;
        let parts = self.store.parts(&upload.id).await.map_err(internal)?;
        let parts = parts
            .into_iter()
            .map(|part| Part {
                part_number: Some(part.number as i32),
                size: Some(part.stored.size as i64),
                e_tag: Some(etag(&part.md5_hex)),
                last_modified: Some(timestamp(upload.created_at_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.id),
            parts: Some(parts),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }

    /// Checks the parts named against those uploaded, then commits the object made of them
    /// with its events, in one transaction that also ends the upload.
    pub(super) async fn complete(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let writer = self.writer(&req, bucket).await?;
        let upload = self
            .existing_upload(&req.input.upload_id, bucket, key)
            .await?;
        let uploaded = self.store.parts(&upload.id).await.map_err(internal)?;
        let named = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        if named.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "name at least one part to complete an upload",
            ));
        }
        let mut chosen = Vec::new();
        for (index, asked) in named.iter().enumerate() {
            let number = asked.part_number.unwrap_or(0);
            if index > 0 && number <= named[index - 1].part_number.unwrap_or(0) {
                return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
            }
            let found = uploaded.iter().find(|part| part.number as i32 == number);
            let matches = found.is_some_and(|part| {
                asked
                    .e_tag
                    .as_ref()
                    .is_none_or(|tag| tag.value().trim_matches('"') == part.md5_hex)
            });
            match found {
                Some(part) if matches => chosen.push(part.clone()),
                _ => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidPart,
                        format!("part {number} was not uploaded, or its ETag differs"),
                    ));
                }
            }
        }
        let last = chosen.len() - 1;
        if let Some(small) = chosen[..last]
            .iter()
            .find(|part| part.stored.size < MIN_PART_BYTES)
        {
            return Err(S3Error::with_message(
                S3ErrorCode::EntityTooSmall,
                format!(
                    "part {} has {} bytes; every part but the last needs at least 5 MiB",
                    small.number, small.stored.size
                ),
            ));
        }
        let mut digests = Md5::new();
        for part in &chosen {
            digests.update(hex::decode(&part.md5_hex).map_err(|_| internal_md5())?);
        }
        let tag = format!("{}-{}", hex::encode(digests.finalize()), chosen.len());
        let unused: Vec<String> = uploaded
            .iter()
            .filter(|part| !chosen.iter().any(|c| c.number == part.number))
            .map(|part| part.stored.blob.clone())
            .collect();
        let object = ObjectInfo {
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            size: chosen.iter().map(|part| part.stored.size).sum(),
            etag: tag.clone(),
            content_type: upload.content_type,
            metadata: upload.metadata,
            parts: chosen.into_iter().map(|part| part.stored).collect(),
            modified_at_ms: now_ms(),
        };
        check_names(&object.bucket, Some(&object.key))?;
        self.commit(object, Some(upload.id), "CompleteMultipartUpload", writer)
            .await?;
        self.files.remove(&unused);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            e_tag: Some(etag(&tag)),
            ..Default::default()
        }))
    }

    pub(super) async fn abort(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        self.allow(&req, Some(bucket), BucketAccess::Write).await?;
        let upload = self
            .existing_upload(&req.input.upload_id, bucket, key)
            .await?;
        let files = self
            .store
            .abort_upload(&upload.id)
            .await
            .map_err(internal)?;
        self.files.remove(&files);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

fn internal_md5() -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, "a stored part's MD5 is not hex")
}
