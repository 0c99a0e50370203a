//! Destinations, as Lambda's: once an event or asynchronous invocation has ended, its outcome
//! goes where the function's `on_success` or `on_failure` says. A success sends the function's
//! answer as it is (an empty answer sends nothing); a failure sends what went wrong. Either way
//! the invocation id, function, origin and condition travel as `gust-*` headers (or however
//! the destination's protocol carries metadata). Webhooks are signed as callbacks are, and
//! reach only what callbacks may.
//!
//! The outcome is sent before the invocation is recorded as ended (or its event acknowledged),
//! so a crash in between sends it again: destinations get outcomes at least once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gust_core::{
    AsyncInvocation, AsyncResult, AttemptError, Destination, DestinationKind, Error,
    FunctionConfig, Origin, StoredRequest, now_ms,
};
use gust_trace::traceparent::TRACEPARENT;
use serde_json::json;

use super::AsyncQueue;
use super::callback_client::{literal_refusal, redacted};
use super::result_body::body_and_type;
use super::signature::SIGNATURE;
use super::trace_context::stored_parent;

const SEND_TRIES: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a destination receives: metadata as headers, and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, value)| value.as_str())
    }
}

/// Sends messages to destinations of one kind through a broker this node was given
/// (`gust serve --destination-kafka` and the like).
#[async_trait]
pub trait Outlet: Send + Sync {
    fn kind(&self) -> DestinationKind;

    async fn send(&self, target: &str, message: &Message) -> Result<(), String>;
}

/// The outlets of a node, by kind.
#[derive(Default)]
pub struct Outlets(HashMap<DestinationKind, Arc<dyn Outlet>>);

impl Outlets {
    pub fn new(outlets: Vec<Arc<dyn Outlet>>) -> Outlets {
        Outlets(outlets.into_iter().map(|o| (o.kind(), o)).collect())
    }
}

