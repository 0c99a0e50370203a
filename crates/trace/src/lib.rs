//! OpenTelemetry traces of invocations. Off by default, when every span is an empty value;
//! on (`gust serve --otlp-endpoint`), a finished span is written as OTLP protobuf and queued,
//! and a tokio task posts the queue in batches over OTLP/HTTP. Spans are built with explicit
//! times, so that a phase measured elsewhere (a queue wait that began before the node took
//! the event, an instance start timed by the runtime) is exported where it happened.

mod attributes;
mod batches;
mod otlp;
mod protobuf;
mod sampler;
mod span;
pub mod traceparent;
mod tracer;

pub use attributes::Attributes;
pub use opentelemetry::trace::{SpanContext, SpanKind};
pub use sampler::Sampling;
pub use span::Span;
pub use tracer::{Exporter, Tracer};
