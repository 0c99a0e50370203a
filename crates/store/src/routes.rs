//! Routes of the API gateway: a concern of their own, read whole when the table is built.

use async_trait::async_trait;
use gust_core::{Error, Route};

#[async_trait]
pub trait RouteStore: Send + Sync + 'static {
    async fn create_route(&self, route: Route) -> Result<(), Error>;
    async fn routes(&self) -> Result<Vec<Route>, Error>;
    /// Removes a route; false when there was none.
    async fn delete_route(&self, id: &str) -> Result<bool, Error>;
}
