use std::sync::Arc;

use async_trait::async_trait;
use gust_core::Error;
use gust_dispatch::AsyncQueue;
use gust_meter::Metrics;
use gust_store::{Catalog, Schedules};
use serde_json::{Map, Value};

/// One kind of event source (cron, bucket, ...): it checks the settings of its triggers and
/// turns what happens into invocations. Each kind lives in a module of its own.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// The `kind` of its triggers.
    fn kind(&self) -> &'static str;

    /// Checks the settings of a new trigger of `function`: answers them as they will be kept,
    /// and the state the trigger starts with. A bad setting is an `invalid` error that says
    /// what is wrong.
    async fn check(&self, function: &str, config: Map<String, Value>) -> Result<Checked, Error>;

    /// Starts serving its triggers, on tasks of its own. Once this returns, its stored
    /// triggers are in effect (an upload right after start raises its events).
    async fn start(self: Arc<Self>, context: SourceContext);

    /// A trigger of its kind was added or removed; the change is in effect once this returns.
    async fn changed(&self);
}

/// A new trigger's settings as its source checked them, and its first state.
pub struct Checked {
    pub config: Map<String, Value>,
    pub state: Map<String, Value>,
}

/// What a source works with: the store (its triggers and their state) and the asynchronous
/// queue, where events become invocations with retries and dead letters.
#[derive(Clone)]
pub struct SourceContext {
    pub store: Arc<dyn Catalog>,
    /// Where each firing of a schedule is claimed, so that one node fires it.
    pub schedules: Arc<dyn Schedules>,
    pub queue: Arc<AsyncQueue>,
    /// The node's metrics, when metering is on (stream triggers' events and lag).
    pub metrics: Option<Arc<Metrics>>,
    /// The node's name when it is one of a cluster's, where every node runs every trigger: a
    /// broker that tells its clients apart then sees one per node (`per_node`).
    pub cluster_node: Option<String>,
}

impl SourceContext {
    /// `name` made this node's own in a cluster (`NAME-NODE`); as it is on a lone node.
    pub fn per_node(&self, name: &str) -> String {
        match &self.cluster_node {
            Some(node) => format!("{name}-{node}"),
            None => name.to_string(),
        }
    }
}
