//! Where spans go: nowhere (tracing off, the default) or to an OTLP/HTTP collector.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, SpanKind, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, SpanExporter as _};

use crate::Span;
use crate::batches::{self, Exporting};

/// The node's tracer: cheap to clone, and off unless built by `otlp`.
#[derive(Clone, Default)]
pub struct Tracer(Option<SdkTracer>);

/// The exporting side of a tracer: `shutdown` sends what is still waiting.
pub struct Exporter {
    exporting: Exporting,
    _provider: SdkTracerProvider,
}

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
        let url = traces_url(endpoint)?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| format!("cannot export traces to {url}: {e}"))?;
        let resource = Resource::builder().with_service_name("gust").build();
        exporter.set_resource(&resource);
        let (batches, exporting) = batches::start(exporter);
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(sample_ratio)));
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(batches)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("gust");
        let exporter = Exporter {
            exporting,
            _provider: provider,
        };
        Ok((Tracer(Some(tracer)), exporter))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Starts a span, as a child of `parent` when a caller sent one, and at `since` when it
    /// began before now (an event that waited in a queue). `attributes` is called only for a
    /// span that records; off, the span is empty.
    pub fn start(
        &self,
        name: impl FnOnce() -> Cow<'static, str>,
        kind: SpanKind,
        parent: Option<SpanContext>,
        since: Option<SystemTime>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Span {
        match &self.0 {
            Some(tracer) => Span::start(tracer, name(), kind, parent, since, attributes),
            None => Span::default(),
        }
    }
}

impl Exporter {
    /// Sends the spans still waiting and stops exporting.
    pub async fn shutdown(self) {
        self.exporting.stop().await;
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

    #[test]
    fn off_it_makes_empty_spans() {
        let span = Tracer::off().start(
            || unreachable!(),
            SpanKind::Server,
            None,
            None,
            || unreachable!(),
        );
        assert!(span.traceparent().is_none() && !span.is_recording());
    }
}
