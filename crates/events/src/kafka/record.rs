//! Kafka records as the function gets them: one record as a CloudEvent (binary mode, the value
//! as body), or a batch as JSON in the shape of Lambda's self-managed Kafka event, so that
//! Lambda handlers port.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gust_core::StoredRequest;
use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use serde_json::{Map, Value, json};

use crate::CloudEvent;

/// Where a record sits: `TOPIC-PARTITION@OFFSET`.
pub fn position(record: &OwnedMessage) -> String {
    format!(
        "{}-{}@{}",
        record.topic(),
        record.partition(),
        record.offset()
    )
}

pub fn single(record: &OwnedMessage) -> StoredRequest {
    let event = CloudEvent {
        event_type: "dev.gust.kafka.record".into(),
        source: format!("/kafka/{}", record.topic()),
        subject: Some(position(record)),
        time_ms: record
            .timestamp()
            .to_millis()
            .unwrap_or_else(gust_core::now_ms),
        content_type: "application/octet-stream".into(),
        data: record.payload().unwrap_or_default().to_vec(),
        traceparent: traceparent(record),
    };
    let mut request = event.into_request();
    // CloudEvents' Kafka binding names the record's key `partitionkey`.
    if let Some(key) = record.key() {
        let key = String::from_utf8_lossy(key).into_owned();
        request.headers.push(("ce-partitionkey".into(), key));
    }
    request
}

/// The record's `traceparent` header, if its producer traced it.
fn traceparent(record: &OwnedMessage) -> Option<String> {
    let headers = record.headers()?;
    let found = headers.iter().find(|h| h.key == "traceparent")?;
    Some(String::from_utf8_lossy(found.value?).into_owned())
}

/// Records of one partition, in order, as one event.
pub fn batch(bootstrap_servers: &str, records: &[OwnedMessage]) -> StoredRequest {
    let mut by_partition: Map<String, Value> = Map::new();
    for record in records {
        let name = format!("{}-{}", record.topic(), record.partition());
        let list = by_partition.entry(name).or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(lambda_record(record));
        }
    }
    let body = json!({
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": bootstrap_servers,
        "records": by_partition,
    });
    StoredRequest {
        method: "POST".into(),
        path_with_query: "/".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn lambda_record(record: &OwnedMessage) -> Value {
    let (timestamp, timestamp_type) = match record.timestamp() {
        rdkafka::Timestamp::CreateTime(ms) => (ms, "CREATE_TIME"),
        rdkafka::Timestamp::LogAppendTime(ms) => (ms, "LOG_APPEND_TIME"),
        rdkafka::Timestamp::NotAvailable => (-1, "NO_TIMESTAMP_TYPE"),
    };
    let headers: Vec<Value> = record
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|header| json!({ header.key: header.value.unwrap_or_default() }))
                .collect()
        })
        .unwrap_or_default();
    let mut fields = json!({
        "topic": record.topic(),
        "partition": record.partition(),
        "offset": record.offset(),
        "timestamp": timestamp,
        "timestampType": timestamp_type,
        "value": STANDARD.encode(record.payload().unwrap_or_default()),
        "headers": headers,
    });
    if let Some(key) = record.key() {
        fields["key"] = json!(STANDARD.encode(key));
    }
    fields
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;
    use rdkafka::message::{Header, OwnedHeaders};

    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn record(offset: i64, value: &str) -> OwnedMessage {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "source",
                value: Some("probe"),
            })
            .insert(Header {
                key: "traceparent",
                value: Some(TRACEPARENT),
            });
        OwnedMessage::new(
            Some(value.as_bytes().to_vec()),
            Some(b"d-7".to_vec()),
            "sensors".into(),
            Timestamp::CreateTime(1_700_000_000_123),
            2,
            offset,
            Some(headers),
        )
    }

    #[test]
    fn one_record_is_a_cloud_event_with_its_value_as_body() {
        let request = single(&record(41, "{\"temp\":21}"));
        let header = |name: &str| {
            let found = request.headers.iter().find(|(n, _)| n == name);
            found.map(|(_, value)| value.as_str())
        };
        assert_eq!(header("ce-type"), Some("dev.gust.kafka.record"));
        assert_eq!(header("ce-subject"), Some("sensors-2@41"));
        assert_eq!(header("ce-partitionkey"), Some("d-7"));
        assert_eq!(header("ce-time"), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(request.body, b"{\"temp\":21}");
        assert_eq!(
            header("traceparent"),
            Some(TRACEPARENT),
            "the producer's trace"
        );
    }

    #[test]
    fn a_batch_has_lambdas_shape() {
        let request = batch("k1:9092", &[record(41, "a"), record(42, "b")]);
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["eventSource"], "SelfManagedKafka");
        assert_eq!(body["bootstrapServers"], "k1:9092");
        let records = body["records"]["sensors-2"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1]["offset"], 42);
        assert_eq!(records[1]["value"], STANDARD.encode("b"));
        assert_eq!(records[0]["key"], STANDARD.encode("d-7"));
        assert_eq!(records[0]["timestampType"], "CREATE_TIME");
        assert_eq!(records[0]["headers"][0]["source"], json!(b"probe"));
    }
}
