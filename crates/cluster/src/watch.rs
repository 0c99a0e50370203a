//! What changes in the catalog, as every node hears it: a deploy, a delete or an alias on any
//! node makes the others read that function's pointers again; a route, a trigger or a secret
//! made or removed makes them rebuild their route table, restart their sources or open their
//! secrets again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{Entry, Operation};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::JetStreamCatalog;

/// One change to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    /// A function was deployed or deleted, or one of its aliases was set or removed.
    Function(String),
    /// A route was added or removed.
    Routes,
    /// A secret was set or removed.
    Secrets,
    /// A trigger was added or removed (a trigger's state moving as its schedule fires is not a
    /// change of which triggers there are).
    Triggers,
    /// The watch (re)started: whatever happened while it was not watching is unknown, so
    /// everything read from the catalog is to be read again.
    Everything,
}

/// How long a broken watch waits before it starts again.
const RETRY: Duration = Duration::from_secs(1);
/// Changes not yet taken by the node: a burst beyond this waits for the node to catch up.
const BACKLOG: usize = 1024;

impl JetStreamCatalog {
    /// The catalog's changes from now on, for as long as the receiver is kept.
    pub fn watch(self: &Arc<Self>) -> mpsc::Receiver<CatalogChange> {
        let (changes, received) = mpsc::channel(BACKLOG);
        tokio::spawn(follow(self.clone(), changes));
        received
    }
}

async fn follow(catalog: Arc<JetStreamCatalog>, changes: mpsc::Sender<CatalogChange>) {
    while !changes.is_closed() {
        if let Err(e) = watch_once(&catalog, &changes).await {
            tracing::warn!("the catalog's watch stopped ({e}); starting it again");
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Watches until the watch breaks or nobody listens.
async fn watch_once(
    catalog: &JetStreamCatalog,
    changes: &mpsc::Sender<CatalogChange>,
) -> Result<(), String> {
    let mut watch = catalog.kv.watch_all().await.map_err(|e| e.to_string())?;
    let mut triggers: HashSet<String> = catalog
        .keys_under("triggers.")
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    send(changes, CatalogChange::Everything).await?;
    while let Some(entry) = watch.next().await {
        let entry = entry.map_err(|e| e.to_string())?;
        if let Some(change) = change_of(&entry, &mut triggers) {
            send(changes, change).await?;
        }
    }
    Err("the watch ended".into())
}

async fn send(changes: &mpsc::Sender<CatalogChange>, change: CatalogChange) -> Result<(), String> {
    changes
        .send(change)
        .await
        .map_err(|_| "nobody listens".to_string())
}

/// What a written key changes; `triggers` holds the keys of the triggers there are.
fn change_of(entry: &Entry, triggers: &mut HashSet<String>) -> Option<CatalogChange> {
    let removed = matches!(entry.operation, Operation::Delete | Operation::Purge);
    let (kind, rest) = entry.key.split_once('.')?;
    match kind {
        "functions" => Some(CatalogChange::Function(rest.to_string())),
        "aliases" => {
            let (function, _alias) = rest.split_once('.')?;
            Some(CatalogChange::Function(function.to_string()))
        }
        "routes" => Some(CatalogChange::Routes),
        "secrets" => Some(CatalogChange::Secrets),
        "triggers" => {
            let made_or_removed = match removed {
                true => triggers.remove(&entry.key),
                false => triggers.insert(entry.key.clone()),
            };
            made_or_removed.then_some(CatalogChange::Triggers)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream;
    use gust_core::{Alias, Route, Trigger};
    use gust_store::conformance::catalog::new_version;
    use gust_store::{AliasStore, Catalog, RouteStore};
    use serde_json::{Map, json};

    use super::*;
    use crate::test_server::NatsServer;

    async fn next(changes: &mut mpsc::Receiver<CatalogChange>) -> CatalogChange {
        tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .expect("a change within 10 s")
            .expect("the watch goes on")
    }

    #[tokio::test]
    async fn tells_what_changed_and_not_a_schedule_moving() {
        let server = NatsServer::start();
        let jetstream = jetstream::new(server.connect().await);
        let catalog = Arc::new(JetStreamCatalog::open(&jetstream).await.unwrap());
        let mut changes = catalog.watch();
        assert_eq!(next(&mut changes).await, CatalogChange::Everything);

        catalog
            .deploy(new_version("hello", "a", 128))
            .await
            .unwrap();
        assert_eq!(
            next(&mut changes).await,
            CatalogChange::Function("hello".into())
        );
        let alias = Alias {
            function: "hello".into(),
            name: "live".into(),
            version: 1,
            split: None,
            previous: None,
            updated_at_ms: 1,
        };
        catalog.put_alias(alias).await.unwrap();
        assert_eq!(
            next(&mut changes).await,
            CatalogChange::Function("hello".into())
        );
        let route = Route {
            id: "r1".into(),
            method: "GET".into(),
            path: "/hi".into(),
            host: None,
            function: "hello".into(),
            cors_origins: Vec::new(),
            created_at_ms: 1,
        };
        catalog.create_route(route).await.unwrap();
        assert_eq!(next(&mut changes).await, CatalogChange::Routes);

        let trigger = Trigger {
            id: "t1".into(),
            function: "hello".into(),
            kind: "cron".into(),
            created_at_ms: 1,
            config: Map::new(),
            state: Map::new(),
        };
        catalog.add_trigger(trigger).await.unwrap();
        assert_eq!(next(&mut changes).await, CatalogChange::Triggers);
        let fired = json!({"next_fire_at_ms": 2}).as_object().cloned().unwrap();
        catalog.set_trigger_state("t1", fired).await.unwrap();
        catalog.delete_trigger("t1").await.unwrap();
        assert_eq!(
            next(&mut changes).await,
            CatalogChange::Triggers,
            "the state moving is no change; the removal is"
        );
    }
}
