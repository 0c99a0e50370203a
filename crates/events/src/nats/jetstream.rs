//! JetStream: a durable pull consumer, one message in flight at a time (in order). A message
//! is acknowledged once delivered in place; while its function runs, progress acks keep
//! JetStream from sending it again; if Gust cannot deliver it, it is nak'ed with a delay.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{PullConsumer, pull};
use futures::StreamExt;
use gust_core::{Origin, Trigger};

use crate::SourceContext;
use crate::stream::{Status, count_event, report};

/// How long JetStream waits for an ack before it delivers again; progress acks come sooner.
const ACK_WAIT: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
const NAK_DELAY: Duration = Duration::from_secs(5);
const LAG_EVERY: Duration = Duration::from_secs(5);

/// The durable consumer, made if missing.
pub async fn consumer(
    client: &async_nats::Client,
    stream: &str,
    name: &str,
) -> Result<PullConsumer, String> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let stream_handle = jetstream
        .get_stream(stream)
        .await
        .map_err(|e| format!("no JetStream stream `{stream}`: {e}"))?;
    let config = pull::Config {
        durable_name: Some(name.to_string()),
        ack_wait: ACK_WAIT,
        max_ack_pending: 1,
        ..Default::default()
    };
    stream_handle
        .get_or_create_consumer(name, config)
        .await
        .map_err(|e| format!("cannot make consumer `{name}` of `{stream}`: {e}"))
}

pub async fn session(
    context: &SourceContext,
    trigger: &Trigger,
    client: async_nats::Client,
    stream: &str,
    name: &str,
) -> Result<(), String> {
    let mut consumer = consumer(&client, stream, name).await?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("cannot read {stream}: {e}"))?;
    let mut last_lag = tokio::time::Instant::now() - LAG_EVERY;
    loop {
        if last_lag.elapsed() >= LAG_EVERY {
            last_lag = tokio::time::Instant::now();
            let info = consumer
                .info()
                .await
                .map_err(|e| format!("consumer info: {e}"))?;
            let lag = Some(info.num_pending);
            report(context, trigger, Status::Running { lag }).await;
        }
        let next = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
        let message = match next {
            Err(_) => continue,
            Ok(None) => return Err(format!("the stream {stream} ended")),
            Ok(Some(message)) => message.map_err(|e| format!("reading {stream}: {e}"))?,
        };
        let sequence = message.info().map(|info| info.stream_sequence).ok();
        let request = super::event(&message, sequence).into_request();
        let origin = Origin::new("nats", &trigger.id);
        let delivery = context
            .queue
            .deliver_in_place(&trigger.function, origin, request);
        tokio::pin!(delivery);
        let mut progress = tokio::time::interval(PROGRESS_EVERY);
        progress.tick().await;
        let delivered = loop {
            tokio::select! {
                delivered = &mut delivery => break delivered,
                _ = progress.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        };
        if let Err(e) = delivered {
            let _ = message.ack_with(AckKind::Nak(Some(NAK_DELAY))).await;
            return Err(format!(
                "cannot deliver message {sequence:?}: {}",
                e.message
            ));
        }
        message
            .double_ack()
            .await
            .map_err(|e| format!("acknowledging message {sequence:?}: {e}"))?;
        count_event(context, trigger);
    }
}
