//! The source of kind `mqtt`: a topic filter read in a persistent session (a fixed client id,
//! clean session off), so that QoS 1 messages published while Gust is down wait in the broker.
//! Each message is delivered in place, in order, and acknowledged (PUBACK) only after: one in
//! flight when Gust dies is sent again by the broker when the session resumes.

use std::time::Duration;

use async_trait::async_trait;
use gust_core::{Origin, Trigger};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::stream::{Status, Stream, StreamSource, count_event, report};
use crate::{CloudEvent, SourceContext};

const CONNECT_LIMIT: Duration = Duration::from_secs(3);
const KEEP_ALIVE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://HOST[:PORT]`
    url: String,
    /// A topic filter (`+` and `#` allowed).
    topic: String,
    /// 1 (at least once, the default) or 0 (at most once).
    #[serde(default = "at_least_once")]
    qos: u8,
}

fn at_least_once() -> u8 {
    1
}

impl MqttConfig {
    fn qos(&self) -> Result<QoS, String> {
        match self.qos {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            other => Err(format!("qos {other} is not supported: use 0 or 1")),
        }
    }

    /// The session's options: one client id per trigger, kept across restarts.
    fn options(&self, client_id: &str) -> Result<MqttOptions, String> {
        let (host, port) = broker_address(&self.url)?;
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(KEEP_ALIVE);
        Ok(options)
    }
}

/// The broker's address, from `mqtt://HOST[:PORT]`.
pub(crate) fn broker_address(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("mqtt://")
        .ok_or_else(|| format!("`{url}` is not an mqtt://HOST[:PORT] URL"))?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) => port
            .parse()
            .map(|port| (host.to_string(), port))
            .map_err(|_| format!("bad port in `{url}`")),
        None => Ok((rest.to_string(), 1883)),
    }
}

/// MQTT topic filters read in persistent sessions.
pub struct Mqtt;

pub type MqttSource = StreamSource<Mqtt>;

#[async_trait]
impl Stream for Mqtt {
    const KIND: &'static str = "mqtt";
    type Config = MqttConfig;

    fn checked(config: MqttConfig) -> Result<MqttConfig, String> {
        config.qos()?;
        if config.topic.is_empty() {
            return Err("an mqtt trigger needs a topic".into());
        }
        Ok(config)
    }

    async fn reachable(config: &MqttConfig) -> Result<(), String> {
        reachable(config).await
    }

    async fn session(
        context: &SourceContext,
        trigger: &Trigger,
        config: &MqttConfig,
    ) -> Result<(), String> {
        session(context, trigger, config).await
    }
}

/// The trigger's client, one per node in a cluster (a broker drops a client whose id
/// another takes).
fn client_id(context: &SourceContext, trigger: &Trigger) -> String {
    context.per_node(&format!("gust-{}", trigger.id))
}

/// What the trigger subscribes to: in a cluster, a subscription shared by the nodes, so
/// that the broker gives each message to one of them.
fn subscription(context: &SourceContext, trigger: &Trigger, topic: &str) -> String {
    match context.cluster_node {
        Some(_) => format!("$share/gust-{}/{topic}", trigger.id),
        None => topic.to_string(),
    }
}

/// Polls the connection on a task of its own (the broker wants its keep-alives while a
/// function runs) and delivers what arrives here, in order.
async fn session(
    context: &SourceContext,
    trigger: &Trigger,
    config: &MqttConfig,
) -> Result<(), String> {
    let qos = config.qos()?;
    let (client, events) = AsyncClient::new(config.options(&client_id(context, trigger))?, 64);
    let (arrived, mut messages) = mpsc::unbounded_channel();
    let poller = tokio::spawn(poll(events, arrived));
    client
        .subscribe(subscription(context, trigger, &config.topic), qos)
        .await
        .map_err(|e| format!("cannot subscribe to {}: {e}", config.topic))?;
    report(context, trigger, Status::Running { lag: None }).await;
    let result = async {
        while let Some(message) = messages.recv().await {
            let publish = message?;
            let request = event(&publish).into_request();
            let origin = Origin::new("mqtt", &trigger.id);
            context
                .queue
                .deliver_in_place(&trigger.function, origin, request)
                .await
                .map_err(|e| {
                    format!(
                        "cannot deliver a message of {}: {}",
                        publish.topic, e.message
                    )
                })?;
            client
                .ack(&publish)
                .await
                .map_err(|e| format!("acknowledging a message: {e}"))?;
            count_event(context, trigger);
        }
        Err("the MQTT connection closed".to_string())
    }
    .await;
    poller.abort();
    result
}

/// Hands on every message, then the connection's failure, and stops.
async fn poll(mut events: EventLoop, arrived: mpsc::UnboundedSender<Result<Publish, String>>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if arrived.send(Ok(publish)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = arrived.send(Err(format!("MQTT connection: {e}")));
                return;
            }
        }
    }
}

/// A message as the function gets it: a CloudEvent whose body is the payload.
fn event(publish: &Publish) -> CloudEvent {
    CloudEvent {
        event_type: "dev.gust.mqtt.message".into(),
        source: format!("/mqtt/{}", publish.topic),
        subject: Some(publish.topic.clone()),
        time_ms: gust_core::now_ms(),
        content_type: "application/octet-stream".into(),
        data: publish.payload.to_vec(),
        traceparent: None,
    }
}

/// Connects once, to tell a broker that cannot be reached at `trigger add`.
async fn reachable(config: &MqttConfig) -> Result<(), String> {
    let mut options = config.options(&format!("gust-check-{}", ulid::Ulid::new()))?;
    options.set_clean_session(true);
    let (client, mut events) = AsyncClient::new(options, 4);
    let connected = tokio::time::timeout(CONNECT_LIMIT, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let _ = client.disconnect().await;
    match connected {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot reach MQTT at {}: {e}", config.url)),
        Err(_) => Err(format!(
            "cannot reach MQTT at {}: no answer in {CONNECT_LIMIT:?}",
            config.url
        )),
    }
}
