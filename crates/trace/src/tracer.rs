//! Where spans go: nowhere (tracing off, the default) or to an OTLP/HTTP collector.

use std::fmt::Display;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanKind, TraceId};

use crate::batches::{self, Exporting, Waiting};
use crate::span::Placement;
use crate::{Attributes, Span};

/// The node's tracer: cheap to clone, and off unless built by `otlp`.
#[derive(Clone, Default)]
pub struct Tracer(Option<Arc<Spans>>);

/// Which spans are recorded, and where they wait to be sent.
struct Spans {
    waiting: Arc<Waiting>,
    /// A trace Gust starts is sampled when the low 63 bits of its id are below this.
    sample_below: u64,
}

/// The exporting side of a tracer: `shutdown` sends what is still waiting.
pub struct Exporter(Exporting);

impl Tracer {
    /// A tracer that records nothing.
    pub fn off() -> Tracer {
        Tracer(None)
    }

    /// A tracer whose spans are sent over OTLP/HTTP (protobuf) to `endpoint`: a collector's
    /// base address (`http://host:4318`, to which `/v1/traces` is added) or its full traces
    /// address. A trace a caller started follows the caller's sampling decision; one Gust
    /// starts is recorded with probability `sample_ratio`. Must be called within a tokio
    /// runtime, where the exporting task runs.
    pub fn otlp(endpoint: &str, sample_ratio: f64) -> Result<(Tracer, Exporter), String> {
        if !(sample_ratio > 0.0 && sample_ratio <= 1.0) {
            return Err(format!(
                "--trace-sample-ratio {sample_ratio} must be more than 0 and at most 1"
            ));
        }
        let (waiting, exporting) = batches::start(traces_url(endpoint)?);
        let spans = Spans {
            waiting,
            sample_below: (sample_ratio * (1u64 << 63) as f64) as u64,
        };
        Ok((Tracer(Some(Arc::new(spans))), Exporter(exporting)))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Starts a span, as a child of `parent` when a caller sent one, and at `since` when it
    /// began before now (an event that waited in a queue). The name is written and
    /// `attributes` called only for a span that records; off, the span is empty.
    pub fn start(
        &self,
        name: impl Display,
        kind: SpanKind,
        parent: Option<SpanContext>,
        since: Option<SystemTime>,
        attributes: impl FnOnce(&mut Attributes),
    ) -> Span {
        let Some(spans) = &self.0 else {
            return Span::default();
        };
        let placement = spans.place(parent);
        Span::start(&spans.waiting, placement, name, kind, since, attributes)
    }
}

impl Spans {
    /// A caller's span makes the new one its child, sampled as the caller said; otherwise a
    /// new trace begins, sampled by its id.
    fn place(&self, parent: Option<SpanContext>) -> Placement {
        match parent {
            Some(parent) => Placement {
                trace_id: parent.trace_id(),
                sampled: parent.is_sampled(),
                parent: Some(parent),
            },
            None => {
                let id = rand::random::<u128>().max(1);
                Placement {
                    trace_id: TraceId::from(id),
                    sampled: (id as u64) >> 1 < self.sample_below,
                    parent: None,
                }
            }
        }
    }
}

impl Exporter {
    /// Sends the spans still waiting and stops exporting.
    pub async fn shutdown(self) {
        self.0.stop().await;
    }
}

/// The address spans are posted to: OTLP/HTTP's `/v1/traces` on the collector given.
fn traces_url(endpoint: &str) -> Result<String, String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("--otlp-endpoint {endpoint:?} is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!(
            "--otlp-endpoint {endpoint:?} must be an http:// or https:// URL, such as \
             http://127.0.0.1:4318"
        ));
    }
    let base = endpoint.trim_end_matches('/');
    Ok(if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_address_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces/").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://c/otel/").unwrap(),
            "https://c/otel/v1/traces"
        );
    }

    #[test]
    fn an_address_without_scheme_is_refused() {
        let error = traces_url("127.0.0.1:4318").unwrap_err();
        assert!(error.contains("http://"), "{error}");
    }

    #[tokio::test]
    async fn a_sample_ratio_outside_0_to_1_is_refused() {
        for ratio in [0.0, -1.0, 1.5, f64::NAN] {
            let refused = Tracer::otlp("http://127.0.0.1:4318", ratio).err();
            assert!(refused.is_some_and(|e| e.contains("at most 1")), "{ratio}");
        }
    }

    #[tokio::test]
    async fn new_traces_are_sampled_at_the_ratio_and_children_as_their_parent() {
        let (tracer, _exporter) = Tracer::otlp("http://127.0.0.1:9", 0.25).unwrap();
        let start = |parent| tracer.start("f", SpanKind::Server, parent, None, |_| {});
        let sampled = (0..4_000).filter(|_| start(None).is_recording()).count();
        assert!(
            (800..1_200).contains(&sampled),
            "{sampled} of 4,000 sampled at 0.25"
        );

        let unsampled = std::iter::repeat_with(|| start(None))
            .find(|span| !span.is_recording())
            .unwrap();
        let child = start(unsampled.context());
        assert!(!child.is_recording());
        assert_eq!(
            child.context().unwrap().trace_id(),
            unsampled.context().unwrap().trace_id()
        );
    }

    #[test]
    fn off_it_makes_empty_spans() {
        let span = Tracer::off().start("f", SpanKind::Server, None, None, |_| unreachable!());
        assert!(span.traceparent().is_none() && !span.is_recording());
    }
}
