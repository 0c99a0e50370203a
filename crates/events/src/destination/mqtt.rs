//! `mqtt:TOPIC`: MQTT 3.1.1 has no headers, so the message goes as a structured CloudEvent
//! (JSON with the metadata beside the data), published at QoS 1.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use gust_core::DestinationKind;
use gust_dispatch::{Message, Outlet};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};

const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Messages queued for the connection at most; a send waits for room.
const QUEUED: usize = 256;

pub struct MqttOutlet {
    client: AsyncClient,
}

impl MqttOutlet {
    /// A client of `url` (`mqtt://HOST[:PORT]`) whose connection runs, and reconnects, on a
    /// task of its own.
    pub fn new(url: &str) -> Result<MqttOutlet, String> {
        let (host, port) = crate::mqtt::broker_address(url)?;
        let id = format!("gust-destinations-{}", ulid::Ulid::new());
        let mut options = MqttOptions::new(id, host, port);
        options.set_keep_alive(KEEP_ALIVE);
        let (client, mut connection) = AsyncClient::new(options, QUEUED);
        tokio::spawn(async move {
            loop {
                if let Err(e) = connection.poll().await {
                    tracing::warn!("MQTT destinations: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        Ok(MqttOutlet { client })
    }
}

#[async_trait]
impl Outlet for MqttOutlet {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Mqtt
    }

    async fn send(&self, topic: &str, message: &Message) -> Result<(), String> {
        let event = structured(message);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, event.to_string())
            .await
            .map_err(|e| format!("publishing to {topic}: {e}"))
    }
}

/// The message as a CloudEvent in structured mode: JSON data as JSON, anything else in base64.
fn structured(message: &Message) -> Value {
    let header = |name| message.header(name).unwrap_or_default();
    let mut event = json!({
        "specversion": "1.0",
        "id": header("gust-invocation-id"),
        "source": format!("/gust/functions/{}", header("gust-function")),
        "type": format!("dev.gust.invocation.{}", header("gust-condition")),
        "subject": header("gust-origin"),
        "datacontenttype": header("content-type"),
    });
    match serde_json::from_slice::<Value>(&message.body) {
        Ok(data) if header("content-type").contains("json") => event["data"] = data,
        _ => {
            let data = base64::engine::general_purpose::STANDARD.encode(&message.body);
            event["data_base64"] = json!(data);
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content_type: &str, body: &[u8]) -> Message {
        Message {
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("gust-invocation-id".into(), "01ID".into()),
                ("gust-function".into(), "aggregate".into()),
                ("gust-origin".into(), "kafka:01T".into()),
                ("gust-condition".into(), "success".into()),
            ],
            body: body.to_vec(),
        }
    }

    #[test]
    fn json_goes_as_data_and_the_rest_in_base64() {
        let event = structured(&message("application/json", b"{\"max\":31}"));
        assert_eq!(event["data"]["max"], 31);
        assert_eq!(event["type"], "dev.gust.invocation.success");
        assert_eq!(event["source"], "/gust/functions/aggregate");
        assert_eq!(event["subject"], "kafka:01T");
        let event = structured(&message("text/plain", b"hot"));
        assert_eq!(event["data_base64"], "aG90");
    }
}
