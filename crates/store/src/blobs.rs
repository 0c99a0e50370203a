use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use gust_core::Error;

use crate::{Artifacts, sha256_hex};

/// Artifacts in a folder of this node. Writes are atomic and durable: a temp file is fsynced,
/// then renamed into place.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Ok(BlobStore { dir })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Stores the bytes and returns their sha256. Storing the same bytes twice is a no-op.
    fn write(&self, bytes: &[u8]) -> Result<String, Error> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        // A temp file of its own: two deploys of one artifact at once may both get here, and
        // with a shared name one would rename away the file the other is still writing.
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            tmp.write_all(bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| io_error(&path, e))?;
        Ok(sha)
    }

    fn remove_file(&self, sha256: &str) -> Result<(), Error> {
        let path = self.path(sha256);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path, e)),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Artifacts for BlobStore {
    async fn put(&self, bytes: Arc<[u8]>) -> Result<String, Error> {
        let blobs = self.clone();
        tokio::task::spawn_blocking(move || blobs.write(&bytes))
            .await
            .map_err(|e| Error::internal(format!("blob write failed: {e}")))?
    }

    async fn fetch(&self, sha256: &str) -> Result<PathBuf, Error> {
        let path = self.path(sha256);
        match path.exists() {
            true => Ok(path),
            false => Err(io_error(&path, std::io::ErrorKind::NotFound.into())),
        }
    }

    async fn remove(&self, sha256: &str) -> Result<(), Error> {
        self.remove_file(sha256)
    }
}

fn io_error(path: &Path, err: std::io::Error) -> Error {
    Error::internal(format!("blob store: {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_folder_keeps_what_every_artifact_store_must() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        crate::conformance::artifacts::run(&blobs).await;
    }

    #[test]
    fn the_same_bytes_stored_at_once_from_many_threads_leave_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let artifact = vec![7u8; 4 << 20];
        std::thread::scope(|scope| {
            let writes: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| blobs.write(&artifact)))
                .collect();
            for write in writes {
                write.join().unwrap().expect("every write succeeds");
            }
        });
        let sha = sha256_hex(&artifact);
        assert_eq!(fs::read(blobs.path(&sha)).unwrap(), artifact);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file is left"
        );
    }
}
