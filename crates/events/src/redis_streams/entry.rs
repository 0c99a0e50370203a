//! A stream entry as the function gets it: a CloudEvent whose data is the entry's fields as a
//! JSON object of strings.

use redis::Value as RedisValue;
use redis::streams::StreamId;
use serde_json::{Map, Value};

use crate::CloudEvent;

pub fn event(stream: &str, entry: StreamId) -> CloudEvent {
    let fields: Map<String, Value> = entry
        .map
        .into_iter()
        .map(|(field, value)| (field, Value::String(text(value))))
        .collect();
    CloudEvent {
        event_type: "dev.gust.redis.message".into(),
        source: format!("/redis/{stream}"),
        time_ms: entry_time_ms(&entry.id),
        subject: Some(entry.id),
        content_type: "application/json".into(),
        data: Value::Object(fields).to_string().into_bytes(),
        traceparent: None,
    }
}

fn text(value: RedisValue) -> String {
    match value {
        RedisValue::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        RedisValue::SimpleString(text) => text,
        RedisValue::Int(number) => number.to_string(),
        RedisValue::Double(number) => number.to_string(),
        other => format!("{other:?}"),
    }
}

/// An entry's id starts with the milliseconds at which Redis added it.
fn entry_time_ms(id: &str) -> i64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_entry_becomes_a_json_event_at_its_own_time() {
        let entry = StreamId {
            id: "1700000000123-4".into(),
            map: HashMap::from([
                (
                    "device".to_string(),
                    RedisValue::BulkString(b"d-7".to_vec()),
                ),
                ("temp".to_string(), RedisValue::Int(21)),
            ]),
            ..Default::default()
        };
        let event = event("sensors", entry);
        assert_eq!(event.time_ms, 1_700_000_000_123);
        assert_eq!(event.subject.as_deref(), Some("1700000000123-4"));
        let data: Value = serde_json::from_slice(&event.data).unwrap();
        assert_eq!(data, serde_json::json!({"device": "d-7", "temp": "21"}));
    }
}
