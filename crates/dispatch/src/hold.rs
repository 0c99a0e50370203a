//! Holding a response head back briefly, so that the billed duration of the invocation can go
//! out with it as `x-gust-billed-ms`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use gust_runtime::{Outcome, ResponseBody};
use http::HeaderMap;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::Frame;
use tokio::sync::oneshot;

use crate::invoke::BILLED_MS;

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

pub async fn hold(
    response: http::Response<ResponseBody>,
    finished: &mut oneshot::Receiver<Outcome>,
) -> Held {
    let (parts, mut body) = response.into_parts();
    let deadline = tokio::time::sleep(HOLD);
    tokio::pin!(deadline);
    let mut frames = Vec::new();
    let mut buffered = 0;
    let body_done = loop {
        tokio::select! {
            frame = body.frame() => match frame {
                None => break true,
                Some(Ok(frame)) => {
                    buffered += frame.data_ref().map_or(0, Bytes::len);
                    frames.push(Ok(frame));
                    if buffered > HOLD_BYTES {
                        break false;
                    }
                }
                Some(Err(e)) => {
                    frames.push(Err(e));
                    break true;
                }
            },
            () = &mut deadline => break false,
        }
    };
    if body_done {
        tokio::select! {
            outcome = &mut *finished => if let Ok(outcome) = outcome {
                return Held::Complete(http::Response::from_parts(parts, whole(frames)), outcome);
            },
            () = &mut deadline => {}
        }
    }
    let mut parts = parts;
    // hyper sends trailers only when the response announces them (and the client asked).
    if !parts.headers.contains_key(http::header::TRAILER) {
        parts.headers.insert(
            http::header::TRAILER,
            http::HeaderValue::from_static(BILLED_MS),
        );
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

/// A finished body: one buffer when it is only data (so it goes out with a Content-Length).
fn whole(frames: Vec<Result<Frame<Bytes>, wasmtime_wasi_http::Error>>) -> ResponseBody {
    if frames.iter().all(|f| f.as_ref().is_ok_and(Frame::is_data)) {
        let mut bytes = BytesMut::new();
        for frame in frames.into_iter().flatten() {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        return Full::new(bytes.freeze())
            .map_err(|never| match never {})
            .boxed_unsync();
    }
    StreamBody::new(futures::stream::iter(frames)).boxed_unsync()
}
