//! The source of kind `kafka`: a topic read by a consumer group, with offsets committed by hand.
//! Records are taken in rounds: each round's records are delivered in place, the partitions
//! side by side and each partition's in order, one batch after the other; then the round's
//! offsets are committed. So a record is committed only once its function succeeded or it was
//! dead-lettered, and kill -9 loses nothing: what was not committed is read again.
//!
//! A rebalance is served only inside a read, never while a round is being delivered: a round
//! is committed before the group can move its partitions, and records read before a rebalance
//! are dropped (their new owner reads them from the committed offset).

mod client;
mod record;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use gust_core::{Origin, Trigger};
use rdkafka::consumer::Consumer;
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::SourceContext;
use crate::stream::{Status, Stream, StreamSource, count_event, report};
use client::GroupConsumer;

/// Records taken in one round at most, as a multiple of the batch size (and at least this).
const ROUND_BATCHES: usize = 10;
const ROUND_MIN: usize = 500;
const MAX_BATCH: usize = 10_000;
const MAX_WINDOW_MS: u64 = 300_000;
/// How long a read waits for a first record before the lag is looked at again.
const IDLE_WAIT: Duration = Duration::from_secs(1);
const LAG_EVERY: Duration = Duration::from_secs(5);
/// The pause after the brokers reported an error, before reading again.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT..]`.
    brokers: String,
    topic: String,
    group: String,
    /// Records per invocation: 1 delivers each record as a CloudEvent, more deliver batches
    /// in the shape of Lambda's Kafka event.
    #[serde(default = "one")]
    batch_size: usize,
    /// How long a batch waits to fill once its first record is in.
    #[serde(default)]
    batch_window_ms: u64,
    /// Where a group with no committed offset starts: `earliest` or `latest`.
    #[serde(default = "latest")]
    start: String,
}

fn one() -> usize {
    1
}

fn latest() -> String {
    "latest".into()
}

impl KafkaConfig {
    fn checked(self) -> Result<KafkaConfig, String> {
        for (name, value) in [
            ("brokers", &self.brokers),
            ("topic", &self.topic),
            ("group", &self.group),
        ] {
            if value.trim().is_empty() {
                return Err(format!("a kafka trigger needs {name}"));
            }
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(format!("batch_size must be 1 to {MAX_BATCH}"));
        }
        if self.batch_window_ms > MAX_WINDOW_MS {
            return Err(format!("batch_window_ms is at most {MAX_WINDOW_MS}"));
        }
        if !["earliest", "latest"].contains(&self.start.as_str()) {
            return Err(format!("start is earliest or latest, not `{}`", self.start));
        }
        Ok(self)
    }

    fn round_limit(&self) -> usize {
        (self.batch_size * ROUND_BATCHES).max(ROUND_MIN)
    }
}

/// Kafka topics read by consumer groups.
pub struct Kafka;

pub type KafkaSource = StreamSource<Kafka>;

#[async_trait]
impl Stream for Kafka {
    const KIND: &'static str = "kafka";
    type Config = KafkaConfig;

    fn checked(config: KafkaConfig) -> Result<KafkaConfig, String> {
        config.checked()
    }

    async fn reachable(config: &KafkaConfig) -> Result<(), String> {
        client::check_topic(config).await
    }

    async fn session(
        context: &SourceContext,
        trigger: &Trigger,
        config: &KafkaConfig,
    ) -> Result<(), String> {
        session(context, trigger, config).await
    }
}

