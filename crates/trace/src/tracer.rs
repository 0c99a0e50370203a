//! Where spans go: nowhere (tracing off, the default) or to an OTLP/HTTP collector.

use std::fmt::Display;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanKind, TraceId};

use crate::batches::{self, Exporting, Waiting};
use crate::sampler::{Sampler, Sampling};
use crate::span::Placement;
use crate::{Attributes, Span};

/// The node's tracer: cheap to clone, and off unless built by `otlp`.
#[derive(Clone, Default)]
pub struct Tracer(Option<Arc<Spans>>);

/// Which spans are recorded, and where they wait to be sent.
struct Spans {
    waiting: Arc<Waiting>,
    sampler: Sampler,
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
    /// starts is recorded as `sampling` says. Must be called within a tokio runtime, where
    /// the exporting task runs.
    pub fn otlp(endpoint: &str, sampling: Sampling) -> Result<(Tracer, Exporter), String> {
        let sampler = Sampler::new(sampling)?;
        let (waiting, exporting) = batches::start(traces_url(endpoint)?);
        let spans = Spans { waiting, sampler };
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
        let placement = spans.place(parent, &name);
        Span::start(&spans.waiting, placement, name, kind, since, attributes)
    }
}

impl Spans {
    /// A caller's span makes the new one its child, sampled as the caller said; otherwise a
    /// new trace begins, sampled as the sampler says.
    fn place(&self, parent: Option<SpanContext>, name: &impl Display) -> Placement {
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
                    sampled: self.sampler.samples(name, id),
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
    async fn new_traces_follow_the_sampler_and_children_their_parent() {
        let only_the_first = Sampling {
            ratio: 0.0,
            reservoir: 1,
        };
        let (tracer, _exporter) = Tracer::otlp("http://127.0.0.1:9", only_the_first).unwrap();
        let start = |parent| tracer.start("f", SpanKind::Server, parent, None, |_| {});
        let (first, second) = (start(None), start(None));
        // The second may fall in the next second, and take its reservoir.
        let unsampled = [first, second, start(None)]
            .into_iter()
            .find(|span| !span.is_recording())
            .expect("one trace a second");
        let child = start(unsampled.context());
        assert!(!child.is_recording());
        assert_eq!(
            child.context().unwrap().trace_id(),
            unsampled.context().unwrap().trace_id()
        );
        let sampled_caller =
            crate::traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert!(start(sampled_caller).is_recording());
    }

    #[test]
    fn off_it_makes_empty_spans() {
        let span = Tracer::off().start("f", SpanKind::Server, None, None, |_| unreachable!());
        assert!(span.traceparent().is_none() && !span.is_recording());
    }
}
