use chrono::{TimeZone, Utc};
use gust_core::StoredRequest;

/// An event as CloudEvents' binary mode carries it over HTTP: its attributes in `ce-*`
/// headers, its data as the body of a POST.
pub struct CloudEvent {
    /// Reverse-DNS, e.g. `dev.gust.schedule`.
    pub event_type: String,
    /// Where it happened, e.g. `/gust/triggers/ID` or `/buckets/NAME`.
    pub source: String,
    /// What in the source it is about (an object's key), when there is such a thing.
    pub subject: Option<String>,
    /// When it happened, in milliseconds since the epoch.
    pub time_ms: i64,
    pub content_type: String,
    pub data: Vec<u8>,
    /// The W3C `traceparent` the event came with (a Kafka record's or NATS message's header),
    /// so that its invocation joins the producer's trace.
    pub traceparent: Option<String>,
}

impl CloudEvent {
    /// The event's time as CloudEvents writes it (RFC 3339, UTC, milliseconds).
    pub fn time(&self) -> String {
        Utc.timestamp_millis_opt(self.time_ms)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    }

    /// The request that delivers it; each has an id of its own.
    pub fn into_request(self) -> StoredRequest {
        let mut headers = vec![
            ("ce-specversion".into(), "1.0".into()),
            ("ce-id".into(), ulid::Ulid::new().to_string()),
            ("ce-source".into(), self.source.clone()),
            ("ce-type".into(), self.event_type.clone()),
            ("ce-time".into(), self.time()),
            ("content-type".into(), self.content_type),
        ];
        if let Some(subject) = &self.subject {
            headers.push(("ce-subject".into(), subject.clone()));
        }
        if let Some(traceparent) = self.traceparent {
            headers.push(("traceparent".into(), traceparent));
        }
        StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers,
            body: self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_go_in_headers_and_data_in_the_body() {
        let event = CloudEvent {
            event_type: "dev.gust.bucket.object.created".into(),
            source: "/buckets/photos".into(),
            subject: Some("a/b.jpg".into()),
            time_ms: 1_700_000_000_123,
            content_type: "application/json".into(),
            data: b"{}".to_vec(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        };
        let request = event.into_request();
        let header = |name: &str| {
            let found = request.headers.iter().find(|(n, _)| n == name);
            found.map(|(_, value)| value.as_str())
        };
        assert_eq!(header("ce-time"), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(header("ce-subject"), Some("a/b.jpg"));
        assert_eq!(header("ce-id").map(str::len), Some(26));
        assert_eq!(header("traceparent").map(str::len), Some(55));
        assert_eq!(
            (request.method.as_str(), request.body.as_slice()),
            ("POST", &b"{}"[..])
        );
    }
}
