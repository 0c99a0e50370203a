//! An asynchronous invocation's trace travels in its stored request's `traceparent` header.
//! With tracing on, enqueueing is a span of its own, and the stored header names it: each
//! attempt, the callback and the destinations are then children of the enqueueing, in the
//! trace of the request that enqueued it. With tracing off, a caller's header is kept as it
//! came, and passed on the same way.

use gust_core::StoredRequest;
use gust_store::NewAsync;
use gust_trace::{SpanKind, traceparent};

use super::AsyncQueue;

const HEADER: &str = "traceparent";

/// The `traceparent` stored with an invocation's request.
pub(super) fn stored_parent(request: &StoredRequest) -> Option<&str> {
    let found = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(HEADER));
    found.map(|(_, value)| value.as_str())
}

fn set_parent(request: &mut StoredRequest, value: String) {
    request
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(HEADER));
    request.headers.push((HEADER.to_string(), value));
}

impl AsyncQueue {
    /// Records the enqueueing of `new` and makes it the parent of what follows.
    pub(super) fn trace_enqueue(&self, new: &mut NewAsync) {
        let parent = stored_parent(&new.request).and_then(traceparent::parse);
        let span = self.dispatcher.tracer().start(
            format_args!("enqueue {}", new.function),
            SpanKind::Producer,
            parent,
            None,
            |attributes| {
                attributes
                    .text("faas.invocation_id", &new.id)
                    .text("gust.origin", &new.origin.to_text());
            },
        );
        if let Some(context) = span.context() {
            set_parent(&mut new.request, traceparent::format(&context));
        }
        span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_header_is_found_and_replaced_whatever_its_case() {
        let mut request = StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers: vec![("TraceParent".into(), "old".into())],
            body: Vec::new(),
        };
        assert_eq!(stored_parent(&request), Some("old"));
        set_parent(&mut request, "new".into());
        assert_eq!(request.headers, vec![("traceparent".into(), "new".into())]);
    }
}
