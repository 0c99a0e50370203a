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
        let tmp = self.dir.join(format!(".{sha}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| io_error(&path, e))?;
        Ok(sha)
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
}
