//! Kafka records as a Kafka trigger with `--batch-size` above 1 delivers them: a batch in the
//! shape of Lambda's Kafka event, read here as a Lambda handler reads it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// One record, its key and value decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// The records of a batch, partition by partition (`TOPIC-PARTITION`), each in offset order.
pub fn kafka_batch(body: &[u8]) -> Result<BTreeMap<String, Vec<KafkaRecord>>, String> {
    let event: Event =
        serde_json::from_slice(body).map_err(|e| format!("not a Kafka batch: {e}"))?;
    let mut partitions = BTreeMap::new();
    for (name, records) in event.records {
        let decoded: Result<Vec<KafkaRecord>, String> =
            records.into_iter().map(WireRecord::decode).collect();
        partitions.insert(name, decoded?);
    }
    Ok(partitions)
}

#[derive(Deserialize)]
struct Event {
    records: BTreeMap<String, Vec<WireRecord>>,
}

#[derive(Deserialize)]
struct WireRecord {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Option<String>,
    value: String,
}

impl WireRecord {
    fn decode(self) -> Result<KafkaRecord, String> {
        let decode = |text: &str| {
            STANDARD
                .decode(text)
                .map_err(|e| format!("a record at offset {} is not base64: {e}", self.offset))
        };
        Ok(KafkaRecord {
            key: self.key.as_deref().map(decode).transpose()?,
            value: decode(&self.value)?,
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_shaped_batch_is_read_partition_by_partition() {
        let body = br#"{"eventSource":"SelfManagedKafka","bootstrapServers":"k:9092",
            "records":{"sensors-1":[
              {"topic":"sensors","partition":1,"offset":7,"timestamp":1700000000123,
               "timestampType":"CREATE_TIME","key":"ZC03","value":"eyJ0ZW1wIjoyMX0=","headers":[]},
              {"topic":"sensors","partition":1,"offset":8,"timestamp":1700000000124,
               "timestampType":"CREATE_TIME","value":"e30=","headers":[]}]}}"#;
        let batch = kafka_batch(body).unwrap();
        let records = &batch["sensors-1"];
        assert_eq!(records[0].key.as_deref(), Some(&b"d-7"[..]));
        assert_eq!(records[0].value, br#"{"temp":21}"#);
        assert_eq!((records[1].offset, records[1].key.clone()), (8, None));
        assert!(kafka_batch(b"{}").unwrap_err().contains("not a Kafka batch"));
    }
}
