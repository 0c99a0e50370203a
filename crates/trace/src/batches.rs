//! Finished spans wait, already encoded, in one buffer until it holds a batch or the export
//! delay has passed; one task then posts them. Ending a span takes a lock for an append and
//! wakes nothing: the SDK's batch processor wakes its task for every span, and on two cores
//! those thread wake-ups cost more than the spans themselves.
//!
//! The buffer keeps room at its start for the export request's head, so a batch is posted
//! where it was written, and two buffers take turns: no megabyte is allocated, copied and
//! freed for every batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::otlp;

/// How long a finished span may wait before it is sent.
const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// Bytes of encoded spans that make a batch worth sending at once (about 1,500 invocations).
const BATCH_BYTES: usize = 1 << 20;
/// A buffer's room: a batch, and what arrives before the exporting task takes it.
const BUFFER_BYTES: usize = BATCH_BYTES + BATCH_BYTES / 4;
/// Room at a buffer's start for the head of an export request (`otlp::export_head`).
const HEAD_ROOM: usize = 64;
/// Bytes of spans waiting; past it, new traces are dropped (and counted) rather than slow
/// invocations down or grow without bound while the collector is away. It bounds one export
/// too, below a collector's usual limit on a request's size (20 MiB).
const MAX_WAITING_BYTES: usize = 16 << 20;
/// How long the last export may take when the server stops.
const LAST_EXPORT: Duration = Duration::from_secs(5);

/// Encoded spans waiting to be sent, after `HEAD_ROOM` bytes.
#[derive(Debug)]
pub struct Waiting {
    spans: Mutex<Vec<u8>>,
    batch_full: Notify,
    dropped: AtomicU64,
}

impl Waiting {
    fn new() -> Waiting {
        Waiting {
            spans: Mutex::new(empty_buffer()),
            batch_full: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues the spans of one trace's part, as `Record::encode` wrote them.
    pub fn push(&self, encoded: &[u8]) {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        let waiting = spans.len() - HEAD_ROOM;
        if waiting + encoded.len() > MAX_WAITING_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        spans.extend_from_slice(encoded);
        if waiting < BATCH_BYTES && waiting + encoded.len() >= BATCH_BYTES {
            self.batch_full.notify_one();
        }
    }

    /// Everything waiting, with `empty` waiting in its place.
    fn take(&self, empty: Vec<u8>) -> Vec<u8> {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *spans, empty)
    }
}

/// A buffer with nothing waiting: only the room for a head.
fn empty_buffer() -> Vec<u8> {
    let mut buffer = Vec::with_capacity(BUFFER_BYTES);
    buffer.resize(HEAD_ROOM, 0);
    buffer
}

/// The export request of the spans in `buffer`: its head written into the room before them.
fn export_body(mut buffer: Vec<u8>) -> Bytes {
    let head = otlp::export_head(buffer.len() - HEAD_ROOM);
    let start = HEAD_ROOM - head.len();
    buffer[start..HEAD_ROOM].copy_from_slice(&head);
    Bytes::from(buffer).slice(start..)
}

/// The buffer of a body that was sent, emptied, for the next batch; a new one if the client
/// still holds it, or if a collector's absence made it grow past its usual size.
fn reused(sent: Bytes) -> Vec<u8> {
    let Ok(mut body) = sent.try_into_mut() else {
        return empty_buffer();
    };
    body.clear();
    let mut buffer = Vec::from(body);
    if buffer.capacity() > 2 * BUFFER_BYTES {
        return empty_buffer();
    }
    buffer.resize(HEAD_ROOM, 0);
    buffer
}

/// The task that exports the batches, and how to stop it.
pub struct Exporting {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts the task that posts what waits to `url` (within a tokio runtime).
pub fn start(url: String) -> (Arc<Waiting>, Exporting) {
    let waiting = Arc::new(Waiting::new());
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
    let mut empty = empty_buffer();
    loop {
        let stopping = tokio::select! {
            () = waiting.batch_full.notified() => false,
            () = tokio::time::sleep(EXPORT_DELAY) => false,
            _ = &mut stopped => true,
        };
        let spans = waiting.take(empty);
        if spans.len() == HEAD_ROOM {
            empty = spans;
        } else {
            let body = export_body(spans);
            let sent = body.clone();
            // A batch is tried once. Said once when exports start failing, and once when they
            // work again.
            let posted = post(&client, &url, body).await;
            empty = reused(sent);
            match posted {
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

async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_posted_where_it_was_written_and_its_buffer_used_again() {
        let waiting = Waiting::new();
        waiting.push(b"first");
        waiting.push(b"second");
        let full = waiting.take(empty_buffer());
        let at = full.as_ptr();

        let body = export_body(full);
        let mut expected = otlp::export_head(b"firstsecond".len());
        expected.extend_from_slice(b"firstsecond");
        assert_eq!(body[..], expected[..]);

        let again = reused(body);
        assert_eq!((again.as_ptr(), again.len()), (at, HEAD_ROOM));
        assert!(again.capacity() >= BUFFER_BYTES);
    }

    #[test]
    fn a_body_still_held_elsewhere_is_left_to_its_holder() {
        let body = export_body(empty_buffer());
        let held = body.clone();
        assert_eq!(reused(body).len(), HEAD_ROOM);
        assert_eq!(held.len(), otlp::export_head(0).len());
    }
}
