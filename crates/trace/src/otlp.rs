//! A span as OTLP protobuf (opentelemetry-proto's `trace/v1`), written when it ends straight
//! into the bytes that will be posted: no span objects wait for the exporter, and nothing is
//! converted on the way out.

use opentelemetry::trace::{SpanContext, SpanId, SpanKind};

use crate::protobuf::Message;

/// What is exported of a span that records: kept while it runs.
pub struct Record {
    pub context: SpanContext,
    pub parent: Option<SpanContext>,
    pub kind: SpanKind,
    pub start_ns: u64,
    /// The span's name and attributes, already written as fields of its OTLP `Span`.
    pub fields: Vec<u8>,
    /// Why it failed; a span without one ends with the unset status.
    pub error: Option<String>,
    pub phases: Phases,
}

/// A child span for one phase of the span's run.
#[derive(Clone, Copy, Default)]
pub struct Phase {
    pub name: &'static str,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// The phases of a span, kept in place: an invocation has at most six.
#[derive(Default)]
pub struct Phases {
    kept: [Phase; MAX_PHASES],
    count: usize,
}

const MAX_PHASES: usize = 8;

impl Phases {
    /// Adds a phase; past the most a span keeps, it is left out.
    pub fn push(&mut self, phase: Phase) {
        if let Some(free) = self.kept.get_mut(self.count) {
            *free = phase;
            self.count += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Phase> {
        self.kept[..self.count].iter()
    }
}

/// `Span.name`, written first among a record's `fields`.
pub const NAME: u32 = 5;
/// `Span.flags`: whether the parent's remoteness is known, and that it is remote.
const PARENT_REMOTENESS_KNOWN: u32 = 0x100;
const PARENT_IS_REMOTE: u32 = 0x200;
const STATUS_ERROR: u64 = 2;

impl Record {
    /// Appends the span, ended at `end_ns`, and a child span per phase, each as an entry of
    /// `ScopeSpans.spans`.
    pub fn encode(&self, end_ns: u64, out: &mut Vec<u8>) {
        let trace_id = self.context.trace_id().to_bytes();
        let flags = u32::from(self.context.trace_flags().to_u8());
        Message(out).message(2, |span| {
            span.bytes(1, &trace_id);
            span.bytes(2, &self.context.span_id().to_bytes());
            let mut span_flags = flags | PARENT_REMOTENESS_KNOWN;
            if let Some(parent) = &self.parent {
                span.bytes(4, &parent.span_id().to_bytes());
                if parent.is_remote() {
                    span_flags |= PARENT_IS_REMOTE;
                }
            }
            span.0.extend_from_slice(&self.fields);
            span.varint(6, kind_number(&self.kind));
            span.fixed64(7, self.start_ns);
            span.fixed64(8, end_ns.max(self.start_ns));
            if let Some(error) = &self.error {
                span.message(15, |status| {
                    status.string(2, error);
                    status.varint(3, STATUS_ERROR);
                });
            }
            span.fixed32(16, span_flags);
        });
        for phase in self.phases.iter() {
            Message(out).message(2, |span| {
                span.bytes(1, &trace_id);
                span.bytes(2, &new_span_id().to_bytes());
                span.bytes(4, &self.context.span_id().to_bytes());
                span.string(NAME, phase.name);
                span.varint(6, kind_number(&SpanKind::Internal));
                span.fixed64(7, phase.start_ns);
                span.fixed64(8, phase.end_ns.max(phase.start_ns));
                span.fixed32(16, flags | PARENT_REMOTENESS_KNOWN);
            });
        }
    }
}

/// What goes before `spans` bytes of entries written by `Record::encode` to make them an
/// export request: spans of one service, `gust`.
pub fn export_head(spans: usize) -> Vec<u8> {
    let mut scope = Vec::new();
    Message(&mut scope).message(1, |scope| scope.string(1, "gust"));
    let mut resource_spans = Vec::new();
    let mut fields = Message(&mut resource_spans);
    fields.message(1, |resource| {
        resource.message(1, |pair| {
            pair.string(1, "service.name");
            pair.message(2, |value| value.string(1, "gust"));
        });
    });
    fields.head(2, scope.len() + spans);
    resource_spans.extend_from_slice(&scope);
    let mut head = Vec::new();
    Message(&mut head).head(1, resource_spans.len() + spans);
    head.extend_from_slice(&resource_spans);
    head
}

/// A span id that is not the invalid all-zero one.
pub fn new_span_id() -> SpanId {
    SpanId::from(rand::random::<u64>().max(1))
}

fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Decoded;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind as DecodedKind;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use prost::Message as _;

    use super::*;
    use crate::Attributes;

    fn context(trace: u128, span: u64, remote: bool) -> SpanContext {
        let flags = TraceFlags::SAMPLED;
        SpanContext::new(trace.into(), span.into(), flags, remote, TraceState::NONE)
    }

    #[test]
    fn an_export_decodes_as_otlp() {
        let mut fields = Vec::new();
        Message(&mut fields).string(NAME, "hello");
        Attributes(Message(&mut fields))
            .text("faas.name", "hello")
            .int("gust.attempt", -3)
            .flag("faas.coldstart", true)
            .text("long", &"x".repeat(300));
        let mut phases = Phases::default();
        phases.push(Phase {
            name: "guest run",
            start_ns: 1_100,
            end_ns: 1_900,
        });
        let record = Record {
            context: context(7, 8, false),
            parent: Some(context(7, 9, true)),
            kind: SpanKind::Server,
            start_ns: 1_000,
            fields,
            error: Some("trapped".into()),
            phases,
        };
        let mut spans = Vec::new();
        record.encode(2_000, &mut spans);
        record.encode(2_500, &mut spans);
        let mut body = export_head(spans.len());
        body.extend_from_slice(&spans);
        let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();

        let resource = &request.resource_spans[0];
        let service = &resource.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        let scope = &resource.scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "gust");
        assert_eq!(scope.spans.len(), 4);

        let (span, phase) = (&scope.spans[0], &scope.spans[1]);
        assert_eq!(span.trace_id, TraceId::from(7).to_bytes());
        assert_eq!(span.span_id, SpanId::from(8).to_bytes());
        assert_eq!(span.parent_span_id, SpanId::from(9).to_bytes());
        assert_eq!(
            (span.name.as_str(), span.kind),
            ("hello", DecodedKind::Server as i32)
        );
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (1_000, 2_000)
        );
        assert_eq!(span.flags, 0x301);
        let values: Vec<_> = span
            .attributes
            .iter()
            .map(|pair| {
                (
                    pair.key.as_str(),
                    pair.value.as_ref().unwrap().value.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            values[0],
            ("faas.name", Decoded::StringValue("hello".into()))
        );
        assert_eq!(values[1], ("gust.attempt", Decoded::IntValue(-3)));
        assert_eq!(values[2], ("faas.coldstart", Decoded::BoolValue(true)));
        assert_eq!(values[3], ("long", Decoded::StringValue("x".repeat(300))));
        let status = span.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (StatusCode::Error as i32, "trapped")
        );

        assert_eq!(
            (phase.name.as_str(), phase.kind),
            ("guest run", DecodedKind::Internal as i32)
        );
        assert_eq!(phase.parent_span_id, span.span_id);
        assert_eq!(phase.trace_id, span.trace_id);
        assert_eq!(
            (phase.start_time_unix_nano, phase.end_time_unix_nano),
            (1_100, 1_900)
        );
        assert_ne!(
            phase.span_id, scope.spans[3].span_id,
            "each phase has its own id"
        );
        assert_eq!(scope.spans[2].end_time_unix_nano, 2_500);
    }
}
