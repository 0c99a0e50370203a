//! Buckets, objects, uploads in parts and S3 keys in the embedded store.

use std::collections::HashSet;

use gust_core::{BucketGrant, BucketInfo, ObjectInfo, S3Key, StoredPart};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{json_column, queue_sql};
use crate::NewAsync;
use crate::buckets::{ObjectQuery, Upload, UploadedPart};

/// What a write that raises events came to.
pub enum Written<T> {
    Done(T),
    /// The bucket is not there.
    NoBucket,
    /// An event would pass its function's backlog limits (which one, and why).
    OverLimits(String),
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

pub fn create_bucket(conn: &Connection, bucket: &BucketInfo) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO buckets (name, created_at_ms) VALUES (?1, ?2)",
        params![bucket.name, bucket.created_at_ms],
    )?;
    Ok(added > 0)
}

fn bucket_from_row(row: &Row) -> rusqlite::Result<BucketInfo> {
    Ok(BucketInfo {
        name: row.get(0)?,
        created_at_ms: row.get(1)?,
    })
}

pub fn buckets(conn: &Connection) -> rusqlite::Result<Vec<BucketInfo>> {
    let mut stmt = conn.prepare("SELECT name, created_at_ms FROM buckets ORDER BY name")?;
    stmt.query_map([], bucket_from_row)?.collect()
}

pub fn bucket(conn: &Connection, name: &str) -> rusqlite::Result<Option<BucketInfo>> {
    conn.query_row(
        "SELECT name, created_at_ms FROM buckets WHERE name = ?1",
        [name],
        bucket_from_row,
    )
    .optional()
}

/// Whether the bucket was there, and the files of what it held (with `force`); `Err(())`
/// inside when it holds objects and `force` is not set.
pub fn delete_bucket(
    conn: &mut Connection,
    name: &str,
    force: bool,
) -> rusqlite::Result<Option<Result<Vec<String>, ()>>> {
    let tx = conn.transaction()?;
    if bucket(&tx, name)?.is_none() {
        return Ok(None);
    }
    let mut files = Vec::new();
    let mut objects = tx.prepare("SELECT parts FROM objects WHERE bucket = ?1")?;
    for parts in objects.query_map([name], |row| json_column::<Vec<StoredPart>>(row, 0))? {
        files.extend(parts?.into_iter().map(|part| part.blob));
    }
    drop(objects);
    if !files.is_empty() && !force {
        return Ok(Some(Err(())));
    }
    let mut parts = tx.prepare(
        "SELECT blob FROM upload_parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?1)",
    )?;
    for blob in parts.query_map([name], |row| row.get::<_, String>(0))? {
        files.push(blob?);
    }
    drop(parts);
    // Objects, uploads and their parts go with the bucket (ON DELETE CASCADE).
    tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
    tx.commit()?;
    Ok(Some(Ok(files)))
}

const OBJECT_COLUMNS: &str =
    "bucket, key, size, etag, content_type, metadata, parts, modified_at_ms";

fn object_from_row(row: &Row) -> rusqlite::Result<ObjectInfo> {
    Ok(ObjectInfo {
        bucket: row.get(0)?,
        key: row.get(1)?,
        size: row.get(2)?,
        etag: row.get(3)?,
        content_type: row.get(4)?,
        metadata: json_column(row, 5)?,
        parts: json_column(row, 6)?,
        modified_at_ms: row.get(7)?,
    })
}

fn files_of(tx: &Transaction, bucket: &str, key: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let parts = tx
        .query_row(
            "SELECT parts FROM objects WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
            |row| json_column::<Vec<StoredPart>>(row, 0),
        )
        .optional()?;
    Ok(parts.map(|parts| parts.into_iter().map(|part| part.blob).collect()))
}

/// Queues events inside the transaction; the limit passed, if one is.
fn queue_events(tx: &Transaction, events: &[NewAsync]) -> rusqlite::Result<Option<String>> {
    for event in events {
        if let Some(over) = queue_sql::enqueue(tx, event)? {
            return Ok(Some(over));
        }
    }
    Ok(None)
}

pub fn put_object(
    conn: &mut Connection,
    object: &ObjectInfo,
    upload: Option<&str>,
    events: &[NewAsync],
) -> rusqlite::Result<Written<Vec<String>>> {
    let tx = conn.transaction()?;
    if bucket(&tx, &object.bucket)?.is_none() {
        return Ok(Written::NoBucket);
    }
    let replaced = files_of(&tx, &object.bucket, &object.key)?.unwrap_or_default();
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            object.bucket,
            object.key,
            object.size,
            object.etag,
            object.content_type,
            json(&object.metadata),
            json(&object.parts),
            object.modified_at_ms,
        ],
    )?;
    if let Some(upload) = upload {
        // The parts now belong to the object: only the upload's rows go.
        tx.execute("DELETE FROM uploads WHERE id = ?1", [upload])?;
    }
    if let Some(over) = queue_events(&tx, events)? {
        return Ok(Written::OverLimits(over));
    }
    tx.commit()?;
    Ok(Written::Done(replaced))
}

pub fn object(conn: &Connection, bucket: &str, key: &str) -> rusqlite::Result<Option<ObjectInfo>> {
    conn.query_row(
        &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
        [bucket, key],
        object_from_row,
    )
    .optional()
}

