//! Outlets for destinations that go through a broker: `kafka:TOPIC`, `nats:SUBJECT` and
//! `mqtt:TOPIC`, each through the one broker the node was given (`gust serve
//! --destination-kafka`, `--destination-nats`, `--destination-mqtt`).

mod kafka;
mod mqtt;
mod nats;

pub use kafka::KafkaOutlet;
pub use mqtt::MqttOutlet;
pub use nats::NatsOutlet;

/// The `gust-*` metadata of a message, which brokers with headers carry as headers.
fn metadata(message: &gust_dispatch::Message) -> impl Iterator<Item = (&str, &str)> {
    message
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
}
