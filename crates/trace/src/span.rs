//! A span that records its children as a run of phases, one after the other, each from where
//! the last one ended. Off, it holds nothing and every call returns at once; in a trace that
//! is not sampled, it holds only its context, to pass on.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceId, TraceState};

use crate::batches::Waiting;
use crate::otlp::{self, Phase, Record};
use crate::traceparent;

#[derive(Default)]
pub struct Span(Option<Box<Live>>);

struct Live {
    context: SpanContext,
    /// What is exported, and where it goes, when the trace is sampled.
    recording: Option<(Record, Arc<Waiting>)>,
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

impl Span {
    pub(crate) fn start(
        waiting: &Arc<Waiting>,
        placement: Placement,
        name: impl FnOnce() -> Cow<'static, str>,
        kind: SpanKind,
        since: Option<SystemTime>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Span {
        let now = (Instant::now(), unix_ns(SystemTime::now()));
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
        // A span that is not sampled keeps nothing: its name and attributes are not even made.
        let recording = placement.sampled.then(|| {
            let record = Record {
                context: context.clone(),
                parent: placement.parent,
                name: name(),
                kind,
                start_ns: since.map_or(now.1, |since| unix_ns(since).min(now.1)),
                attributes: attributes(),
                error: None,
                phases: Vec::new(),
            };
            (record, waiting.clone())
        });
        Span(Some(Box::new(Live {
            context,
            recording,
            anchor: now,
            mark: now.0,
        })))
    }

    /// Whether spans are recorded and exported (tracing is on and the trace is sampled).
    pub fn is_recording(&self) -> bool {
        self.0.as_ref().is_some_and(|live| live.recording.is_some())
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
        let Some(live) = self.0.as_mut() else { return };
        let now = live.wall(live.mark);
        live.child(name, unix_ns(since).min(now), now);
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
        if let Some(record) = self.record() {
            record.attributes.extend(attributes());
        }
    }

    /// Marks the span as failed, with why.
    pub fn fail(&mut self, message: impl FnOnce() -> String) {
        if let Some(record) = self.record() {
            record.error = Some(message());
        }
    }

    fn record(&mut self) -> Option<&mut Record> {
        let (record, _) = self.0.as_deref_mut()?.recording.as_mut()?;
        Some(record)
    }

    /// Ends the span now (a dropped span ends too).
    pub fn end(self) {}
}

impl Live {
    /// `at` on the wall clock, in nanoseconds since the Unix epoch.
    fn wall(&self, at: Instant) -> u64 {
        let (instant, wall) = self.anchor;
        match at.checked_duration_since(instant) {
            Some(after) => wall + after.as_nanos() as u64,
            None => wall.saturating_sub(instant.duration_since(at).as_nanos() as u64),
        }
    }

    fn child(&mut self, name: &'static str, start_ns: u64, end_ns: u64) {
        if let Some((record, _)) = &mut self.recording {
            record.phases.push(Phase {
                name,
                start_ns,
                end_ns,
            });
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let Some((record, waiting)) = &self.recording else {
            return;
        };
        let end_ns = self.wall(Instant::now());
        ENCODED.with_borrow_mut(|encoded| {
            encoded.clear();
            record.encode(end_ns, encoded);
            waiting.push(encoded);
        });
    }
}

fn unix_ns(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
