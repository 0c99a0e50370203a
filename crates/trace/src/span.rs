//! A span that records its children as a run of phases, one after the other, each from where
//! the last one ended. Off, it holds nothing and every call returns at once; in a trace that
//! is not sampled, it holds only its context, to pass on.

use std::cell::RefCell;
use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceId, TraceState};

use crate::Attributes;
use crate::batches::Waiting;
use crate::otlp::{self, Phase, Phases, Record};
use crate::protobuf::Message;
use crate::traceparent;

#[derive(Default)]
pub struct Span(Option<Live>);

struct Live {
    context: SpanContext,
    /// What is exported, and when, if the trace is sampled: a span that is not keeps no
    /// more than its context, and reads no clock.
    recording: Option<Box<Recording>>,
}

struct Recording {
    record: Record,
    waiting: Arc<Waiting>,
    /// One moment on both clocks (the wall clock's in nanoseconds since the Unix epoch):
    /// phases are timed on the monotonic one and exported on the wall clock.
    anchor: (Instant, u64),
    /// Where the next phase begins.
    mark: Instant,
}

/// Where a new span goes: which trace, and whether it is recorded.
pub(crate) struct Placement {
    pub trace_id: TraceId,
    pub parent: Option<SpanContext>,
    pub sampled: bool,
}

thread_local! {
    /// Where a thread encodes the spans it ends, before they are queued in one append.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Room kept for a span's name and attributes, enough for an invocation's.
const FIELDS_ROOM: usize = 320;

impl Span {
    pub(crate) fn start(
        waiting: &Arc<Waiting>,
        placement: Placement,
        name: impl Display,
        kind: SpanKind,
        since: Option<SystemTime>,
        attributes: impl FnOnce(&mut Attributes),
    ) -> Span {
        let flags = match placement.sampled {
            true => TraceFlags::SAMPLED,
            false => TraceFlags::NOT_SAMPLED,
        };
        let context = SpanContext::new(
            placement.trace_id,
            otlp::new_span_id(),
            flags,
            false,
            TraceState::NONE,
        );
        let recording = placement.sampled.then(|| {
            let now = (Instant::now(), unix_ns(SystemTime::now()));
            let mut fields = Vec::with_capacity(FIELDS_ROOM);
            Message(&mut fields).display(otlp::NAME, name);
            attributes(&mut Attributes(Message(&mut fields)));
            let record = Record {
                context: context.clone(),
                parent: placement.parent,
                kind,
                start_ns: since.map_or(now.1, |since| unix_ns(since).min(now.1)),
                fields,
                error: None,
                phases: Phases::default(),
            };
            Box::new(Recording {
                record,
                waiting: waiting.clone(),
                anchor: now,
                mark: now.0,
            })
        });
        Span(Some(Live { context, recording }))
    }

    /// Whether spans are recorded and exported (tracing is on and the trace is sampled).
    pub fn is_recording(&self) -> bool {
        self.recording_ref().is_some()
    }

    /// The span's context, to make the next hop its child.
    pub fn context(&self) -> Option<SpanContext> {
        Some(self.0.as_ref()?.context.clone())
    }

    /// The `traceparent` that makes the next hop a child of this span.
    pub fn traceparent(&self) -> Option<HeaderValue> {
        Some(traceparent::header_value(&self.0.as_ref()?.context))
    }

    /// A child from `since` to now, before the phases (a wait that began before this span).
    pub fn waited(&mut self, name: &'static str, since: SystemTime) {
        let Some(recording) = self.recording() else {
            return;
        };
        let now = recording.wall(recording.mark);
        recording.child(name, unix_ns(since).min(now), now);
    }

    /// Ends the current phase now, as a child named `name`.
    pub fn phase(&mut self, name: &'static str) {
        let Some(recording) = self.recording() else {
            return;
        };
        let now = Instant::now();
        recording.child(name, recording.wall(recording.mark), recording.wall(now));
        recording.mark = now;
    }

    /// Ends the current phase now, with no child for it.
    pub fn skip(&mut self) {
        if let Some(recording) = self.recording() {
            recording.mark = Instant::now();
        }
    }

    /// A phase measured elsewhere: a child named `name`, `length` long from the mark.
    pub fn phase_of(&mut self, name: &'static str, length: Duration) {
        let Some(recording) = self.recording() else {
            return;
        };
        let end = recording.mark + length;
        recording.child(name, recording.wall(recording.mark), recording.wall(end));
        recording.mark = end;
    }

    /// Attributes known only as the span goes on; `attributes` is called only for a span
    /// that records.
    pub fn set(&mut self, attributes: impl FnOnce(&mut Attributes)) {
        if let Some(recording) = self.recording() {
            attributes(&mut Attributes(Message(&mut recording.record.fields)));
        }
    }

    /// Marks the span as failed, with why.
    pub fn fail(&mut self, message: impl FnOnce() -> String) {
        if let Some(recording) = self.recording() {
            recording.record.error = Some(message());
        }
    }

    fn recording(&mut self) -> Option<&mut Recording> {
        self.0.as_mut()?.recording.as_deref_mut()
    }

    fn recording_ref(&self) -> Option<&Recording> {
        self.0.as_ref()?.recording.as_deref()
    }

    /// Ends the span now (a dropped span ends too).
    pub fn end(self) {}
}

impl Recording {
    /// `at` on the wall clock, in nanoseconds since the Unix epoch.
    fn wall(&self, at: Instant) -> u64 {
        let (instant, wall) = self.anchor;
        match at.checked_duration_since(instant) {
            Some(after) => wall + after.as_nanos() as u64,
            None => wall.saturating_sub(instant.duration_since(at).as_nanos() as u64),
        }
    }

    fn child(&mut self, name: &'static str, start_ns: u64, end_ns: u64) {
        self.record.phases.push(Phase {
            name,
            start_ns,
            end_ns,
        });
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let end_ns = self.wall(Instant::now());
        ENCODED.with_borrow_mut(|encoded| {
            encoded.clear();
            self.record.encode(end_ns, encoded);
            self.waiting.push(encoded);
        });
    }
}

fn unix_ns(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
