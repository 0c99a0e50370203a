//! Aliases of functions: named pointers to versions, read whole per function.

use async_trait::async_trait;
use gust_core::{Alias, Error};

#[async_trait]
pub trait AliasStore: Send + Sync + 'static {
    /// Creates or replaces an alias.
    async fn put_alias(&self, alias: Alias) -> Result<(), Error>;
    /// A function's aliases, by name.
    async fn aliases(&self, function: &str) -> Result<Vec<Alias>, Error>;
    /// Removes an alias; false when there was none.
    async fn delete_alias(&self, function: &str, name: &str) -> Result<bool, Error>;
}
