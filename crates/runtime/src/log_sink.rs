use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use gust_core::LogStream;

/// Most lines one invocation may log; past it, one notice and silence.
const MAX_LINES_PER_INVOCATION: usize = 10_000;

type Emit = dyn Fn(LogStream, String) + Send + Sync;

/// Receives the lines one invocation writes to stdout and stderr.
#[derive(Clone)]
pub struct LogSink {
    emit: Arc<Emit>,
    lines: Arc<AtomicUsize>,
    limit: usize,
}

impl LogSink {
    pub fn new(emit: impl Fn(LogStream, String) + Send + Sync + 'static) -> Self {
        LogSink {
            emit: Arc::new(emit),
            lines: Arc::new(AtomicUsize::new(0)),
            limit: MAX_LINES_PER_INVOCATION,
        }
    }

    pub fn line(&self, stream: LogStream, line: String) {
        let n = self.lines.fetch_add(1, Ordering::Relaxed);
        if n < self.limit {
            (self.emit)(stream, line);
        } else if n == self.limit {
            (self.emit)(
                LogStream::Stderr,
                format!("[gust] log truncated after {} lines", self.limit),
            );
        }
    }
}

/// Where an instance's output goes when the instance outlives one invocation: each
/// invocation points it at its own sink (which counts its own lines).
#[derive(Clone)]
pub struct SinkSlot(Arc<RwLock<Option<LogSink>>>);

impl SinkSlot {
    pub fn new() -> Self {
        SinkSlot(Arc::new(RwLock::new(None)))
    }

    pub fn set(&self, sink: LogSink) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// A sink that forwards every line to the current invocation's sink.
    pub fn forwarder(&self) -> LogSink {
        let slot = self.clone();
        LogSink {
            emit: Arc::new(move |stream, line| {
                if let Some(sink) = slot.0.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    sink.line(stream, line);
                }
            }),
            lines: Arc::new(AtomicUsize::new(0)),
            limit: usize::MAX,
        }
    }
}

impl Default for SinkSlot {
    fn default() -> Self {
        Self::new()
    }
}
