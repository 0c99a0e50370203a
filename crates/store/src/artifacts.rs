//! Artifacts: the code of every version, named by the sha256 of its bytes.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use gust_core::Error;
use sha2::{Digest, Sha256};

#[async_trait]
pub trait Artifacts: Send + Sync + 'static {
    /// Stores the bytes and returns their sha256; the same bytes twice are stored once.
    async fn put(&self, bytes: Arc<[u8]>) -> Result<String, Error>;
    /// A file on this node that holds the artifact, fetched into the node's cache first
    /// when it is kept elsewhere.
    async fn fetch(&self, sha256: &str) -> Result<PathBuf, Error>;
    /// Removes an artifact that no version uses any more (removing one that is gone is fine).
    async fn remove(&self, sha256: &str) -> Result<(), Error>;
}

/// The name an artifact is stored under.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