pub fn delete_object(
    conn: &mut Connection,
    bucket: &str,
    key: &str,
    events: &[NewAsync],
) -> rusqlite::Result<Written<Option<Vec<String>>>> {
    let tx = conn.transaction()?;
    let Some(files) = files_of(&tx, bucket, key)? else {
        return Ok(Written::Done(None));
    };
    tx.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
        [bucket, key],
    )?;
    if let Some(over) = queue_events(&tx, events)? {
        return Ok(Written::OverLimits(over));
    }
    tx.commit()?;
    Ok(Written::Done(Some(files)))
}

pub fn objects(
    conn: &Connection,
    bucket: &str,
    query: &ObjectQuery,
) -> rusqlite::Result<Vec<ObjectInfo>> {
    // Keys with the prefix sort between the prefix and the prefix followed by the highest
    // character: a range on the primary key, not a scan.
    let end = format!("{}\u{10FFFF}", query.prefix);
    let after = query.after.as_deref().unwrap_or("");
    let mut stmt = conn.prepare(&format!(
        "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3
         AND key > ?4 ORDER BY key LIMIT ?5"
    ))?;
    stmt.query_map(
        params![bucket, query.prefix, end, after, query.limit],
        object_from_row,
    )?
    .collect()
}

pub fn create_upload(conn: &Connection, upload: &Upload) -> rusqlite::Result<bool> {
    if bucket(conn, &upload.bucket)?.is_none() {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO uploads (id, bucket, key, content_type, metadata, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            upload.id,
            upload.bucket,
            upload.key,
            upload.content_type,
            json(&upload.metadata),
            upload.created_at_ms,
        ],
    )?;
    Ok(true)
}

pub fn upload(conn: &Connection, id: &str) -> rusqlite::Result<Option<Upload>> {
    conn.query_row(
        "SELECT id, bucket, key, content_type, metadata, created_at_ms FROM uploads WHERE id = ?1",
        [id],
        |row| {
            Ok(Upload {
                id: row.get(0)?,
                bucket: row.get(1)?,
                key: row.get(2)?,
                content_type: row.get(3)?,
                metadata: json_column(row, 4)?,
                created_at_ms: row.get(5)?,
            })
        },
    )
    .optional()
}

/// None when the upload is gone (completed or aborted meanwhile); else the replaced file.
pub fn put_part(
    conn: &mut Connection,
    upload_id: &str,
    part: &UploadedPart,
) -> rusqlite::Result<Option<Option<String>>> {
    let tx = conn.transaction()?;
    if upload(&tx, upload_id)?.is_none() {
        return Ok(None);
    }
    let replaced = tx
        .query_row(
            "SELECT blob FROM upload_parts WHERE upload = ?1 AND number = ?2",
            params![upload_id, part.number],
            |row| row.get::<_, String>(0),
        )
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO upload_parts (upload, number, blob, size, md5)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            upload_id,
            part.number,
            part.stored.blob,
            part.stored.size,
            part.md5_hex
        ],
    )?;
    tx.commit()?;
    Ok(Some(replaced))
}

pub fn parts(conn: &Connection, upload: &str) -> rusqlite::Result<Vec<UploadedPart>> {
    let mut stmt = conn.prepare(
        "SELECT number, blob, size, md5 FROM upload_parts WHERE upload = ?1 ORDER BY number",
    )?;
    stmt.query_map([upload], |row| {
        Ok(UploadedPart {
            number: row.get(0)?,
            stored: StoredPart {
                blob: row.get(1)?,
                size: row.get(2)?,
            },
            md5_hex: row.get(3)?,
        })
    })?
    .collect()
}

pub fn abort_upload(conn: &mut Connection, id: &str) -> rusqlite::Result<Vec<String>> {
    let tx = conn.transaction()?;
    let files = parts(&tx, id)?
        .into_iter()
        .map(|part| part.stored.blob)
        .collect();
    tx.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(files)
}

pub fn files_in_use(conn: &mut Connection) -> rusqlite::Result<HashSet<String>> {
    let tx = conn.transaction()?;
    let mut files = HashSet::new();
    let mut objects = tx.prepare("SELECT parts FROM objects")?;
    for parts in objects.query_map([], |row| json_column::<Vec<StoredPart>>(row, 0))? {
        files.extend(parts?.into_iter().map(|part| part.blob));
    }
    let mut parts = tx.prepare("SELECT blob FROM upload_parts")?;
    for blob in parts.query_map([], |row| row.get::<_, String>(0))? {
        files.insert(blob?);
    }
    Ok(files)
}

const KEY_COLUMNS: &str = "access_key, secret_key, grants, function, created_at_ms";

fn key_from_row(row: &Row) -> rusqlite::Result<S3Key> {
    Ok(S3Key {
        access_key: row.get(0)?,
        secret_key: row.get(1)?,
        grants: json_column::<Vec<BucketGrant>>(row, 2)?,
        function: row.get(3)?,
        created_at_ms: row.get(4)?,
    })
}

pub fn create_key(conn: &Connection, key: &S3Key) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT INTO s3_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            key.access_key,
            key.secret_key,
            json(&key.grants),
            key.function,
            key.created_at_ms
        ],
    )?;
    Ok(())
}

pub fn keys(conn: &Connection) -> rusqlite::Result<Vec<S3Key>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {KEY_COLUMNS} FROM s3_keys ORDER BY created_at_ms, access_key"
    ))?;
    stmt.query_map([], key_from_row)?.collect()
}

pub fn key(conn: &Connection, access_key: &str) -> rusqlite::Result<Option<S3Key>> {
    conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM s3_keys WHERE access_key = ?1"),
        [access_key],
        key_from_row,
    )
    .optional()
}

pub fn delete_key(conn: &Connection, access_key: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM s3_keys WHERE access_key = ?1", [access_key])? > 0)
}
