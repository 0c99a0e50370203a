//! A proxied response body that enforces the invocation's deadline and reports how the
//! stream ended, exactly once.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// How a proxied body ended.
pub enum BodyEnd {
    Complete,
    Failed(String),
    TimedOut,
    /// The caller went away before the end.
    Abandoned,
}

type OnEnd = Box<dyn FnOnce(BodyEnd) + Send>;

pub struct WatchedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    on_end: Option<OnEnd>,
}

impl WatchedBody {
    pub fn new(inner: Incoming, deadline: Instant, on_end: OnEnd) -> Self {
        WatchedBody {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, how: BodyEnd) {
        if let Some(on_end) = self.on_end.take() {
            on_end(how);
        }
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.on_end.is_none() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.end(BodyEnd::TimedOut);
            let message = "the function timed out while sending its response";
            return Poll::Ready(Some(Err(internal(message))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.end(BodyEnd::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(e))) => {
                let message = format!("the function's response broke off: {e}");
                this.end(BodyEnd::Failed(message.clone()));
                Poll::Ready(Some(Err(internal(&message))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.on_end.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        let how = if self.inner.is_end_stream() {
            BodyEnd::Complete
        } else {
            BodyEnd::Abandoned
        };
        self.end(how);
    }
}

pub fn internal(message: &str) -> wasmtime_wasi_http::Error {
    wasmtime_wasi_http::Error::InternalError(Some(message.to_string()))
}
