use std::sync::Arc;
use std::time::Duration;

use gust_core::{InvocationRecord, LogLine, RunKeyed, now_ms};
use gust_meter::{FunctionMetrics, Metrics};
use gust_runtime::LogSink;
use gust_store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most entries written in one transaction.
const BATCH: usize = 4096;
/// Pause after each write so that the next one gathers a batch: a commit per request would
/// cost more CPU than the request itself.
const LINGER: Duration = Duration::from_millis(10);

enum Entry {
    Invocation(InvocationRecord),
    Log(LogLine),
    Flush(oneshot::Sender<()>),
}

/// Takes invocation records and log lines off the request path and writes them in batches.
/// Records are counted in the metrics (when metering is on) as they are written; log lines
/// are broadcast to followers once they are stored.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Entry>,
    followers: broadcast::Sender<LogLine>,
}

impl Recorder {
    pub fn spawn(store: Arc<dyn Store>, metrics: Option<Arc<Metrics>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (followers, _) = broadcast::channel(4096);
        let counter = metrics.map(InvocationCounter::new);
        tokio::spawn(write_loop(store, rx, followers.clone(), counter));
        Recorder { tx, followers }
    }

    /// Hands over a finished invocation's record; returns its billed milliseconds.
    pub fn record(&self, record: InvocationRecord) -> u64 {
        let billed_ms = record.billed_ms;
        let _ = self.tx.send(Entry::Invocation(record));
        billed_ms
    }

    pub fn log_sink(&self, invocation_id: String, function: String) -> LogSink {
        let tx = self.tx.clone();
        LogSink::new(move |stream, line| {
            let _ = tx.send(Entry::Log(LogLine {
                invocation_id: invocation_id.clone(),
                function: function.clone(),
                ts_ms: now_ms(),
                stream,
                line,
            }));
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.followers.subscribe()
    }

    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Entry::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Entry>,
    followers: broadcast::Sender<LogLine>,
    mut counter: Option<InvocationCounter>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut records = Vec::with_capacity(batch.len());
        let mut lines = Vec::new();
        let mut flushes = Vec::new();
        for entry in batch.drain(..) {
            match entry {
                Entry::Invocation(record) => records.push(record),
                Entry::Log(line) => lines.push(line),
                Entry::Flush(done) => flushes.push(done),
            }
        }
        if !lines.is_empty() {
            match store.record_logs(lines.clone()).await {
                Ok(()) => lines.into_iter().for_each(|line| {
                    let _ = followers.send(line);
                }),
                Err(e) => tracing::error!("could not store {} log lines: {e}", lines.len()),
            }
        }
        if let Some(counter) = &mut counter {
            records.iter().for_each(|record| counter.count(record));
        }
        if !records.is_empty()
            && let Err(e) = store.record_invocations(Arc::new(records)).await
        {
            tracing::error!("could not store invocation records: {e}");
        }
        let flushed = !flushes.is_empty();
        flushes.into_iter().for_each(|done| {
            let _ = done.send(());
        });
        if !flushed {
            tokio::time::sleep(LINGER).await;
        }
    }
}

/// Counts finished invocations in each function's metrics, keeping the handles it looked up.
struct InvocationCounter {
    metrics: Arc<Metrics>,
    handles: RunKeyed<String, FunctionMetrics>,
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
        let handle = self
            .handles
            .entry(record.function.as_str(), |name| metrics.function(name));
        let duration = Duration::from_micros(record.duration_us);
        handle.finished(record.status, duration, record.gb_seconds);
    }
}

#[cfg(test)]
mod tests {
    use gust_core::{InvocationStatus, Trigger};

    use super::*;

    fn finished(function: &str) -> InvocationRecord {
        InvocationRecord {
            id: "01J".into(),
            function: function.into(),
            version: 1,
            trigger: Trigger::Http,
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
            let line =
                format!(r#"gust_invocations_total{{function="{function}",status="ok"}} {count}"#);
            assert!(text.contains(&line), "{line} in:\n{text}");
        }
    }
}
