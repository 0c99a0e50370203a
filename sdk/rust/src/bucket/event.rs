//! The S3 event notification a bucket trigger delivers, read as a Lambda handler reads it.

use serde::Deserialize;

/// One change of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub name: String,
    pub bucket: String,
    /// The key, decoded (the notification carries it URL-encoded).
    pub key: String,
    pub size: u64,
}

impl ObjectEvent {
    pub fn is_created(&self) -> bool {
        self.name.starts_with("ObjectCreated:")
    }
}

/// The events of a notification's body; an error says what was not a notification.
pub fn object_events(body: &[u8]) -> Result<Vec<ObjectEvent>, String> {
    let notification: Notification = serde_json::from_slice(body)
        .map_err(|e| format!("not an S3 event notification: {e}"))?;
    Ok(notification
        .records
        .into_iter()
        .map(|record| ObjectEvent {
            name: record.event_name,
            bucket: record.s3.bucket.name,
            key: form_decode(&record.s3.object.key),
            size: record.s3.object.size,
        })
        .collect())
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: String,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Named,
    object: Object,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: u64,
}

/// Keys come encoded as in a form: `+` for a space, `%XX` for other bytes.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        decoded.push(byte);
                        i += 2;
                    }
                    None => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_notification_and_decodes_its_key() {
        let body = br#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{
            "bucket":{"name":"photos"},"object":{"key":"summer+2026/caf%C3%A9.jpg","size":42}}}]}"#;
        let events = object_events(body).unwrap();
        assert_eq!(events[0].bucket, "photos");
        assert_eq!(events[0].key, "summer 2026/café.jpg");
        assert_eq!(events[0].size, 42);
        assert!(events[0].is_created());
        assert!(object_events(b"{}").is_err());
        assert_eq!(form_decode("100%"), "100%");
    }
}
