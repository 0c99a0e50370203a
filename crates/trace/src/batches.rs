//! Finished spans wait, already encoded, in one buffer until it holds a batch or the export
//! delay has passed; one task then posts them. Ending a span takes a lock for an append and
//! wakes nothing: the SDK's batch processor wakes its task for every span, and on two cores
//! those thread wake-ups cost more than the spans themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::otlp;

/// How long a finished span may wait before it is sent.
const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// Bytes of encoded spans that make a batch worth sending at once (about 1,500 invocations).
const BATCH_BYTES: usize = 1 << 20;
/// Bytes of spans waiting; past it, new traces are dropped (and counted) rather than slow
/// invocations down or grow without bound while the collector is away. It bounds one export
/// too, below a collector's usual limit on a request's size (20 MiB).
const MAX_WAITING_BYTES: usize = 16 << 20;
/// How long the last export may take when the server stops.
const LAST_EXPORT: Duration = Duration::from_secs(5);

/// Encoded spans waiting to be sent.
#[derive(Debug, Default)]
pub struct Waiting {
    spans: Mutex<Vec<u8>>,
    batch_full: Notify,
    dropped: AtomicU64,
}

impl Waiting {
    /// Queues the spans of one trace's part, as `Record::encode` wrote them.
    pub fn push(&self, encoded: &[u8]) {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        if spans.len() + encoded.len() > MAX_WAITING_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_short = spans.len() < BATCH_BYTES;
        spans.extend_from_slice(encoded);
        if was_short && spans.len() >= BATCH_BYTES {
            self.batch_full.notify_one();
        }
    }

    /// Everything waiting.
    fn take(&self) -> Vec<u8> {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *spans, Vec::with_capacity(BATCH_BYTES))
    }
}

/// The task that exports the batches, and how to stop it.
pub struct Exporting {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts the task that posts what waits to `url` (within a tokio runtime).
pub fn start(url: String) -> (Arc<Waiting>, Exporting) {
    let waiting = Arc::new(Waiting::default());
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(export(waiting.clone(), url, stopped));
    (waiting, Exporting { stop, task })
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

async fn export(waiting: Arc<Waiting>, url: String, mut stopped: oneshot::Receiver<()>) {
    let client = reqwest::Client::new();
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            () = waiting.batch_full.notified() => false,
            () = tokio::time::sleep(EXPORT_DELAY) => false,
            _ = &mut stopped => true,
        };
        let spans = waiting.take();
        if !spans.is_empty() {
            // A batch is tried once. Said once when exports start failing, and once when they
            // work again.
            match post(&client, &url, otlp::export_request(&spans)).await {
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
        }
        let dropped = waiting.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                "{dropped} traces were dropped: more than {} MiB of spans were waiting",
                MAX_WAITING_BYTES >> 20
            );
        }
        if stopping {
            return;
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), String> {
    let response = client
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    match response.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("{url} answered {status}")),
    }
}
