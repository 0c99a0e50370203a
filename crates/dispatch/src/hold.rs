//! Holding a response head back briefly, so that the billed duration of the invocation can go
//! out with it as `x-gust-billed-ms`.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use gust_runtime::{Outcome, ResponseBody};
use http::HeaderMap;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Body, Frame};
use smallvec::SmallVec;
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::time::{Sleep, sleep};

use crate::invoke::BILLED_MS;
use crate::number_header::number_value;

/// How long the head waits for the function to finish. Functions that answer and return
/// (nearly all) finish well within it; a long stream is sent on without waiting.
const HOLD: Duration = Duration::from_millis(50);
/// Most body bytes buffered while holding.
const HOLD_BYTES: usize = 256 * 1024;

pub enum Held {
    /// The function finished: the whole response and how the run ended.
    Complete(http::Response<ResponseBody>, Outcome),
    /// The function is still writing: the response streams on, and the trailers sent on the
    /// sender end it (clients that ask for trailers see the billed duration there).
    Streaming(http::Response<ResponseBody>, oneshot::Sender<HeaderMap>),
}

/// What holding the head ended on.
enum Waited {
    Finished(Outcome),
    /// The deadline passed, the buffer filled, or the function's end was lost.
    GaveUp,
}

pub async fn hold(
    response: http::Response<ResponseBody>,
    finished: &mut oneshot::Receiver<Outcome>,
) -> Held {
    let (parts, mut body) = response.into_parts();
    // Armed only once something is still pending (at the first poll, in effect): nearly always
    // the body and the outcome are already there, and a timer costs a clock read, a
    // registration and a removal.
    let mut deadline: Option<Pin<Box<Sleep>>> = None;
    // Most bodies are one frame: kept in place, not in an allocation of their own.
    let mut frames = Frames::new();
    let mut buffered = 0;
    let mut body_done = false;
    let waited = poll_fn(|cx| {
        while !body_done {
            match Pin::new(&mut body).poll_frame(cx) {
                Poll::Ready(None) => body_done = true,
                Poll::Ready(Some(Ok(frame))) => {
                    buffered += frame.data_ref().map_or(0, Bytes::len);
                    frames.push(Ok(frame));
                    if buffered > HOLD_BYTES {
                        return Poll::Ready(Waited::GaveUp);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    frames.push(Err(e));
                    body_done = true;
                }
                Poll::Pending => break,
            }
        }
        if body_done {
            // Nearly always the outcome is already there; polling would also register a waker.
            match finished.try_recv() {
                Ok(outcome) => return Poll::Ready(Waited::Finished(outcome)),
                Err(TryRecvError::Closed) => return Poll::Ready(Waited::GaveUp),
                Err(TryRecvError::Empty) => {
                    if let Poll::Ready(outcome) = Pin::new(&mut *finished).poll(cx) {
                        return Poll::Ready(outcome.map_or(Waited::GaveUp, Waited::Finished));
                    }
                }
            }
        }
        let deadline = deadline.get_or_insert_with(|| Box::pin(sleep(HOLD)));
        deadline.as_mut().poll(cx).map(|()| Waited::GaveUp)
    })
    .await;
    let mut parts = parts;
    if let Waited::Finished(outcome) = waited {
        let body = whole(frames);
        // Set here from a shared value, the router would format a new one for each response.
        // A length the function declared is the same: its body could not end otherwise.
        if let Some(length) = body.size_hint().exact() {
            let length = number_value(length);
            parts.headers.insert(http::header::CONTENT_LENGTH, length);
        }
        return Held::Complete(http::Response::from_parts(parts, body), outcome);
    }
    // hyper sends trailers only when the response announces them (and the client asked).
    if !parts.headers.contains_key(http::header::TRAILER) {
        parts
            .headers
            .insert(http::header::TRAILER, http::HeaderValue::from(BILLED_MS));
    }
    let (trailers_tx, trailers_rx) = oneshot::channel();
    let trailers = futures::stream::once(trailers_rx)
        .filter_map(|trailers| std::future::ready(trailers.ok().map(|t| Ok(Frame::trailers(t)))));
    let stream = futures::stream::iter(frames)
        .chain(BodyStream::new(body))
        .chain(trailers);
    let body = StreamBody::new(stream).boxed_unsync();
    Held::Streaming(http::Response::from_parts(parts, body), trailers_tx)
}

type Frames = SmallVec<[Result<Frame<Bytes>, wasmtime_wasi_http::Error>; 1]>;

/// A finished body: one buffer when it is only data (so it goes out with a Content-Length).
fn whole(mut frames: Frames) -> ResponseBody {
    let only_data = frames.iter().all(|f| f.as_ref().is_ok_and(Frame::is_data));
    if only_data && frames.len() <= 1 {
        let data = frames.pop().and_then(|f| f.ok()?.into_data().ok());
        return full(data.unwrap_or_default());
    }
    if only_data {
        let mut bytes = BytesMut::new();
        for frame in frames.into_iter().flatten() {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        return full(bytes.freeze());
    }
    StreamBody::new(futures::stream::iter(frames)).boxed_unsync()
}

fn full(bytes: Bytes) -> ResponseBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}
