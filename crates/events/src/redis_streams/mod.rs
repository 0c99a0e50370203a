//! The source of kind `redis`: a Redis stream read by a consumer group. Each entry is delivered
//! in place and acknowledged (XACK) after; entries this consumer had not acknowledged when Gust
//! stopped are read again first, and those of a consumer idle for 30 s are claimed
//! (XAUTOCLAIM), so a crash loses nothing.

mod entry;

use std::time::Duration;

use async_trait::async_trait;
use gust_core::{Origin, Trigger};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions, StreamReadReply};
use serde::{Deserialize, Serialize};

use crate::SourceContext;
use crate::stream::{Status, Stream, StreamSource, count_event, report};

/// Entries read at once.
const BATCH: usize = 16;
/// How long a read waits for new entries, in milliseconds.
const BLOCK_MS: usize = 1000;
/// An entry pending this long with another consumer is taken over.
const CLAIM_IDLE_MS: usize = 30_000;
const CLAIM_EVERY: Duration = Duration::from_secs(5);
const CONNECT_LIMIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]`
    url: String,
    stream: String,
    group: String,
    /// This node's name in the group.
    #[serde(default = "default_consumer")]
    consumer: String,
}

fn default_consumer() -> String {
    "gust".into()
}

/// Redis streams read by consumer groups.
pub struct Redis;

pub type RedisSource = StreamSource<Redis>;

#[async_trait]
impl Stream for Redis {
    const KIND: &'static str = "redis";
    type Config = RedisConfig;

    fn checked(config: RedisConfig) -> Result<RedisConfig, String> {
        for (name, value) in [("stream", &config.stream), ("group", &config.group)] {
            if value.is_empty() {
                return Err(format!("a redis trigger needs a {name}"));
            }
        }
        Ok(config)
    }

    async fn reachable(config: &RedisConfig) -> Result<(), String> {
        let mut connection = connect(&config.url).await?;
        create_group(&mut connection, config).await
    }

    async fn session(
        context: &SourceContext,
        trigger: &Trigger,
        config: &RedisConfig,
    ) -> Result<(), String> {
        // In a cluster each node is a consumer of the group: the group spreads the entries,
        // and a node's unacknowledged ones are its own to take back when it restarts.
        let config = RedisConfig {
            consumer: context.per_node(&config.consumer),
            ..config.clone()
        };
        session(context, trigger, &config).await
    }
}

/// Consumes until the connection fails.
async fn session(
    context: &SourceContext,
    trigger: &Trigger,
    config: &RedisConfig,
) -> Result<(), String> {
    let mut connection = connect(&config.url).await?;
    create_group(&mut connection, config).await?;
    report(context, trigger, Status::Running { lag: None }).await;
    // This consumer's own unacknowledged entries first: those of a run that stopped.
    let mut from = "0";
    let mut last_claim = tokio::time::Instant::now() - CLAIM_EVERY;
    loop {
        if last_claim.elapsed() >= CLAIM_EVERY {
            last_claim = tokio::time::Instant::now();
            for entry in claim_abandoned(&mut connection, config).await? {
                deliver(context, trigger, config, &mut connection, entry).await?;
            }
            let lag = lag(&mut connection, config).await?;
            report(context, trigger, Status::Running { lag }).await;
        }
        let mut options = StreamReadOptions::default()
            .group(&config.group, &config.consumer)
            .count(BATCH);
        if from == ">" {
            options = options.block(BLOCK_MS);
        }
        let reply: Option<StreamReadReply> = connection
            .xread_options(&[&config.stream], &[from], &options)
            .await
            .map_err(|e| format!("reading {}: {e}", config.stream))?;
        let entries: Vec<StreamId> = reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .collect();
        if entries.is_empty() && from != ">" {
            from = ">";
        }
        for entry in entries {
            deliver(context, trigger, config, &mut connection, entry).await?;
        }
    }
}

/// Delivers one entry in place, then acknowledges it.
async fn deliver(
    context: &SourceContext,
    trigger: &Trigger,
    config: &RedisConfig,
    connection: &mut MultiplexedConnection,
    entry: StreamId,
) -> Result<(), String> {
    let id = entry.id.clone();
    let request = entry::event(&config.stream, entry).into_request();
    let origin = Origin::new("redis", &trigger.id);
    context
        .queue
        .deliver_in_place(&trigger.function, origin, request)
        .await
        .map_err(|e| format!("cannot deliver {id}: {}", e.message))?;
    let _: u64 = connection
        .xack(&config.stream, &config.group, &[&id])
        .await
        .map_err(|e| format!("acknowledging {id}: {e}"))?;
    count_event(context, trigger);
    Ok(())
}

/// Entries another consumer of the group took and left unacknowledged past the idle time.
async fn claim_abandoned(
    connection: &mut MultiplexedConnection,
    config: &RedisConfig,
) -> Result<Vec<StreamId>, String> {
    let options = StreamAutoClaimOptions::default().count(BATCH);
    let reply: redis::streams::StreamAutoClaimReply = connection
        .xautoclaim_options(
            &config.stream,
            &config.group,
            &config.consumer,
            CLAIM_IDLE_MS,
            "0-0",
            options,
        )
        .await
        .map_err(|e| format!("claiming abandoned entries: {e}"))?;
    Ok(reply.claimed)
}

/// Entries of the stream the group has not read yet, as Redis counts them.
async fn lag(
    connection: &mut MultiplexedConnection,
    config: &RedisConfig,
) -> Result<Option<u64>, String> {
    let groups: redis::streams::StreamInfoGroupsReply = connection
        .xinfo_groups(&config.stream)
        .await
        .map_err(|e| format!("reading the group's lag: {e}"))?;
    Ok(groups
        .groups
        .into_iter()
        .find(|group| group.name == config.group)
        .and_then(|group| group.lag)
        .map(|lag| lag as u64))
}

async fn connect(url: &str) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| format!("bad Redis URL `{url}`: {e}"))?;
    // Reads block for a second on the server: no response timeout of the client's own.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_LIMIT))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| format!("cannot reach Redis at {url}: {e}"))
}

/// The group, made (with the stream) if missing, reading from new entries on.
async fn create_group(
    connection: &mut MultiplexedConnection,
    config: &RedisConfig,
) -> Result<(), String> {
    let created: redis::RedisResult<()> = connection
        .xgroup_create_mkstream(&config.stream, &config.group, "$")
        .await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => {
            Err(format!("cannot create group {}: {e}", config.group))
        }
        _ => Ok(()),
    }
}