/// Consumes until delivering or committing fails.
async fn session(
    context: &SourceContext,
    trigger: &Trigger,
    config: &KafkaConfig,
) -> Result<(), String> {
    let client_id = format!("gust-{}", trigger.id);
    let consumer = Arc::new(client::group_consumer(config, &client_id)?);
    report(context, trigger, Status::Running { lag: None }).await;
    let mut last_lag = tokio::time::Instant::now() - LAG_EVERY;
    loop {
        if last_lag.elapsed() >= LAG_EVERY {
            last_lag = tokio::time::Instant::now();
            match client::lag(consumer.clone()).await {
                Ok(lag) => report(context, trigger, Status::Running { lag: Some(lag) }).await,
                Err(e) => report(context, trigger, Status::Error(e)).await,
            }
        }
        let round = match read_round(&consumer, config).await {
            Ok(round) => round,
            Err(e) => {
                tracing::warn!(trigger = %trigger.id, "kafka: {e}");
                report(context, trigger, Status::Error(e)).await;
                tokio::time::sleep(ERROR_PAUSE).await;
                continue;
            }
        };
        if !round.is_empty() {
            deliver_round(context, trigger, config, &consumer, round).await?;
        }
    }
}

/// The records of one round: those that came within the batch window after the first (only
/// those ready at once when there is no window), and none read before a rebalance.
async fn read_round(
    consumer: &GroupConsumer,
    config: &KafkaConfig,
) -> Result<Vec<OwnedMessage>, String> {
    let first = match tokio::time::timeout(IDLE_WAIT, consumer.recv()).await {
        Err(_) => return Ok(Vec::new()),
        Ok(read) => read.map_err(|e| format!("reading {}: {e}", config.topic))?,
    };
    let mut records = vec![(consumer.context().generation(), first.detach())];
    let window = Duration::from_millis(config.batch_window_ms);
    let deadline = tokio::time::Instant::now() + window;
    while records.len() < config.round_limit() {
        // A timeout polls its read once before it looks at the deadline: with no window, the
        // round takes what is ready now.
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => return Err(format!("reading {}: {e}", config.topic)),
            Ok(Ok(record)) => records.push((consumer.context().generation(), record.detach())),
        }
    }
    let now = consumer.context().generation();
    Ok(records
        .into_iter()
        .filter(|(generation, _)| *generation == now)
        .map(|(_, record)| record)
        .collect())
}

/// Delivers a round, partitions side by side, and commits what was delivered.
async fn deliver_round(
    context: &SourceContext,
    trigger: &Trigger,
    config: &KafkaConfig,
    consumer: &Arc<GroupConsumer>,
    round: Vec<OwnedMessage>,
) -> Result<(), String> {
    let mut partitions: BTreeMap<i32, Vec<OwnedMessage>> = BTreeMap::new();
    for record in round {
        partitions
            .entry(record.partition())
            .or_default()
            .push(record);
    }
    let deliveries = partitions
        .values()
        .map(|records| deliver_partition(context, trigger, config, records));
    let outcomes = join_all(deliveries).await;
    let mut next = TopicPartitionList::new();
    let mut failure = None;
    for outcome in outcomes {
        match outcome {
            Ok((partition, offset)) => {
                next.add_partition_offset(&config.topic, partition, Offset::Offset(offset + 1))
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if next.count() > 0 {
        client::commit(consumer.clone(), next).await?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Delivers one partition's records in order, a batch at a time; answers the partition and
/// the last offset delivered.
async fn deliver_partition(
    context: &SourceContext,
    trigger: &Trigger,
    config: &KafkaConfig,
    records: &[OwnedMessage],
) -> Result<(i32, i64), String> {
    for batch in records.chunks(config.batch_size) {
        let request = match batch {
            [one] if config.batch_size == 1 => record::single(one),
            _ => record::batch(&config.brokers, batch),
        };
        let origin = Origin::new("kafka", &trigger.id);
        context
            .queue
            .deliver_in_place(&trigger.function, origin, request)
            .await
            .map_err(|e| {
                let at = record::position(&batch[0]);
                format!("cannot deliver {at}: {}", e.message)
            })?;
        for _ in batch {
            count_event(context, trigger);
        }
    }
    let last = records.last().expect("a partition has records");
    Ok((last.partition(), last.offset()))
}
