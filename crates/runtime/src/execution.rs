use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gust_core::{FunctionConfig, InvocationStatus};
use http::{HeaderName, HeaderValue};
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::oneshot;

use crate::LogSink;

/// A request body as the executors take it.
pub type RequestBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;
/// A response body, streamed from the function as it writes it.
pub type ResponseBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// The W3C header that carries a trace from one hop to the next.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// One invocation as an executor sees it.
pub struct Call {
    pub invocation_id: String,
    pub config: Arc<FunctionConfig>,
    pub logs: LogSink,
    /// The `traceparent` of the invocation's span, when tracing is on. A Wasm function's
    /// outbound requests carry it (unless the function sets its own); a process function,
    /// which passes it on itself, gets it in its request.
    pub traceparent: Option<HeaderValue>,
}

/// How the function's run ended, known once it has finished (after the body was streamed).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: InvocationStatus,
    pub error: Option<String>,
    pub duration: Duration,
    /// How much of `duration` went to starting a new instance (none when a warm one served).
    pub instance_start: Option<Duration>,
}

/// A run that ended before the function produced a response.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: InvocationStatus,
    pub message: String,
}

/// What an invocation gives back: the response (or why there is none) as soon as it is known,
/// and the final outcome once the function has finished.
pub struct Execution {
    pub response: Result<http::Response<ResponseBody>, Failure>,
    pub finished: oneshot::Receiver<Outcome>,
    /// This invocation paid for loading code or starting an instance.
    pub cold: bool,
}

impl Execution {
    /// An execution whose run is already over: its outcome is known with its response.
    pub fn over(
        response: Result<http::Response<ResponseBody>, Failure>,
        outcome: Outcome,
        cold: bool,
    ) -> Execution {
        let (finished_tx, finished) = oneshot::channel();
        let _ = finished_tx.send(outcome);
        Execution {
            response,
            finished,
            cold,
        }
    }
}
