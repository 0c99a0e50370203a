use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gust_core::LogStream;

/// Most lines one invocation may log; past it, one notice and silence.
const MAX_LINES_PER_INVOCATION: usize = 10_000;

type Emit = dyn Fn(LogStream, String) + Send + Sync;

/// Receives the lines one invocation writes to stdout and stderr.
#[derive(Clone)]
pub struct LogSink {
    emit: Arc<Emit>,
    lines: Arc<AtomicUsize>,
}

impl LogSink {
    pub fn new(emit: impl Fn(LogStream, String) + Send + Sync + 'static) -> Self {
        LogSink {
            emit: Arc::new(emit),
            lines: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn line(&self, stream: LogStream, line: String) {
        let n = self.lines.fetch_add(1, Ordering::Relaxed);
        if n < MAX_LINES_PER_INVOCATION {
            (self.emit)(stream, line);
        } else if n == MAX_LINES_PER_INVOCATION {
            (self.emit)(
                LogStream::Stderr,
                format!("[gust] log truncated after {MAX_LINES_PER_INVOCATION} lines"),
            );
        }
    }
}