/// How an invocation ended.
pub(super) enum Outcome<'a> {
    Succeeded(Option<&'a AsyncResult>),
    Failed(&'a [AttemptError]),
}

impl AsyncQueue {
    /// Whether this node can send to the function's destinations: refused at deploy rather
    /// than failing on every event.
    pub fn check_destinations(&self, name: &str, config: &FunctionConfig) -> Result<(), Error> {
        for destination in [&config.on_success, &config.on_failure]
            .into_iter()
            .flatten()
        {
            match destination.kind {
                DestinationKind::Function if destination.target == name => {
                    return Err(Error::invalid(
                        "a function cannot be its own destination: each outcome would invoke it again",
                    ));
                }
                DestinationKind::Function => {}
                DestinationKind::Webhook => {
                    let private = self.options.allow_private_callbacks;
                    if let Some(refusal) = literal_refusal(&destination.target, private) {
                        return Err(Error::invalid(format!("destination {refusal}")));
                    }
                }
                kind if !self.outlets.0.contains_key(&kind) => {
                    return Err(Error::invalid(format!(
                        "this node sends no {0} destinations: start it with \
                         `gust serve --destination-{0} ...`",
                        kind.name()
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends the outcome of `invocation` to its function's destination for it, if any,
    /// trying a few times. A destination that stays unreachable is logged, not retried
    /// forever: the invocation itself is done.
    pub(super) async fn report_outcome(&self, invocation: &AsyncInvocation, outcome: Outcome<'_>) {
        let Ok(version) = self.dispatcher.resolve(&invocation.function).await else {
            return;
        };
        let destination = match outcome {
            // An empty answer (a 204, say) has nothing to pass on.
            Outcome::Succeeded(result) if result.is_none_or(|r| r.body.is_empty()) => return,
            Outcome::Succeeded(_) => &version.config.on_success,
            Outcome::Failed(_) => &version.config.on_failure,
        };
        let Some(destination) = destination else {
            return;
        };
        let message = message(invocation, &outcome);
        let mut wait = FIRST_RETRY;
        for attempt in 1..=SEND_TRIES {
            match self.send(destination, &message).await {
                Ok(()) => return,
                Err(e) if attempt == SEND_TRIES => {
                    tracing::error!(
                        id = %invocation.id,
                        "the outcome was not sent to {}: {e}",
                        shown(destination)
                    );
                }
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }

    async fn send(&self, destination: &Destination, message: &Message) -> Result<(), String> {
        let target = destination.target.as_str();
        match destination.kind {
            DestinationKind::Function => {
                let request = StoredRequest {
                    method: "POST".into(),
                    path_with_query: "/".into(),
                    headers: message.headers.clone(),
                    body: message.body.clone(),
                };
                let function = message.header(FUNCTION).unwrap_or_default().to_string();
                let origin = Origin::new("destination", function);
                self.enqueue(target, origin, request, None)
                    .await
                    .map(drop)
                    .map_err(|e| e.message)
            }
            DestinationKind::Webhook => {
                // Signed as callbacks are, with the function's callback secret.
                let function = message.header(FUNCTION).unwrap_or_default();
                let signature = self.signer.sign(function, now_ms() / 1000, &message.body);
                let mut request = self
                    .http
                    .post(target)
                    .timeout(WEBHOOK_TIMEOUT)
                    .header(SIGNATURE, signature);
                for (name, value) in &message.headers {
                    request = request.header(name, value);
                }
                let response = request
                    .body(message.body.clone())
                    .send()
                    .await
                    .map_err(|e| e.without_url().to_string())?;
                match response.status() {
                    status if status.is_success() => Ok(()),
                    status => Err(format!("the webhook answered {status}")),
                }
            }
            kind => match self.outlets.0.get(&kind) {
                Some(outlet) => outlet.send(target, message).await,
                None => Err(format!("this node sends no {} destinations", kind.name())),
            },
        }
    }
}

const FUNCTION: &str = "gust-function";

fn message(invocation: &AsyncInvocation, outcome: &Outcome<'_>) -> Message {
    let origin = match invocation.origin.source.as_str() {
        "" => invocation.origin.kind.to_string(),
        source => format!("{}:{source}", invocation.origin.kind),
    };
    let (condition, content_type, body) = match outcome {
        Outcome::Succeeded(result) => {
            let (body, content_type) = result.map(body_and_type).unwrap_or_default();
            ("success", content_type, body)
        }
        Outcome::Failed(errors) => {
            let report = json!({
                "invocation_id": invocation.id,
                "function": invocation.function,
                "origin": origin,
                "attempts": invocation.attempts,
                "errors": errors,
            });
            (
                "failure",
                "application/json".into(),
                report.to_string().into_bytes(),
            )
        }
    };
    let mut headers = vec![
        ("content-type".into(), content_type),
        ("gust-invocation-id".into(), invocation.id.clone()),
        (FUNCTION.into(), invocation.function.clone()),
        ("gust-origin".into(), origin),
        ("gust-condition".into(), condition.into()),
    ];
    // What the destination does is part of the invocation's trace.
    if let Some(parent) = stored_parent(&invocation.request) {
        headers.push((TRACEPARENT.to_string(), parent.to_string()));
    }
    Message { headers, body }
}

/// A destination as logs may show it: a webhook's URL without credentials.
fn shown(destination: &Destination) -> String {
    match destination.kind {
        DestinationKind::Webhook => format!("webhook:{}", redacted(&destination.target)),
        _ => destination.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use gust_core::AsyncState;

    use super::*;

    fn invocation() -> AsyncInvocation {
        AsyncInvocation {
            id: "01ID".into(),
            function: "aggregate".into(),
            origin: Origin::new("kafka", "01TRIGGER"),
            state: AsyncState::Running,
            attempts: 2,
            max_retries: 1,
            enqueued_at_ms: 0,
            next_attempt_at_ms: 0,
            expires_at_ms: 0,
            finished_at_ms: None,
            callback_url: None,
            callback_attempts: 0,
            request: StoredRequest {
                method: "POST".into(),
                path_with_query: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
            errors: Vec::new(),
            result: None,
        }
    }

    #[test]
    fn a_success_sends_the_answer_with_where_it_came_from() {
        let result = AsyncResult {
            http_status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: "{\"max\":31}".into(),
            body_base64: false,
            truncated: false,
        };
        let sent = message(&invocation(), &Outcome::Succeeded(Some(&result)));
        assert_eq!(sent.body, b"{\"max\":31}");
        assert_eq!(sent.header("content-type"), Some("application/json"));
        assert_eq!(sent.header("gust-origin"), Some("kafka:01TRIGGER"));
        assert_eq!(sent.header("gust-condition"), Some("success"));
        assert_eq!(sent.header("gust-invocation-id"), Some("01ID"));
    }

    #[test]
    fn a_failure_sends_what_went_wrong() {
        let errors = [AttemptError {
            attempt: 2,
            at_ms: 5,
            http_status: Some(500),
            message: "the function answered 500".into(),
        }];
        let sent = message(&invocation(), &Outcome::Failed(&errors));
        let report: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(report["errors"][0]["http_status"], 500);
        assert_eq!(report["attempts"], 2);
        assert_eq!(sent.header("gust-condition"), Some("failure"));
    }
}
