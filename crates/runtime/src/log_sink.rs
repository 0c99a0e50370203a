use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use gust_core::LogStream;

/// Most lines one invocation may log; past it, one notice and silence.
const MAX_LINES_PER_INVOCATION: usize = 10_000;
/// Most bytes of lines one invocation may log, unless the server says otherwise.
pub const DEFAULT_LOG_BYTES_PER_INVOCATION: usize = 1024 * 1024;

/// Hands a line on; false when it could not be taken (the node's log queue is full).
type Emit = dyn Fn(LogStream, String) -> bool + Send + Sync;

/// Receives the lines one invocation writes to stdout and stderr, up to its budget of lines
/// and bytes. What is dropped is counted, and the log says so where it happened.
#[derive(Clone)]
pub struct LogSink {
    emit: Arc<Emit>,
    budget: Arc<Budget>,
    /// Node-wide count of dropped lines (`gust_log_lines_dropped_total`).
    dropped_total: Arc<AtomicU64>,
}

struct Budget {
    lines: AtomicUsize,
    bytes: AtomicUsize,
    max_lines: usize,
    max_bytes: usize,
    /// Lines the node's queue refused since the last one it took.
    refused: AtomicUsize,
}

impl LogSink {
    /// An invocation's sink: at most `max_bytes` of lines, drops counted in `dropped_total`.
    pub fn new(
        emit: impl Fn(LogStream, String) -> bool + Send + Sync + 'static,
        max_bytes: usize,
        dropped_total: Arc<AtomicU64>,
    ) -> Self {
        Self::with_limits(emit, MAX_LINES_PER_INVOCATION, max_bytes, dropped_total)
    }

    fn with_limits(
        emit: impl Fn(LogStream, String) -> bool + Send + Sync + 'static,
        max_lines: usize,
        max_bytes: usize,
        dropped_total: Arc<AtomicU64>,
    ) -> Self {
        LogSink {
            emit: Arc::new(emit),
            budget: Arc::new(Budget {
                lines: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                max_lines,
                max_bytes,
                refused: AtomicUsize::new(0),
            }),
            dropped_total,
        }
    }

    pub fn line(&self, stream: LogStream, line: String) {
        let budget = &self.budget;
        let n = budget.lines.fetch_add(1, Ordering::Relaxed);
        let bytes = budget.bytes.fetch_add(line.len(), Ordering::Relaxed) + line.len();
        if n < budget.max_lines && bytes <= budget.max_bytes {
            self.emit(stream, line);
            return;
        }
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
        // The first line over the budget leaves one notice in its place.
        let first_over = (n == budget.max_lines && bytes <= budget.max_bytes)
            || (bytes > budget.max_bytes && bytes - line.len() <= budget.max_bytes);
        if first_over {
            let notice = format!(
                "[gust] log truncated: this invocation reached its limit of {} lines or {} KiB; \
                 later lines are dropped",
                budget.max_lines,
                budget.max_bytes / 1024
            );
            self.emit(LogStream::Stderr, notice);
        }
    }

    fn emit(&self, stream: LogStream, line: String) {
        let refused = self.budget.refused.swap(0, Ordering::Relaxed);
        if refused > 0 {
            let notice =
                format!("[gust] {refused} log lines dropped: the node's log queue was full");
            if !(self.emit)(LogStream::Stderr, notice) {
                self.budget.refused.fetch_add(refused, Ordering::Relaxed);
            }
        }
        if !(self.emit)(stream, line) {
            self.budget.refused.fetch_add(1, Ordering::Relaxed);
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
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
        let forward = move |stream, line| {
            if let Some(sink) = slot.0.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                sink.line(stream, line);
            }
            true
        };
        // The invocation's own sink keeps the budget and the count.
        LogSink::with_limits(forward, usize::MAX, usize::MAX, Arc::default())
    }
}

impl Default for SinkSlot {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn collecting(
        max_bytes: usize,
        accept: bool,
    ) -> (LogSink, Arc<Mutex<Vec<String>>>, Arc<AtomicU64>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let dropped = Arc::new(AtomicU64::new(0));
        let emit = move |_, line| {
            if accept {
                kept.lock().unwrap().push(line);
            }
            accept
        };
        (
            LogSink::new(emit, max_bytes, dropped.clone()),
            seen,
            dropped,
        )
    }

    #[test]
    fn lines_past_the_byte_budget_are_dropped_counted_and_marked() {
        let (sink, seen, dropped) = collecting(100, true);
        for _ in 0..5 {
            sink.line(LogStream::Stdout, "x".repeat(40));
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "two lines, then the notice: {seen:?}");
        assert!(seen[2].contains("log truncated"), "{seen:?}");
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_full_queue_drops_lines_and_says_so_when_it_takes_again() {
        let (sink, _, dropped) = collecting(1 << 20, false);
        sink.line(LogStream::Stdout, "lost".into());
        sink.line(LogStream::Stdout, "lost too".into());
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        // The same budget, now with a queue that takes lines.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let taking = LogSink {
            emit: Arc::new(move |_, line| {
                kept.lock().unwrap().push(line);
                true
            }),
            ..sink
        };
        taking.line(LogStream::Stdout, "back".into());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].contains("2 log lines dropped"), "{seen:?}");
        assert_eq!(seen[1], "back");
    }
}
