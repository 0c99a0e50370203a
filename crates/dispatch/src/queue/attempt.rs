use base64::Engine;
use bytes::{Bytes, BytesMut};
use gust_core::{AsyncInvocation, AsyncResult, AsyncState, AttemptError, now_ms};
use gust_store::AttemptUpdate;
use http::HeaderValue;
use http_body_util::{BodyExt, Full};

use super::AsyncQueue;
use super::backoff::retry_delay;
use super::destinations::Outcome;
use crate::{Admission, Entry, failure_status};

/// Most bytes of a function's answer kept as the result.
const MAX_RESULT_BYTES: usize = 6 * 1024 * 1024;

pub const ATTEMPT: &str = "x-gust-attempt";

/// What one attempt came to.
pub(super) enum Answer {
    /// The function answered (a 5xx counts as a failure).
    Response(AsyncResult),
    /// It did not: a trap, a timeout, a memory limit, or the function is gone.
    Failed {
        http_status: Option<u16>,
        message: String,
    },
}

impl AsyncQueue {
    /// Runs one attempt and records what the invocation does next.
    pub(super) async fn attempt(&self, invocation: AsyncInvocation) {
        let now = now_ms();
        let answer = if now > invocation.expires_at_ms {
            Answer::Failed {
                http_status: None,
                message: "the event is older than the function's max event age".into(),
            }
        } else {
            self.deliver(&invocation).await
        };
        let update = self.next_step(&invocation, answer);
        let is_final = update.state.is_final();
        if is_final {
            let errors: Vec<AttemptError> = invocation
                .errors
                .iter()
                .chain(&update.error)
                .cloned()
                .collect();
            let outcome = match update.state {
                AsyncState::Succeeded => Outcome::Succeeded(update.result.as_ref()),
                _ => Outcome::Failed(&errors),
            };
            self.report_outcome(&invocation, outcome).await;
        }
        self.record_attempt(&invocation.id, update).await;
        if is_final && invocation.callback_url.is_some() {
            self.callbacks_ready.notify_one();
        }
    }

    /// Records how an attempt ended, trying again every second while the store is away: the
    /// invocation stays this node's meanwhile (its lease renewed as soon as the store is back),
    /// and would otherwise be held, and never run again, for as long as the node lives.
    async fn record_attempt(&self, id: &str, update: AttemptUpdate) {
        let node = &self.options.node;
        let mut said = false;
        loop {
            match self.store.finish_attempt(id, node, update.clone()).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        id,
                        "an attempt ended after its lease ran out: another node runs it again"
                    );
                    return;
                }
                Err(e) if !said => {
                    tracing::error!(
                        id,
                        "cannot record an attempt yet (trying every second): {e}"
                    );
                    said = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    pub(super) async fn deliver(&self, invocation: &AsyncInvocation) -> Answer {
        let request = match build_request(invocation) {
            Ok(request) => request,
            Err(message) => {
                return Answer::Failed {
                    http_status: None,
                    message,
                };
            }
        };
        let entry = Entry {
            function: &invocation.function,
            invocation_id: invocation.id.clone(),
            origin: invocation.origin.clone(),
            attempt: invocation.attempts,
            // The event is safe in the store: wait for the function's limit rather than refuse.
            admission: Admission::Wait,
            queued_since_ms: Some(invocation.next_attempt_at_ms),
        };
        let invoked = match self.dispatcher.call(entry, request).await {
            Ok(invoked) => invoked,
            Err(e) => {
                return Answer::Failed {
                    http_status: None,
                    message: e.message,
                };
            }
        };
        let response = match invoked.response {
            Ok(response) => response,
            Err(failure) => {
                return Answer::Failed {
                    http_status: Some(failure_status(failure.status)),
                    message: failure.message,
                };
            }
        };
        let (parts, body) = response.into_parts();
        // An answer is kept whole up to the limit and cut past it, never failed for its size:
        // retrying a function that succeeded would run and bill it again.
        match read_at_most(body, MAX_RESULT_BYTES).await {
            Ok((body, truncated)) => Answer::Response(AsyncResult {
                truncated,
                ..result_of(parts.status.as_u16(), &parts.headers, body)
            }),
            Err(e) => Answer::Failed {
                http_status: Some(parts.status.as_u16()),
                message: format!("reading the function's answer failed: {e}"),
            },
        }
    }

    pub(super) fn next_step(&self, invocation: &AsyncInvocation, answer: Answer) -> AttemptUpdate {
        let now = now_ms();
        let (http_status, message, result) = match answer {
            Answer::Response(result) if result.http_status < 400 => {
                return AttemptUpdate {
                    state: AsyncState::Succeeded,
                    now_ms: now,
                    next_attempt_at_ms: now,
                    error: None,
                    result: Some(result),
                };
            }
            Answer::Response(result) => {
                let status = result.http_status;
                let message = match may_change(status) {
                    true => format!("the function answered {status}"),
                    false => format!(
                        "the function answered {status}: not retried, the same event would get it again"
                    ),
                };
                (Some(status), message, Some(result))
            }
            Answer::Failed {
                http_status,
                message,
            } => (http_status, message, None),
        };
        let delay = retry_delay(self.options.base_delay, invocation.attempts);
        let next_attempt_at_ms = now + delay.as_millis() as i64;
        let retry = invocation.attempts <= invocation.max_retries
            && next_attempt_at_ms <= invocation.expires_at_ms
            && http_status.is_none_or(may_change);
        AttemptUpdate {
            state: if retry {
                AsyncState::Failed
            } else {
                AsyncState::Dead
            },
            now_ms: now,
            next_attempt_at_ms,
            error: Some(AttemptError {
                attempt: invocation.attempts,
                at_ms: now,
                http_status,
                message,
            }),
            result,
        }
    }
}

/// Whether a failed answer may be another next time: a 5xx, a timeout (408) or too many
/// requests (429). Any other 4xx refused the event itself; the same event gets it again.
fn may_change(http_status: u16) -> bool {
    http_status >= 500 || http_status == 408 || http_status == 429
}

fn build_request(
    invocation: &AsyncInvocation,
) -> Result<http::Request<crate::RequestBody>, String> {
    let stored = &invocation.request;
    let mut builder = http::Request::builder()
        .method(stored.method.as_str())
        .uri(stored.path_with_query.as_str());
    for (name, value) in &stored.headers {
        builder = builder.header(name, value);
    }
    let body = Full::new(Bytes::from(stored.body.clone()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut request = builder
        .body(body)
        .map_err(|e| format!("the stored request is invalid: {e}"))?;
    // Set, not added: Gust's own values are the only ones the function sees.
    let headers = request.headers_mut();
    headers.insert(http::header::HOST, HeaderValue::from_static("localhost"));
    headers.insert(ATTEMPT, HeaderValue::from(invocation.attempts));
    Ok(request)
}

/// The body's first `limit` bytes, and whether there was more.
async fn read_at_most<B>(mut body: B, limit: usize) -> Result<(Bytes, bool), B::Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let room = limit - kept.len();
        if data.len() > room {
            kept.extend_from_slice(&data[..room]);
            return Ok((kept.freeze(), true));
        }
        kept.extend_from_slice(&data);
    }
    Ok((kept.freeze(), false))
}

fn result_of(http_status: u16, headers: &http::HeaderMap, body: Bytes) -> AsyncResult {
    let headers = headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let (body, body_base64) = match String::from_utf8(body.to_vec()) {
        Ok(text) => (text, false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body),
            true,
        ),
    };
    AsyncResult {
        http_status,
        headers,
        body,
        body_base64,
        truncated: false,
    }
}
