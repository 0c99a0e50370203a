//! Where a node keeps what it shares: alone, everything is in its own database and folder;
//! in a cluster (`gust serve --cluster nats://...`), the catalog (functions, versions,
//! aliases, routes, triggers), the schedules' claims, the artifacts and the work queue are in
//! NATS JetStream, and a watch of the catalog keeps the node's caches true to what other nodes
//! change. Each node's records are copied into every node's database, so that any node answers
//! usage for the whole cluster. API tokens and secrets are in the catalog too, and each
//! key-value store in a bucket of its own.

use std::path::Path;
use std::sync::Arc;

use gust_cluster::{CatalogChange, Cluster, Node};
use gust_core::KeyValue;
use gust_dispatch::Dispatcher;
use gust_events::Triggers;
use gust_gateway::Routes;
use gust_secrets::SecretVault;
use gust_store::{
    AliasStore, Artifacts, BlobStore, RouteStore, SecretStore, SqliteStore, Store, StoreParts,
    TokenStore,
};
use tokio::sync::mpsc;

/// The stores a node works with, wherever they are.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub aliases: Arc<dyn AliasStore>,
    pub routes: Arc<dyn RouteStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub key_value: Arc<dyn KeyValue>,
    pub artifacts: Arc<dyn Artifacts>,
    /// What other nodes change, in a cluster.
    pub changes: Option<mpsc::Receiver<CatalogChange>>,
}

impl Shared {
    /// The node's own database and artifact folder.
    pub fn alone(sqlite: Arc<SqliteStore>, data_dir: &Path) -> anyhow::Result<Shared> {
        Ok(Shared {
            store: sqlite.clone(),
            aliases: sqlite.clone(),
            routes: sqlite.clone(),
            tokens: sqlite.clone(),
            secrets: sqlite.clone(),
            key_value: sqlite,
            artifacts: Arc::new(BlobStore::open(data_dir.join("artifacts"))?),
            changes: None,
        })
    }

    /// The cluster's shared state at `url`, beside the node's own database.
    pub async fn in_cluster(
        url: &str,
        name: &str,
        sqlite: Arc<SqliteStore>,
        data_dir: &Path,
    ) -> anyhow::Result<Shared> {
        let node = Node {
            name: name.to_string(),
            artifact_cache: data_dir.join("artifacts"),
            records: sqlite.clone(),
        };
        let cluster = Cluster::join(url, node).await?;
        // An upload's bucket events are queued in the node's database, with the upload.
        gust_cluster::relay(sqlite.clone(), cluster.work.clone(), name.to_string());
        let store = StoreParts {
            catalog: cluster.catalog.clone(),
            schedules: cluster.catalog.clone(),
            records: cluster.records,
            work: cluster.work,
        };
        tracing::info!("joined the cluster at {url} as node {name}");
        Ok(Shared {
            store: Arc::new(store),
            aliases: cluster.catalog.clone(),
            routes: cluster.catalog.clone(),
            tokens: cluster.catalog.clone(),
            secrets: cluster.catalog.clone(),
            key_value: cluster.key_value,
            artifacts: cluster.artifacts,
            changes: Some(cluster.catalog.watch()),
        })
    }
}

/// What a node keeps in memory of the catalog, to keep true to what other nodes change.
pub struct Caches {
    pub dispatcher: Arc<Dispatcher>,
    pub routes: Arc<Routes>,
    pub triggers: Arc<Triggers>,
    pub secrets: Arc<SecretVault>,
}

/// Applies what other nodes change to this node's caches, for as long as the node runs.
pub fn follow(mut changes: mpsc::Receiver<CatalogChange>, caches: Caches) {
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            if let Err(e) = caches.apply(change).await {
                tracing::warn!("a change made on another node is not applied here yet: {e}");
            }
        }
    });
}

impl Caches {
    async fn apply(&self, change: CatalogChange) -> Result<(), gust_core::Error> {
        match change {
            CatalogChange::Function(name) => self.dispatcher.changed_elsewhere(&name).await,
            CatalogChange::Routes => self.routes.reload().await,
            CatalogChange::Secrets => self.secrets.reload().await,
            CatalogChange::Triggers => {
                self.triggers.reload().await;
                Ok(())
            }
            CatalogChange::Everything => {
                for name in self.dispatcher.known_functions() {
                    self.dispatcher.changed_elsewhere(&name).await?;
                }
                self.triggers.reload().await;
                self.secrets.reload().await?;
                self.routes.reload().await
            }
        }
    }
}
