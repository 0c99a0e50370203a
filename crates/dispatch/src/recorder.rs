use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gust_core::{InvocationRecord, LogLine, RunKeyed, now_ms};
use gust_meter::{FunctionMetrics, Metrics};
use gust_runtime::LogSink;
use gust_store::Records;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::pending_records::PendingRecords;

/// Most log lines and flush requests taken at once.
const BATCH: usize = 4096;
/// Log lines waiting to be written, over the whole node; past it, lines are dropped (and
/// counted) rather than held in memory without bound.
const LOG_QUEUE: usize = 64 * 1024;
/// Pause after each write so that the next one gathers a batch: a commit per request would
/// cost more CPU than the request itself.
const LINGER: Duration = Duration::from_millis(10);

enum Entry {
    Log(LogLine),
    Flush(oneshot::Sender<()>),
}

/// Takes invocation records and log lines off the request path and writes them in batches.
/// Records are counted in the metrics (when metering is on) as they are written; log lines
/// are broadcast to followers once they are stored.
#[derive(Clone)]
pub struct Recorder {
    records: Arc<PendingRecords>,
    tx: mpsc::Sender<Entry>,
    followers: broadcast::Sender<LogLine>,
    log_bytes_per_invocation: usize,
    log_lines_dropped: Arc<AtomicU64>,
}

impl Recorder {
    pub fn spawn(
        store: Arc<dyn Records>,
        metrics: Option<Arc<Metrics>>,
        log_bytes_per_invocation: usize,
    ) -> Self {
        let (tx, rx) = mpsc::channel(LOG_QUEUE);
        let (followers, _) = broadcast::channel(4096);
        let counter = metrics.map(InvocationCounter::new);
        let records = Arc::new(PendingRecords::default());
        let writer = Writer {
            store,
            records: records.clone(),
            followers: followers.clone(),
            counter,
        };
        tokio::spawn(writer.run(rx));
        Recorder {
            records,
            tx,
            followers,
            log_bytes_per_invocation,
            log_lines_dropped: Arc::default(),
        }
    }

    /// Hands over a finished invocation's record; returns its billed milliseconds.
    pub fn record(&self, record: InvocationRecord) -> u64 {
        let billed_ms = record.billed_ms;
        self.records.push(record);
        billed_ms
    }

    pub fn log_sink(&self, invocation_id: String, function: String) -> LogSink {
        let tx = self.tx.clone();
        let emit = move |stream, line| {
            let line = LogLine {
                invocation_id: invocation_id.clone(),
                function: function.clone(),
                ts_ms: now_ms(),
                stream,
                line,
            };
            tx.try_send(Entry::Log(line)).is_ok()
        };
        LogSink::new(
            emit,
            self.log_bytes_per_invocation,
            self.log_lines_dropped.clone(),
        )
    }

    /// Log lines dropped on this node so far.
    pub fn log_lines_dropped(&self) -> u64 {
        self.log_lines_dropped.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.followers.subscribe()
    }

    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Entry::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The recorder's task: writes what was handed over, then lingers so that the next write
/// gathers a batch.
struct Writer {
    store: Arc<dyn Records>,
    records: Arc<PendingRecords>,
    followers: broadcast::Sender<LogLine>,
    counter: Option<InvocationCounter>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Entry>) {
        let mut entries = Vec::with_capacity(BATCH);
        // Kept from batch to batch: a fresh buffer of a few hundred records per write would
        // cost a large allocation, and the allocator's tidying that comes with it.
        let mut records = Vec::with_capacity(BATCH);
        loop {
            let closed = tokio::select! {
                received = rx.recv_many(&mut entries, BATCH) => received == 0,
                () = self.records.added() => false,
            };
            let mut lines = Vec::new();
            let mut flushes = Vec::new();
            for entry in entries.drain(..) {
                match entry {
                    Entry::Log(line) => lines.push(line),
                    Entry::Flush(done) => flushes.push(done),
                }
            }
            // After the flush requests were taken: each sees every record handed over before it.
            self.records.take_into(&mut records);
            self.write_logs(lines).await;
            if !records.is_empty() {
                records = self.write_records(records).await;
            }
            let flushed = !flushes.is_empty();
            flushes.into_iter().for_each(|done| {
                let _ = done.send(());
            });
            if closed {
                break;
            }
            if !flushed {
                tokio::time::sleep(LINGER).await;
            }
        }
    }

    async fn write_logs(&self, lines: Vec<LogLine>) {
        if lines.is_empty() {
            return;
        }
        match self.store.record_logs(lines.clone()).await {
            Ok(()) => lines.into_iter().for_each(|line| {
                let _ = self.followers.send(line);
            }),
            Err(e) => tracing::error!("could not store {} log lines: {e}", lines.len()),
        }
    }

    /// Counts and stores `records`, and hands back their buffer, emptied, for the next batch.
    async fn write_records(&mut self, records: Vec<InvocationRecord>) -> Vec<InvocationRecord> {
        if let Some(counter) = &mut self.counter {
            records.iter().for_each(|record| counter.count(record));
        }
        let records = Arc::new(records);
        if let Err(e) = self.store.record_invocations(records.clone()).await {
            tracing::error!("could not store invocation records: {e}");
        }
        // The store is done with them: they are freed here rather than on the store's thread.
        let mut records = Arc::try_unwrap(records).unwrap_or_default();
        records.clear();
        records
    }
}

/// Counts finished invocations in each function's metrics, keeping the handles it looked up.
struct InvocationCounter {
    metrics: Arc<Metrics>,
    /// By function and version.
    handles: RunKeyed<(Arc<str>, u32), FunctionMetrics>,
}

impl InvocationCounter {
    fn new(metrics: Arc<Metrics>) -> Self {
        InvocationCounter {
            metrics,
            handles: RunKeyed::default(),
        }
    }

    fn count(&mut self, record: &InvocationRecord) {
        let metrics = &self.metrics;
        let key = (record.function.clone(), record.version);
        let handle = (self.handles).entry(&key, |(name, version)| metrics.function(name, *version));
        let duration = Duration::from_micros(record.duration_us);
        handle.finished(record.status, duration, record.gb_seconds);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use gust_core::{InvocationId, InvocationStatus, Origin};

    use super::*;

    /// A finished invocation's record, for tests.
    pub(crate) fn finished(function: &str) -> InvocationRecord {
        InvocationRecord {
            id: InvocationId::parse("01J"),
            function: function.into(),
            version: 1,
            origin: Origin::HTTP,
            attempt: 1,
            started_at_ms: 0,
            duration_us: 900,
            billed_ms: 1,
            memory_mb: 128,
            gb_seconds: InvocationRecord::gb_seconds_for(1, 128),
            status: InvocationStatus::Ok,
            cold: false,
            http_status: 200,
            error: None,
        }
    }

    #[test]
    fn interleaved_functions_are_each_counted_apart() {
        let metrics = Arc::new(Metrics::default());
        let mut counter = InvocationCounter::new(metrics.clone());
        for function in ["a", "a", "b", "a", "c", "b"] {
            counter.count(&finished(function));
        }
        let text = metrics.encode();
        for (function, count) in [("a", 3), ("b", 2), ("c", 1)] {
            let line = format!(
                r#"gust_invocations_total{{function="{function}",status="ok",version="1"}} {count}"#
            );
            assert!(text.contains(&line), "{line} in:\n{text}");
        }
    }
}
