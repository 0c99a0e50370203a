//! The API gateway: routes (`METHOD /path/{param}` with an optional host) that call functions,
//! served on the main listener at any path that is not Gust's own. The table is rebuilt and
//! checked whole on each change, then swapped in at once: no restart, no half-applied change.

mod cors;
mod serve;
mod table;

use std::sync::{Arc, RwLock};

use gust_core::{Error, Route, now_ms};
use gust_store::RouteStore;

pub use serve::serve;
use table::RouteTable;

pub struct Routes {
    store: Arc<dyn RouteStore>,
    table: RwLock<Arc<RouteTable>>,
    /// One change at a time, so that each is checked against the one before.
    changing: tokio::sync::Mutex<()>,
}

/// A new route as asked for: what a route is, without its id and date.
pub struct NewRoute {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub function: String,
    pub cors_origins: Vec<String>,
}

impl Routes {
    pub async fn load(store: Arc<dyn RouteStore>) -> Result<Arc<Routes>, Error> {
        let table = RouteTable::build(&store.routes().await?)?;
        Ok(Arc::new(Routes {
            store,
            table: RwLock::new(Arc::new(table)),
            changing: tokio::sync::Mutex::new(()),
        }))
    }

    fn table(&self) -> Arc<RouteTable> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn swap(&self, table: RouteTable) {
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
    }

    /// Adds a route: 400 when it is invalid, 409 naming the route it conflicts with.
    pub async fn add(&self, new: NewRoute) -> Result<Route, Error> {
        let route = Route {
            id: ulid::Ulid::new().to_string(),
            method: new.method.to_ascii_uppercase(),
            path: new.path,
            host: new.host.map(|h| h.to_ascii_lowercase()),
            function: new.function,
            cors_origins: new.cors_origins,
            created_at_ms: now_ms(),
        };
        route.validate()?;
        let _one_at_a_time = self.changing.lock().await;
        let mut routes = self.store.routes().await?;
        routes.push(route.clone());
        let table = RouteTable::build(&routes)?;
        self.store.create_route(route.clone()).await?;
        self.swap(table);
        Ok(route)
    }

    /// Builds the table again from the store, after another node changed the routes.
    pub async fn reload(&self) -> Result<(), Error> {
        let _one_at_a_time = self.changing.lock().await;
        self.swap(RouteTable::build(&self.store.routes().await?)?);
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Route>, Error> {
        self.store.routes().await
    }

    /// Removes a route; false when there was none.
    pub async fn remove(&self, id: &str) -> Result<bool, Error> {
        let _one_at_a_time = self.changing.lock().await;
        let removed = self.store.delete_route(id).await?;
        self.swap(RouteTable::build(&self.store.routes().await?)?);
        Ok(removed)
    }
}
