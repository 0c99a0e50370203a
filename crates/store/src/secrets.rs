//! Secrets, sealed: the store keeps only what the secret key encrypted.

use async_trait::async_trait;
use gust_core::{Error, SecretInfo};

/// A secret as stored: its name and dates, and its value encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub info: SecretInfo,
    pub sealed: Vec<u8>,
}

#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// Sets a secret's value; one that existed keeps its creation date.
    async fn put_secret(&self, secret: SealedSecret) -> Result<(), Error>;
    async fn secrets(&self) -> Result<Vec<SealedSecret>, Error>;
    /// Removes a secret; false when there was none.
    async fn delete_secret(&self, name: &str) -> Result<bool, Error>;
}
