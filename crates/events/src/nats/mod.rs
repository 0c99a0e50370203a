//! The source of kind `nats`: core NATS subjects (at most once: a message that arrives while
//! Gust is down, or that it holds when it dies, is gone) and JetStream durable pull consumers
//! (at least once: acknowledged after delivery in place, kept alive with progress acks while
//! the function runs, delivered again after a crash).

mod core_nats;
mod jetstream;

use std::time::Duration;

use async_trait::async_trait;
use gust_core::Trigger;
use serde::{Deserialize, Serialize};

use crate::stream::{Stream, StreamSource};
use crate::{CloudEvent, SourceContext};

const CONNECT_LIMIT: Duration = Duration::from_secs(3);

/// Either `subject` (core NATS, with an optional queue group) or `stream` and `consumer`
/// (JetStream).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://HOST[:PORT]`
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumer: Option<String>,
}

/// What a trigger reads, once its settings are checked.
enum Feed<'a> {
    Subject {
        subject: &'a str,
        queue_group: Option<&'a str>,
    },
    JetStream {
        stream: &'a str,
        consumer: &'a str,
    },
}

impl NatsConfig {
    fn checked(self) -> Result<NatsConfig, String> {
        self.feed()?;
        Ok(self)
    }

    fn feed(&self) -> Result<Feed<'_>, String> {
        match (&self.subject, &self.stream, &self.consumer) {
            (Some(subject), None, None) => Ok(Feed::Subject {
                subject,
                queue_group: self.queue_group.as_deref(),
            }),
            (None, Some(stream), Some(consumer)) if self.queue_group.is_none() => {
                Ok(Feed::JetStream { stream, consumer })
            }
            _ => Err(
                "a nats trigger reads either a `subject` (core NATS, with an optional \
                      `queue_group`) or a JetStream `stream` with a durable `consumer`"
                    .into(),
            ),
        }
    }
}

async fn connect(url: &str) -> Result<async_nats::Client, String> {
    let options = async_nats::ConnectOptions::new().connection_timeout(CONNECT_LIMIT);
    tokio::time::timeout(CONNECT_LIMIT, options.connect(url))
        .await
        .map_err(|_| format!("cannot reach NATS at {url}: no answer in {CONNECT_LIMIT:?}"))?
        .map_err(|e| format!("cannot reach NATS at {url}: {e}"))
}

/// A message as the function gets it: a CloudEvent whose body is the message's payload.
fn event(message: &async_nats::Message, sequence: Option<u64>) -> CloudEvent {
    let headers = message.headers.as_ref();
    let content_type = headers
        .and_then(|headers| headers.get("Content-Type"))
        .map_or("application/octet-stream", |value| value.as_str());
    CloudEvent {
        event_type: "dev.gust.nats.message".into(),
        source: format!("/nats/{}", message.subject),
        subject: sequence.map(|s| s.to_string()),
        time_ms: gust_core::now_ms(),
        content_type: content_type.to_string(),
        data: message.payload.to_vec(),
        traceparent: headers
            .and_then(|headers| headers.get("traceparent"))
            .map(|value| value.to_string()),
    }
}

/// NATS subjects and JetStream consumers.
pub struct Nats;

pub type NatsSource = StreamSource<Nats>;

#[async_trait]
impl Stream for Nats {
    const KIND: &'static str = "nats";
    type Config = NatsConfig;

    fn checked(config: NatsConfig) -> Result<NatsConfig, String> {
        config.checked()
    }

    async fn reachable(config: &NatsConfig) -> Result<(), String> {
        let client = connect(&config.url).await?;
        match config.feed()? {
            Feed::JetStream { stream, consumer } => jetstream::consumer(&client, stream, consumer)
                .await
                .map(drop),
            Feed::Subject { .. } => Ok(()),
        }
    }

    async fn session(
        context: &SourceContext,
        trigger: &Trigger,
        config: &NatsConfig,
    ) -> Result<(), String> {
        let client = connect(&config.url).await?;
        match config.feed()? {
            Feed::Subject {
                subject,
                queue_group,
            } => core_nats::session(context, trigger, client, subject, queue_group).await,
            Feed::JetStream { stream, consumer } => {
                jetstream::session(context, trigger, client, stream, consumer).await
            }
        }
    }
}
