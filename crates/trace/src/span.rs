//! A span that records its children as a run of phases, one after the other, each from where
//! the last one ended. Off, it holds nothing and every call returns at once.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderValue;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;

use crate::traceparent;

#[derive(Default)]
pub struct Span(Option<Box<Live>>);

struct Live {
    span: opentelemetry_sdk::trace::Span,
    /// The context children are started in.
    context: Context,
    tracer: SdkTracer,
    /// One moment on both clocks: phases are timed on the monotonic one and exported on the
    /// wall clock.
    anchor: (Instant, SystemTime),
    /// Where the next phase begins.
    mark: Instant,
}

impl Span {
    pub(crate) fn start(
        tracer: &SdkTracer,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: Option<SpanContext>,
        since: Option<SystemTime>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Span {
        let now = (Instant::now(), SystemTime::now());
        let parent = match parent {
            Some(parent) => Context::new().with_remote_span_context(parent),
            None => Context::new(),
        };
        let mut span = tracer
            .span_builder(name)
            .with_kind(kind)
            .with_start_time(since.unwrap_or(now.1).min(now.1))
            .start_with_context(tracer, &parent);
        // A span that was not sampled keeps no attributes: they are not even made.
        if span.is_recording() {
            span.set_attributes(attributes());
        }
        let context = Context::new().with_remote_span_context(span.span_context().clone());
        Span(Some(Box::new(Live {
            span,
            context,
            tracer: tracer.clone(),
            anchor: now,
            mark: now.0,
        })))
    }

    /// Whether spans are recorded and exported (tracing is on and the trace is sampled).
    pub fn is_recording(&self) -> bool {
        self.0.as_ref().is_some_and(|live| live.span.is_recording())
    }

    /// The span's context, to make the next hop its child.
    pub fn context(&self) -> Option<SpanContext> {
        Some(self.0.as_ref()?.span.span_context().clone())
    }

    /// The `traceparent` that makes the next hop a child of this span.
    pub fn traceparent(&self) -> Option<HeaderValue> {
        let live = self.0.as_ref()?;
        Some(traceparent::header_value(live.span.span_context()))
    }

    /// A child from `since` to now, before the phases (a wait that began before this span).
    pub fn waited(&mut self, name: &'static str, since: SystemTime) {
        let Some(live) = self.0.as_mut() else { return };
        let now = live.wall(live.mark);
        live.child(name, since.min(now), now);
    }

    /// Ends the current phase now, as a child named `name`.
    pub fn phase(&mut self, name: &'static str) {
        let Some(live) = self.0.as_mut() else { return };
        let now = Instant::now();
        live.child(name, live.wall(live.mark), live.wall(now));
        live.mark = now;
    }

    /// Ends the current phase now, with no child for it.
    pub fn skip(&mut self) {
        if let Some(live) = self.0.as_mut() {
            live.mark = Instant::now();
        }
    }

    /// A phase measured elsewhere: a child named `name`, `length` long from the mark.
    pub fn phase_of(&mut self, name: &'static str, length: Duration) {
        let Some(live) = self.0.as_mut() else { return };
        let end = live.mark + length;
        live.child(name, live.wall(live.mark), live.wall(end));
        live.mark = end;
    }

    /// Attributes known only as the span goes on; `attributes` is called only for a span
    /// that records.
    pub fn set(&mut self, attributes: impl FnOnce() -> Vec<KeyValue>) {
        if let Some(live) = self.recording() {
            live.span.set_attributes(attributes());
        }
    }

    /// Marks the span as failed, with why.
    pub fn fail(&mut self, message: impl FnOnce() -> String) {
        if let Some(live) = self.recording() {
            live.span.set_status(Status::error(message()));
        }
    }

    fn recording(&mut self) -> Option<&mut Live> {
        self.0
            .as_deref_mut()
            .filter(|live| live.span.is_recording())
    }

    /// Ends the span now (a dropped span ends too).
    pub fn end(self) {
        if let Some(mut live) = self.0 {
            live.span.end();
        }
    }
}

impl Live {
    fn wall(&self, at: Instant) -> SystemTime {
        let (instant, wall) = self.anchor;
        match at.checked_duration_since(instant) {
            Some(after) => wall + after,
            None => wall - instant.duration_since(at),
        }
    }

    fn child(&self, name: &'static str, start: SystemTime, end: SystemTime) {
        // A trace that is not sampled records no children either.
        if !self.span.is_recording() {
            return;
        }
        let mut child = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(start)
            .start_with_context(&self.tracer, &self.context);
        child.end_with_timestamp(end.max(start));
    }
}
