//! Records in a cluster: each node writes what it ran to its own database, at once and
//! whatever NATS is doing, and ships it to the `gust-records` stream; each node also follows
//! that stream (a durable consumer of its own) and copies the other nodes' records into its
//! database. So every node answers usage, invocations and logs for the whole cluster from its
//! own database, and a node that joins later reads the stream's week of history.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use futures::StreamExt;
use gust_core::{Error, InvocationRecord, LogLine, UsageQuery, UsageSums, now_ms};
use gust_store::Records;
use tokio::sync::mpsc;

use crate::{key_safe, nats_error};

const STREAM: &str = "gust-records";
const INVOCATIONS: &str = "gust.records.invocations";
const LOGS: &str = "gust.records.logs";
/// Which node wrote a message: a node skips its own, already in its database.
const NODE_HEADER: &str = "Gust-Node";
/// How long the stream keeps records for nodes that join later or were away, and how many
/// bytes of them at most (the oldest go first: about 30 million records).
const HISTORY: Duration = Duration::from_secs(7 * 24 * 3600);
const HISTORY_BYTES: i64 = 8 << 30;
/// Records in one message, and bytes of log text: well under NATS's 1 MiB message limit.
const RECORDS_PER_MESSAGE: usize = 1000;
const LOG_BYTES_PER_MESSAGE: usize = 256 * 1024;
/// Messages waiting to be shipped while NATS is away; past it, the newest are not shipped
/// (they stay in the node's own database) and a warning says how many.
const SHIPPING_BACKLOG: usize = 10_000;
const RETRY: Duration = Duration::from_secs(1);

pub struct JetStreamRecords {
    local: Arc<dyn Records>,
    shipping: mpsc::Sender<Shipment>,
    node: String,
    /// Batches shipped, in their ids.
    shipped: AtomicU64,
}

/// One batch to publish: its subject, its id (the stream drops a batch published twice, as a
/// publish retried after its acknowledgement was lost is) and its JSON.
struct Shipment {
    subject: &'static str,
    id: String,
    body: bytes::Bytes,
}

impl JetStreamRecords {
    /// Records kept in `local` and shared over the cluster as node `node`: starts the tasks
    /// that ship this node's records and copy the others'.
    pub async fn start(
        jetstream: &jetstream::Context,
        local: Arc<dyn Records>,
        node: &str,
    ) -> Result<JetStreamRecords, Error> {
        let stream = jetstream
            .get_or_create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec!["gust.records.>".into()],
                max_age: HISTORY,
                max_bytes: HISTORY_BYTES,
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("cannot open the records stream", e))?;
        let (shipping, shipments) = mpsc::channel(SHIPPING_BACKLOG);
        tokio::spawn(ship(jetstream.clone(), node.to_string(), shipments));
        tokio::spawn(copy_others(stream, local.clone(), node.to_string()));
        // Batch ids start from the clock, so that a restarted node never reuses one.
        let shipped = AtomicU64::new(now_ms() as u64 * 1000);
        Ok(JetStreamRecords {
            local,
            shipping,
            node: node.to_string(),
            shipped,
        })
    }

    fn send(&self, subject: &'static str, body: Vec<u8>) {
        let id = format!(
            "{}-{}",
            self.node,
            self.shipped.fetch_add(1, Ordering::Relaxed)
        );
        let shipment = Shipment {
            subject,
            id,
            body: body.into(),
        };
        if self.shipping.try_send(shipment).is_err() {
            tracing::warn!(
                "records not shared with the cluster: more than {SHIPPING_BACKLOG} batches wait \
                 for NATS (they are kept in this node's database)"
            );
        }
    }
}

