use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use gust_core::Error;
use sha2::{Digest, Sha256};

/// Artifacts on disk, named by the sha256 of their bytes. Writes are atomic and durable:
/// a temp file is fsynced, then renamed into place.
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

    pub fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Stores the bytes and returns their sha256. Storing the same bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, Error> {
        let sha = Self::sha256_hex(bytes);
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

    /// Removes an artifact no version uses any more.
    pub fn remove(&self, sha256: &str) -> Result<(), Error> {
        let path = self.path(sha256);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path, e)),
            _ => Ok(()),
        }
    }

    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, Error> {
        let path = self.path(sha256);
        fs::read(&path).map_err(|e| io_error(&path, e))
    }
}

fn io_error(path: &Path, err: std::io::Error) -> Error {
    Error::internal(format!("blob store: {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let sha = blobs.put(b"hello").unwrap();
        assert_eq!(sha, BlobStore::sha256_hex(b"hello"));
        assert_eq!(blobs.put(b"hello").unwrap(), sha);
        assert_eq!(fs::read(blobs.path(&sha)).unwrap(), b"hello");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file is left"
        );
    }

    #[test]
    fn the_same_bytes_stored_at_once_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let artifact = vec![7u8; 4 << 20];
        std::thread::scope(|scope| {
            let puts: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| blobs.put(&artifact)))
                .collect();
            for put in puts {
                put.join().unwrap().expect("every put succeeds");
            }
        });
        let sha = BlobStore::sha256_hex(&artifact);
        assert_eq!(blobs.get(&sha).unwrap(), artifact);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
