//! Talking to the brokers: the consumer of a trigger, which counts its group's rebalances, and
//! the check of a new trigger's brokers and topic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, TopicPartitionList};

use super::KafkaConfig;

const METADATA_LIMIT: Duration = Duration::from_secs(5);

/// Counts the group's rebalances. Records fetched before one may belong to partitions this
/// consumer no longer holds, or will fetch again from their committed offset: a round that saw
/// a rebalance drops them.
#[derive(Default, Clone)]
pub struct GroupContext {
    rebalances: Arc<AtomicU64>,
}

impl GroupContext {
    pub fn generation(&self) -> u64 {
        self.rebalances.load(Ordering::SeqCst)
    }
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(
                    "kafka rebalance: {} partitions assigned",
                    partitions.count()
                )
            }
            Rebalance::Revoke(partitions) => {
                tracing::info!("kafka rebalance: {} partitions revoked", partitions.count())
            }
            Rebalance::Error(e) => tracing::warn!("kafka rebalance failed: {e}"),
        }
        self.rebalances.fetch_add(1, Ordering::SeqCst);
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, _: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
    }
}

pub type GroupConsumer = StreamConsumer<GroupContext>;

fn settings(config: &KafkaConfig, client_id: &str) -> ClientConfig {
    let mut settings = ClientConfig::new();
    settings
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", client_id)
        // Short enough that a group forms in seconds and a dead member's partitions move on.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        // How long a fetch waits for records. Kafka answers a waiting fetch as soon as a
        // record arrives; tansu does not, so this is its latency floor (100 ms gave a p50 of
        // 28 ms from produce to function start there, 10 ms gives 5 ms).
        .set("fetch.wait.max.ms", "10")
        .set("socket.timeout.ms", "10000");
    settings
}

/// A consumer in the trigger's group that commits only what it is told to.
pub fn group_consumer(config: &KafkaConfig, client_id: &str) -> Result<GroupConsumer, String> {
    let context = GroupContext::default();
    let consumer: GroupConsumer = settings(config, client_id)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", &config.start)
        .create_with_context(context)
        .map_err(|e| format!("cannot make a Kafka consumer: {e}"))?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(|e| format!("cannot subscribe to {}: {e}", config.topic))?;
    Ok(consumer)
}

/// Whether the brokers answer and have the topic (which Gust does not create).
pub async fn check_topic(config: &KafkaConfig) -> Result<(), String> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let probe: BaseConsumer = settings(&config, "gust-check")
            .create()
            .map_err(|e| format!("bad Kafka settings: {e}"))?;
        let metadata = probe
            .fetch_metadata(Some(&config.topic), METADATA_LIMIT)
            .map_err(|e| format!("cannot reach Kafka at {}: {e}", config.brokers))?;
        let topic = metadata.topics().iter().find(|t| t.name() == config.topic);
        match topic {
            Some(topic) if topic.error().is_none() && !topic.partitions().is_empty() => Ok(()),
            _ => Err(format!(
                "the topic `{}` does not exist at {}",
                config.topic, config.brokers
            )),
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Records of the assigned partitions not committed yet, as the brokers count them.
pub async fn lag(consumer: Arc<GroupConsumer>) -> Result<u64, String> {
    tokio::task::spawn_blocking(move || {
        let assigned = consumer.assignment().map_err(|e| e.to_string())?;
        let committed = consumer
            .committed_offsets(assigned, METADATA_LIMIT)
            .map_err(|e| format!("reading committed offsets: {e}"))?;
        let mut lag = 0;
        for element in committed.elements() {
            let (low, high) = consumer
                .fetch_watermarks(element.topic(), element.partition(), METADATA_LIMIT)
                .map_err(|e| format!("reading the end of {}: {e}", element.topic()))?;
            let from = element.offset().to_raw().filter(|o| *o >= 0).unwrap_or(low);
            lag += (high - from).max(0) as u64;
        }
        Ok(lag)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Commits the next offsets to read, and waits for the group coordinator to take them.
pub async fn commit(consumer: Arc<GroupConsumer>, next: TopicPartitionList) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        consumer
            .commit(&next, rdkafka::consumer::CommitMode::Sync)
            .map_err(|e| format!("committing offsets: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}
