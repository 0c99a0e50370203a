//! How a node joins a cluster: one NATS connection, over which it opens the shared catalog,
//! artifacts, records, work queue and key-value stores (made by the first node to join).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use gust_core::Error;
use gust_store::Records;

use crate::{
    JetStreamArtifacts, JetStreamCatalog, JetStreamKeyValue, JetStreamRecords, JetStreamWorkQueue,
    nats_error,
};

/// How long a node waits for NATS when it starts; later outages are waited out.
const FIRST_CONNECT: Duration = Duration::from_secs(10);

/// The cluster's state as a node sees it.
pub struct Cluster {
    pub catalog: Arc<JetStreamCatalog>,
    pub artifacts: Arc<JetStreamArtifacts>,
    pub records: Arc<JetStreamRecords>,
    pub work: Arc<JetStreamWorkQueue>,
    pub key_value: Arc<JetStreamKeyValue>,
}

/// What a node brings to the cluster.
pub struct Node {
    /// Its name, unique in the cluster.
    pub name: String,
    /// Where fetched artifacts are kept.
    pub artifact_cache: PathBuf,
    /// Its own records, which the cluster's are copied into.
    pub records: Arc<dyn Records>,
}

impl Cluster {
    /// Joins the cluster whose NATS servers (with JetStream) are at `urls`, comma-separated.
    pub async fn join(urls: &str, node: Node) -> Result<Cluster, Error> {
        let servers: Vec<&str> = urls.split(',').map(str::trim).collect();
        let connecting = async_nats::ConnectOptions::new()
            .name("gust")
            .connect(servers);
        let client = tokio::time::timeout(FIRST_CONNECT, connecting)
            .await
            .map_err(|_| nats_error(&format!("cannot reach {urls}"), "no answer within 10 s"))?
            .map_err(|e| nats_error(&format!("cannot reach {urls}"), e))?;
        let max_payload = client.server_info().max_payload;
        let jetstream = jetstream::new(client);
        Ok(Cluster {
            catalog: Arc::new(JetStreamCatalog::open(&jetstream).await?),
            artifacts: Arc::new(JetStreamArtifacts::open(&jetstream, node.artifact_cache).await?),
            records: Arc::new(JetStreamRecords::start(&jetstream, node.records, &node.name).await?),
            work: Arc::new(JetStreamWorkQueue::open(&jetstream, &node.name, max_payload).await?),
            key_value: Arc::new(JetStreamKeyValue::new(jetstream.clone())),
        })
    }
}
