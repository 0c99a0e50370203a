//! The body of a bucket event: S3's event notification JSON, so that a handler written for
//! Lambda reads it unchanged.

use chrono::{TimeZone, Utc};
use gust_bucket::{Change, ChangeKind};
use serde_json::{Value, json};

/// S3's event name: `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`,
/// `ObjectRemoved:Delete`, ...
pub fn event_name(change: &Change) -> String {
    match &change.what {
        ChangeKind::Created { how, .. } => format!("ObjectCreated:{how}"),
        ChangeKind::Removed => "ObjectRemoved:Delete".into(),
    }
}

pub fn notification(change: &Change, trigger_id: &str) -> Value {
    let time = Utc
        .timestamp_millis_opt(change.at_ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let mut object = json!({"key": encode_key(&change.key), "sequencer": change.sequencer});
    if let ChangeKind::Created { size, etag, .. } = &change.what {
        object["size"] = json!(size);
        object["eTag"] = json!(etag);
    }
    let principal = change.writer.as_deref().unwrap_or("gust");
    json!({"Records": [{
        "eventVersion": "2.1",
        // Handlers ported from Lambda check this value.
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": time,
        "eventName": event_name(change),
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": trigger_id,
            "bucket": {
                "name": change.bucket,
                "ownerIdentity": {"principalId": "gust"},
                "arn": format!("arn:aws:s3:::{}", change.bucket),
            },
            "object": object,
        },
    }]})
}

/// Keys are URL-encoded as S3 writes them in notifications: a space becomes `+`, `/` and
/// unreserved characters stay, every other byte is `%XX` (`unquote_plus` reads it back).
pub fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => encoded.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_lambda_handlers_expect() {
        let change = Change {
            bucket: "photos".into(),
            key: "my cat/é+1.jpg".into(),
            what: ChangeKind::Created {
                how: "Put",
                size: 1234,
                etag: "abc".into(),
            },
            at_ms: 1_700_000_000_000,
            sequencer: "01J".into(),
            writer: None,
            traceparent: None,
        };
        let body = notification(&change, "T1");
        let record = &body["Records"][0];
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["s3"]["bucket"]["name"], "photos");
        assert_eq!(record["s3"]["object"]["key"], "my+cat/%C3%A9%2B1.jpg");
        assert_eq!(record["s3"]["object"]["size"], 1234);
        assert_eq!(record["s3"]["object"]["eTag"], "abc");
        assert_eq!(record["eventTime"], "2023-11-14T22:13:20.000Z");
    }
}
