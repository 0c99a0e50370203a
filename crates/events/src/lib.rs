//! Event sources that end in the dispatcher. Each kind of trigger is a `Source` in a module of
//! its own: cron schedules, bucket notifications and signed webhooks store each event as an
//! asynchronous invocation; the stream sources (Redis streams, NATS, MQTT, Kafka) deliver in
//! place and acknowledge after. Also here: the broker outlets of destinations.

mod bucket;
mod cloud_event;
mod cron;
mod destination;
mod kafka;
mod mqtt;
mod nats;
mod redis_streams;
mod settings;
mod source;
mod stream;
mod triggers;
mod webhook;

pub use bucket::BucketSource;
pub use cloud_event::CloudEvent;
pub use cron::{CronSchedule, CronSource};
pub use destination::{KafkaOutlet, MqttOutlet, NatsOutlet};
pub use kafka::KafkaSource;
pub use mqtt::MqttSource;
pub use nats::NatsSource;
pub use redis_streams::RedisSource;
pub use source::{Checked, Source, SourceContext};
pub use triggers::Triggers;
pub use webhook::{Scheme as WebhookScheme, WebhookSource};