/// Publishes this node's batches in order, each until NATS takes it.
async fn ship(
    jetstream: jetstream::Context,
    node: String,
    mut shipments: mpsc::Receiver<Shipment>,
) {
    while let Some(Shipment { subject, id, body }) = shipments.recv().await {
        let mut headers = HeaderMap::new();
        headers.insert(NODE_HEADER, node.as_str());
        headers.insert(NATS_MESSAGE_ID, id.as_str());
        loop {
            let stored = match jetstream
                .publish_with_headers(subject, headers.clone(), body.clone())
                .await
            {
                Ok(acked) => acked.await.is_ok(),
                Err(_) => false,
            };
            if stored {
                break;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Copies the other nodes' records into this node's database, for as long as the node runs.
async fn copy_others(stream: stream::Stream, local: Arc<dyn Records>, node: String) {
    loop {
        if let Err(e) = copy_until_broken(&stream, local.as_ref(), &node).await {
            tracing::warn!("the cluster's records are not copied here ({e}); trying again");
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn copy_until_broken(
    stream: &stream::Stream,
    local: &dyn Records,
    node: &str,
) -> Result<(), String> {
    let name = format!("records-{}", key_safe(node));
    let consumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                inactive_threshold: HISTORY,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let from = message.headers.as_ref().and_then(|h| h.get(NODE_HEADER));
        if from.is_none_or(|from| from.as_str() != node) {
            apply(local, message.subject.as_str(), &message.payload).await?;
        }
        message.ack().await.map_err(|e| e.to_string())?;
    }
    Err("the consumer ended".into())
}

/// Writes one shipped batch into the node's database. A batch that does not read (from a
/// newer Gust, say) is passed over, not retried forever.
async fn apply(local: &dyn Records, subject: &str, payload: &[u8]) -> Result<(), String> {
    let written = match subject {
        INVOCATIONS => match serde_json::from_slice(payload) {
            Ok(records) => local.record_invocations(Arc::new(records)).await,
            Err(e) => skipped(subject, e),
        },
        LOGS => match serde_json::from_slice(payload) {
            Ok(lines) => local.record_logs(lines).await,
            Err(e) => skipped(subject, e),
        },
        _ => Ok(()),
    };
    written.map_err(|e| e.to_string())
}

fn skipped(subject: &str, error: serde_json::Error) -> Result<(), Error> {
    tracing::warn!("a message on {subject} does not read and is skipped: {error}");
    Ok(())
}

#[async_trait]
impl Records for JetStreamRecords {
    async fn record_invocations(&self, records: Arc<Vec<InvocationRecord>>) -> Result<(), Error> {
        self.local.record_invocations(records.clone()).await?;
        for chunk in records.chunks(RECORDS_PER_MESSAGE) {
            self.send(
                INVOCATIONS,
                serde_json::to_vec(chunk).expect("records serialize"),
            );
        }
        Ok(())
    }

    async fn record_logs(&self, lines: Vec<LogLine>) -> Result<(), Error> {
        self.local.record_logs(lines.clone()).await?;
        let mut chunk: Vec<&LogLine> = Vec::new();
        let mut bytes = 0;
        for line in &lines {
            if bytes + line.line.len() > LOG_BYTES_PER_MESSAGE && !chunk.is_empty() {
                self.send(LOGS, serde_json::to_vec(&chunk).expect("lines serialize"));
                (chunk, bytes) = (Vec::new(), 0);
            }
            bytes += line.line.len();
            chunk.push(line);
        }
        if !chunk.is_empty() {
            self.send(LOGS, serde_json::to_vec(&chunk).expect("lines serialize"));
        }
        Ok(())
    }

    async fn invocations(&self, name: &str, limit: u32) -> Result<Vec<InvocationRecord>, Error> {
        self.local.invocations(name, limit).await
    }

    async fn last_invoked(&self, since_ms: i64) -> Result<Vec<(String, i64)>, Error> {
        self.local.last_invoked(since_ms).await
    }

    async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>, Error> {
        self.local.logs(name, limit).await
    }

    async fn invocation_logs(&self, invocation_id: &str) -> Result<Vec<LogLine>, Error> {
        self.local.invocation_logs(invocation_id).await
    }

    async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageSums>, Error> {
        self.local.usage(query).await
    }

    async fn roll_up(&self, before_ms: i64) -> Result<u64, Error> {
        self.local.roll_up(before_ms).await
    }
}

#[cfg(test)]
mod tests {
    use gust_core::UsageGroup;
    use gust_store::SqliteStore;
    use gust_store::conformance::records::record;
    use gust_store::conformance::{self, Fresh};
    use tempfile::TempDir;

    use super::*;
    use crate::test_server::NatsServer;

    /// A node's records: its own database, shared over `server`.
    async fn node(server: &NatsServer, name: &str) -> (JetStreamRecords, TempDir) {
        let dir = TempDir::new().unwrap();
        let local = Arc::new(SqliteStore::open(&dir.path().join("gust.db")).unwrap());
        let jetstream = jetstream::new(server.connect().await);
        let records = JetStreamRecords::start(&jetstream, local, name)
            .await
            .unwrap();
        (records, dir)
    }

    #[tokio::test]
    async fn keeps_records() {
        conformance::records::run(async || {
            let server = NatsServer::start();
            let (records, dir) = node(&server, "a").await;
            Fresh {
                store: records,
                keep: Box::new((server, dir)),
            }
        })
        .await;
    }

    async fn invocations_seen_by(records: &JetStreamRecords) -> u64 {
        let query = UsageQuery {
            from_ms: None,
            to_ms: None,
            function: None,
            group_by: UsageGroup::Function,
        };
        let sums = records.usage(query).await.unwrap();
        sums.iter().map(|sums| sums.invocations).sum()
    }

    #[tokio::test]
    async fn every_node_sums_the_records_of_all() {
        let server = NatsServer::start();
        let (a, _a) = node(&server, "a").await;
        let (b, _b) = node(&server, "b").await;
        let ran_on_a = (1..=3).map(|n| record(n, "hello", 1_000 * i64::from(n), 5));
        a.record_invocations(Arc::new(ran_on_a.collect()))
            .await
            .unwrap();
        let ran_on_b = (4..=5).map(|n| record(n, "other", 1_000 * i64::from(n), 7));
        b.record_invocations(Arc::new(ran_on_b.collect()))
            .await
            .unwrap();
        for _ in 0..100 {
            if invocations_seen_by(&a).await == 5 && invocations_seen_by(&b).await == 5 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "a sees {} invocations and b {}, of 5",
            invocations_seen_by(&a).await,
            invocations_seen_by(&b).await
        );
    }
}
