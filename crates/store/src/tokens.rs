//! Scoped API tokens: a concern of its own, apart from the catalog and the queue.

use async_trait::async_trait;
use gust_core::{Error, TokenInfo};

/// A token being created: what it may do, and the hash of its secret (the secret itself is
/// shown once to its creator and never stored).
#[derive(Debug, Clone)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret_sha256: String,
}

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn create_token(&self, token: NewToken) -> Result<(), Error>;
    async fn tokens(&self) -> Result<Vec<TokenInfo>, Error>;
    /// A token and the hash of its secret.
    async fn token(&self, id: &str) -> Result<Option<(TokenInfo, String)>, Error>;
    /// Removes a token; false when there was none.
    async fn revoke_token(&self, id: &str) -> Result<bool, Error>;
    async fn token_used(&self, id: &str, at_ms: i64) -> Result<(), Error>;
}
