//! The brokers a node sends `kafka:`, `nats:` and `mqtt:` destinations to.

use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use gust_dispatch::{Outlet, Outlets};
use gust_events::{KafkaOutlet, MqttOutlet, NatsOutlet};

#[derive(Args)]
pub struct DestinationArgs {
    /// Kafka brokers (HOST:PORT[,..]) that `kafka:TOPIC` destinations are produced to.
    #[arg(long, env = "GUST_DESTINATION_KAFKA")]
    destination_kafka: Option<String>,
    /// NATS server (nats://HOST[:PORT]) that `nats:SUBJECT` destinations are published to.
    #[arg(long, env = "GUST_DESTINATION_NATS")]
    destination_nats: Option<String>,
    /// MQTT broker (mqtt://HOST[:PORT]) that `mqtt:TOPIC` destinations are published to.
    #[arg(long, env = "GUST_DESTINATION_MQTT")]
    destination_mqtt: Option<String>,
}

impl DestinationArgs {
    pub async fn outlets(&self) -> anyhow::Result<Outlets> {
        let mut outlets: Vec<Arc<dyn Outlet>> = Vec::new();
        if let Some(brokers) = &self.destination_kafka {
            outlets.push(Arc::new(KafkaOutlet::new(brokers).map_err(|e| anyhow!(e))?));
        }
        if let Some(url) = &self.destination_nats {
            outlets.push(Arc::new(
                NatsOutlet::new(url).await.map_err(|e| anyhow!(e))?,
            ));
        }
        if let Some(url) = &self.destination_mqtt {
            outlets.push(Arc::new(MqttOutlet::new(url).map_err(|e| anyhow!(e))?));
        }
        Ok(Outlets::new(outlets))
    }
}
