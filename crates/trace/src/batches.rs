//! Finished spans wait in a plain list until a batch is full or the export delay has passed;
//! one task then posts them. Ending a span takes a lock for a push and wakes nothing: the
//! SDK's batch processor wakes its task for every span, and on two cores those thread
//! wake-ups cost more than the spans themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// How long a finished span may wait before it is sent.
const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// Spans waiting to be sent; past it, new ones are dropped (and counted) rather than slow
/// invocations down or grow without bound while the collector is away.
const MAX_WAITING: usize = 65_536;
/// Spans per export.
const BATCH: usize = 4_096;
/// How long the last export may take when the server stops.
const LAST_EXPORT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Waiting {
    spans: Mutex<Vec<SpanData>>,
    batch_full: Notify,
    dropped: AtomicU64,
}

impl Waiting {
    /// Up to a batch of the oldest waiting spans.
    fn take_batch(&self) -> Vec<SpanData> {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        let first = spans.len().min(BATCH);
        let rest = spans.split_off(first);
        std::mem::replace(&mut *spans, rest)
    }
}

/// The span processor: it only queues.
#[derive(Debug)]
pub struct Batches(Arc<Waiting>);

/// The task that exports the batches, and how to stop it.
pub struct Exporting {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts the exporting task (within a tokio runtime).
pub fn start(exporter: impl SpanExporter + 'static) -> (Batches, Exporting) {
    let waiting = Arc::new(Waiting::default());
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(export(waiting.clone(), exporter, stopped));
    (Batches(waiting), Exporting { stop, task })
}

impl Exporting {
    /// Sends what is still waiting, and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(LAST_EXPORT, self.task).await.is_err() {
            tracing::warn!("the last spans were not sent within {LAST_EXPORT:?}");
        }
    }
}

impl SpanProcessor for Batches {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut spans = self.0.spans.lock().unwrap_or_else(|p| p.into_inner());
        if spans.len() >= MAX_WAITING {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        spans.push(span);
        if spans.len() == BATCH {
            self.0.batch_full.notify_one();
        }
    }

    /// Spans are sent by the exporting task alone; `Exporting::stop` sends the last.
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

async fn export(
    waiting: Arc<Waiting>,
    exporter: impl SpanExporter,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            () = waiting.batch_full.notified() => false,
            () = tokio::time::sleep(EXPORT_DELAY) => false,
            _ = &mut stopped => true,
        };
        loop {
            let batch = waiting.take_batch();
            let full = batch.len() == BATCH;
            if batch.is_empty() {
                break;
            }
            // A batch is tried once. Said once when exports start failing, and once when they
            // work again.
            match exporter.export(batch).await {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!("traces cannot be exported (the spans are dropped): {e}");
                }
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("traces are exported again");
                }
                _ => {}
            }
            if !full {
                break;
            }
        }
        let dropped = waiting.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!("{dropped} spans were dropped: more were waiting than {MAX_WAITING}");
        }
        if stopping {
            return;
        }
    }
}
