//! Object bytes on disk: one file per part under `<data-dir>/objects`, named by a fresh id and
//! never by a key, so that no key can reach outside the folder.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gust_core::StoredPart;
use md5::{Digest, Md5};

/// Bytes handed to the disk at once: large writes, few trips to the blocking pool.
const WRITE_BATCH: usize = 1024 * 1024;
/// Bytes read from the disk at once for a GET.
const READ_CHUNK: usize = 256 * 1024;

/// A file written whole and synced, and the MD5 of its bytes.
pub struct Written {
    pub part: StoredPart,
    pub md5: [u8; 16],
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the body is over the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the body failed: {0}")]
    Body(String),
    #[error("writing the object failed: {0}")]
    Disk(#[from] std::io::Error),
}

pub struct ObjectFiles {
    dir: PathBuf,
}

impl ObjectFiles {
    pub fn open(data_dir: &Path) -> std::io::Result<ObjectFiles> {
        let dir = data_dir.join("objects");
        std::fs::create_dir_all(&dir)?;
        Ok(ObjectFiles { dir })
    }

    fn path(&self, blob: &str) -> PathBuf {
        self.dir.join(blob)
    }

    /// Writes a body of at most `limit` bytes to a new file. The file is synced, then named,
    /// then its folder synced: once this returns, the bytes survive a crash.
    pub async fn write<S, E>(&self, mut body: S, limit: u64) -> Result<Written, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let blob = ulid::Ulid::new().to_string();
        let temporary = self.dir.join(format!(".{blob}.partial"));
        let mut file = Some(std::fs::File::create(&temporary)?);
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let mut batch = Vec::new();
        let mut batched = 0;
        let result: Result<(), WriteError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(WriteError::TooLarge(limit));
                }
                md5.update(&chunk);
                batched += chunk.len();
                batch.push(chunk);
                if batched >= WRITE_BATCH {
                    file = Some(write_batch(file.take(), std::mem::take(&mut batch)).await?);
                    batched = 0;
                }
            }
            let mut last = write_batch(file.take(), batch).await?;
            tokio::task::spawn_blocking(move || last.flush().and_then(|()| last.sync_all()))
                .await
                .map_err(std::io::Error::other)??;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
        let (dir, path) = (self.dir.clone(), self.path(&blob));
        tokio::task::spawn_blocking(move || {
            std::fs::rename(&temporary, &path)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Written {
            part: StoredPart { blob, size },
            md5: md5.finalize().into(),
        })
    }

    /// The bytes `start..end` of an object made of `parts`, as a stream of chunks.
    pub fn read(
        &self,
        parts: Vec<StoredPart>,
        start: u64,
        end: u64,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let dir = self.dir.clone();
        // Which part each chunk comes from, and where in it.
        let mut pieces = Vec::new();
        let mut offset = 0;
        for part in parts {
            let (part_start, part_end) = (offset, offset + part.size);
            offset = part_end;
            let (from, to) = (start.max(part_start), end.min(part_end));
            let mut at = from;
            while at < to {
                let len = (to - at).min(READ_CHUNK as u64);
                pieces.push((part.blob.clone(), at - part_start, len as usize));
                at += len;
            }
        }
        futures::stream::iter(pieces).then(move |(blob, at, len)| {
            let path = dir.join(blob);
            async move {
                tokio::task::spawn_blocking(move || read_piece(&path, at, len))
                    .await
                    .map_err(std::io::Error::other)?
            }
        })
    }

    /// Removes what a crash or a failed removal left behind: files being written (`.partial`)
    /// and files no object or upload holds. Only while nothing writes: at start. Returns how
    /// many were removed.
    pub fn sweep(&self, in_use: &HashSet<String>) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !in_use.contains(&name) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes files no object or upload holds any more; a failure only leaves a file behind.
    pub fn remove(&self, blobs: &[String]) {
        for blob in blobs {
            if let Err(e) = std::fs::remove_file(self.path(blob))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(blob, "an object file could not be removed: {e}");
            }
        }
    }
}

async fn write_batch(
    file: Option<std::fs::File>,
    batch: Vec<Bytes>,
) -> std::io::Result<std::fs::File> {
    let mut file = file.expect("the file is back from the last batch");
    tokio::task::spawn_blocking(move || {
        for chunk in &batch {
            file.write_all(chunk)?;
        }
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn read_piece(path: &Path, at: u64, len: usize) -> std::io::Result<Bytes> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(at))?;
    let mut buffer = vec![0; len];
    file.read_exact(&mut buffer)?;
    Ok(Bytes::from(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        )
    }

    async fn collect(stream: impl Stream<Item = std::io::Result<Bytes>>) -> Vec<u8> {
        let chunks: Vec<_> = stream.collect().await;
        chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn writes_reads_ranges_across_parts_and_refuses_too_much() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let one = files.write(body(&[b"hello ", b"wor"]), 100).await.unwrap();
        let two = files.write(body(&[b"ld!"]), 100).await.unwrap();
        assert_eq!(one.part.size, 9);
        assert_eq!(two.md5, <[u8; 16]>::from(Md5::digest(b"ld!")));
        let parts = vec![one.part.clone(), two.part.clone()];
        assert_eq!(
            collect(files.read(parts.clone(), 0, 12)).await,
            b"hello world!"
        );
        assert_eq!(collect(files.read(parts.clone(), 4, 10)).await, b"o worl");
        let over = files.write(body(&[b"0123456789"]), 5).await;
        assert!(matches!(over, Err(WriteError::TooLarge(5))));
        files.remove(&[one.part.blob, two.part.blob]);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("objects"))
            .unwrap()
            .collect();
        assert!(
            left.is_empty(),
            "no file left behind, partial ones included"
        );
    }

    #[tokio::test]
    async fn a_sweep_removes_partial_and_unheld_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::open(dir.path()).unwrap();
        let held = files.write(body(&[b"kept"]), 100).await.unwrap();
        let orphan = files.write(body(&[b"lost"]), 100).await.unwrap();
        let partial = dir.path().join("objects/.01ABC.partial");
        std::fs::write(&partial, b"half").unwrap();
        let in_use = HashSet::from([held.part.blob.clone()]);
        assert_eq!(files.sweep(&in_use).unwrap(), 2);
        assert!(files.path(&held.part.blob).exists());
        assert!(!files.path(&orphan.part.blob).exists());
        assert!(!partial.exists());
    }
}
