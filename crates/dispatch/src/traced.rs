//! An invocation's trace: a span from when the call arrived (or its event was queued) to when
//! its record is written, with a child for each phase it went through.

use std::time::{Duration, UNIX_EPOCH};

use gust_core::{InvocationRecord, InvocationStatus};
use gust_runtime::Outcome;
use gust_trace::{Attributes, Span, SpanKind, Tracer, traceparent};
use http::HeaderMap;

use crate::Entry;

/// The invocation's span, a child of the caller's `traceparent` among `headers` if it sent
/// one. An event that waited in a queue starts its span, and a `queue wait` child, when it
/// was queued.
pub fn start(tracer: &Tracer, entry: &Entry, headers: &HeaderMap) -> Span {
    let since = entry
        .queued_since_ms
        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64));
    let kind = if entry.origin.is_request() {
        SpanKind::Server
    } else {
        SpanKind::Consumer
    };
    let mut span = tracer.start(
        entry.function,
        kind,
        traceparent::from_headers(headers),
        since,
        |attributes| {
            attributes
                .text("faas.invocation_id", &entry.invocation_id)
                .text("gust.origin", &entry.origin.to_text())
                .int("gust.attempt", i64::from(entry.attempt));
        },
    );
    if let Some(since) = since {
        span.waited("queue wait", since);
    }
    span
}

/// The runtime's phases, from the run's outcome: starting an instance (when one was started)
/// and the guest's run.
pub fn ran(span: &mut Span, outcome: &Outcome) {
    let instance_start = outcome.instance_start.unwrap_or_default();
    if outcome.instance_start.is_some() {
        span.phase_of("instance start", instance_start);
    }
    span.phase_of("guest run", outcome.duration.saturating_sub(instance_start));
}

/// What the record says of the run, on its span.
pub fn describe(span: &mut Span, record: &InvocationRecord) {
    span.set(|attributes| {
        ran_as(attributes, &record.function, record.version, record.cold)
            .int("gust.billed_ms", record.billed_ms as i64)
            .text("gust.status", record.status.as_str())
            .int("http.response.status_code", i64::from(record.http_status));
    });
    if record.status != InvocationStatus::Ok {
        span.fail(|| record.error.clone().unwrap_or_default());
    }
}

/// Which function and version ran, and whether it paid a start.
pub fn ran_as<'a, 'b>(
    attributes: &'a mut Attributes<'b>,
    function: &str,
    version: u32,
    cold: bool,
) -> &'a mut Attributes<'b> {
    attributes
        .text("faas.name", function)
        .int("faas.version", i64::from(version))
        .flag("faas.coldstart", cold)
}
