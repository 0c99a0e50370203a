//! Aliases (`aliases.FUNCTION.NAME`) and routes (`routes.ID`) in the catalog's bucket: set on
//! one node, in effect on all once their watch (watch.rs) tells them.

use async_trait::async_trait;
use gust_core::{Alias, Error, Route};
use gust_store::{AliasStore, RouteStore};

use crate::catalog::JetStreamCatalog;

fn alias_key(function: &str, name: &str) -> String {
    format!("aliases.{function}.{name}")
}

fn route_key(id: &str) -> String {
    format!("routes.{id}")
}

#[async_trait]
impl AliasStore for JetStreamCatalog {
    async fn put_alias(&self, alias: Alias) -> Result<(), Error> {
        self.put(&alias_key(&alias.function, &alias.name), &alias)
            .await
    }

    async fn aliases(&self, function: &str) -> Result<Vec<Alias>, Error> {
        let mut aliases: Vec<Alias> = self.read_all(&format!("aliases.{function}.")).await?;
        aliases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(aliases)
    }

    async fn delete_alias(&self, function: &str, name: &str) -> Result<bool, Error> {
        self.delete_existing::<Alias>(&alias_key(function, name))
            .await
    }
}

#[async_trait]
impl RouteStore for JetStreamCatalog {
    async fn create_route(&self, route: Route) -> Result<(), Error> {
        self.create(&route_key(&route.id), &route, "route").await
    }

    async fn routes(&self) -> Result<Vec<Route>, Error> {
        let mut routes: Vec<Route> = self.read_all("routes.").await?;
        routes.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(routes)
    }

    async fn delete_route(&self, id: &str) -> Result<bool, Error> {
        self.delete_existing::<Route>(&route_key(id)).await
    }
}
