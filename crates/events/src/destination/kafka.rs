//! `kafka:TOPIC`: a record whose value is the message's body and whose headers are its
//! metadata, acknowledged by every in-sync replica before the send counts as done.

use std::time::Duration;

use async_trait::async_trait;
use gust_core::DestinationKind;
use gust_dispatch::{Message, Outlet};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const SEND_LIMIT: Duration = Duration::from_secs(10);

pub struct KafkaOutlet {
    producer: FutureProducer,
}

impl KafkaOutlet {
    /// A producer for `brokers` (`HOST:PORT[,..]`); it connects when first used.
    pub fn new(brokers: &str) -> Result<KafkaOutlet, String> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "gust-destinations")
            .set("acks", "all")
            .set("linger.ms", "2")
            .create()
            .map_err(|e| format!("bad Kafka settings for destinations: {e}"))?;
        Ok(KafkaOutlet { producer })
    }
}

#[async_trait]
impl Outlet for KafkaOutlet {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Kafka
    }

    async fn send(&self, topic: &str, message: &Message) -> Result<(), String> {
        let headers =
            super::metadata(message).fold(OwnedHeaders::new(), |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            });
        let record = FutureRecord::<(), [u8]>::to(topic)
            .payload(&message.body)
            .headers(headers);
        self.producer
            .send(record, SEND_LIMIT)
            .await
            .map(drop)
            .map_err(|(e, _)| format!("producing to {topic}: {e}"))
    }
}
