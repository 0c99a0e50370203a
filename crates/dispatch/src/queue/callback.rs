use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gust_core::{AsyncInvocation, now_ms};
use gust_trace::SpanKind;
use gust_trace::traceparent::{self, TRACEPARENT};
use tokio::sync::Semaphore;

use super::AsyncQueue;
use super::attempt::ATTEMPT;
use super::backoff::retry_delay;
use super::callback_client::{literal_refusal, redacted};
use super::result_body::body_and_type;
use super::signature::SIGNATURE;
use super::trace_context::stored_parent;
use crate::INVOCATION_ID;

/// Deliveries tried before a callback is given up.
const MAX_CALLBACK_TRIES: u32 = 5;
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Callbacks being delivered at once on this node, and to any one host: a receiver that
/// hangs holds up its own callbacks, not everyone's.
const CALLBACKS_AT_ONCE: usize = 64;
const CALLBACKS_PER_HOST: usize = 4;

/// The callbacks this node is delivering, and the limits they share.
#[derive(Default)]
struct Deliveries {
    in_flight: Mutex<HashSet<String>>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Deliveries {
    fn start(&self, id: &str) -> bool {
        self.lock_in_flight().insert(id.to_string())
    }

    fn end(&self, id: &str) {
        self.lock_in_flight().remove(id);
    }

    fn count(&self) -> usize {
        self.lock_in_flight().len()
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host_limit(&self, url: &str) -> Arc<Semaphore> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_default();
        let mut per_host = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
        // Hosts no delivery holds any more are forgotten, so the map stays small. (A spawned
        // delivery holds its host's limit before it acquires a permit: counting free permits
        // instead forgot limits just handed out, and a burst to one host went unlimited.)
        per_host.retain(|_, limit| Arc::strong_count(limit) > 1);
        per_host
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(CALLBACKS_PER_HOST)))
            .clone()
    }
}

impl AsyncQueue {
    /// Posts the outcome of finished invocations to their `X-Callback-Url`, several at once,
    /// retrying failures.
    pub(super) async fn deliver_callbacks(self: Arc<Self>) {
        let deliveries = Arc::new(Deliveries::default());
        let all = Arc::new(Semaphore::new(CALLBACKS_AT_ONCE));
        loop {
            // Those in flight are still due until tried: read past them.
            let limit = (CALLBACKS_AT_ONCE + deliveries.count()) as u32;
            let wait = match self.store.due_callbacks(now_ms(), limit).await {
                Ok(due) => {
                    let fresh: Vec<_> = due
                        .into_iter()
                        .filter(|invocation| deliveries.start(&invocation.id))
                        .collect();
                    if !fresh.is_empty() {
                        for invocation in fresh {
                            self.spawn_callback(invocation, &deliveries, &all);
                        }
                        continue;
                    }
                    match deliveries.count() {
                        0 => super::until_due(self.store.next_callback_at().await),
                        // A finished delivery wakes the loop.
                        _ => super::IDLE_WAIT,
                    }
                }
                Err(e) => {
                    tracing::error!("cannot read due callbacks: {e}");
                    super::ERROR_WAIT
                }
            };
            tokio::select! {
                () = self.callbacks_ready.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn spawn_callback(
        self: &Arc<Self>,
        invocation: AsyncInvocation,
        deliveries: &Arc<Deliveries>,
        all: &Arc<Semaphore>,
    ) {
        let url = invocation.callback_url.clone().unwrap_or_default();
        let host_limit = deliveries.host_limit(&url);
        let (queue, deliveries, all) = (self.clone(), deliveries.clone(), all.clone());
        tokio::spawn(async move {
            if let (Ok(_host), Ok(_slot)) = (host_limit.acquire().await, all.acquire().await) {
                queue.callback(&invocation).await;
            }
            deliveries.end(&invocation.id);
            queue.callbacks_ready.notify_one();
        });
    }

    async fn callback(&self, invocation: &AsyncInvocation) {
        let Some(url) = &invocation.callback_url else {
            return;
        };
        let tries = invocation.callback_attempts + 1;
        let retry_at = match self.post_callback(invocation, url).await {
            Ok(()) => None,
            Err(why) => {
                let retry = why.is_some() && tries < MAX_CALLBACK_TRIES;
                let url = redacted(url);
                let why = why.unwrap_or_else(|| "refused".into());
                if retry {
                    tracing::info!(id = %invocation.id, url, "callback failed, will retry: {why}");
                    Some(now_ms() + retry_delay(self.options.base_delay, tries).as_millis() as i64)
                } else {
                    tracing::warn!(id = %invocation.id, url, "callback given up after {tries} tries: {why}");
                    None
                }
            }
        };
        if let Err(e) = self.store.callback_tried(&invocation.id, retry_at).await {
            tracing::error!(id = %invocation.id, "cannot record a callback try: {e}");
        }
    }

    /// One delivery. `Err(Some(why))` may be retried; `Err(None)` never will succeed.
    async fn post_callback(
        &self,
        invocation: &AsyncInvocation,
        url: &str,
    ) -> Result<(), Option<String>> {
        let allow_private = self.options.allow_private_callbacks;
        if let Some(refusal) = literal_refusal(url, allow_private) {
            tracing::warn!(id = %invocation.id, "{refusal}");
            return Err(None);
        }
        let (body, content_type) = callback_body(invocation);
        let signature = self
            .signer
            .sign(&invocation.function, now_ms() / 1000, &body);
        let mut request = self
            .http
            .post(url)
            .timeout(CALLBACK_TIMEOUT)
            .header(INVOCATION_ID, &invocation.id)
            .header("x-gust-status", invocation.state.as_str())
            .header(ATTEMPT, invocation.attempts)
            .header(SIGNATURE, signature)
            .header("content-type", content_type);
        if let Some(result) = &invocation.result {
            request = request.header("x-gust-function-status", result.http_status);
        }
        // The delivery is a span of the invocation's trace, and the receiver's parent.
        let parent = stored_parent(&invocation.request);
        let mut span = self.dispatcher.tracer().start(
            "callback",
            SpanKind::Client,
            parent.and_then(traceparent::parse),
            None,
            |attributes| {
                attributes.text("faas.invocation_id", &invocation.id);
            },
        );
        let ours = span.context().map(|context| traceparent::format(&context));
        if let Some(value) = ours.as_deref().or(parent) {
            request = request.header(TRACEPARENT, value);
        }
        let delivered = match request.body(body).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(Some(format!("the receiver answered {}", response.status()))),
            Err(e) => Err(Some(error_chain(&e))),
        };
        if let Err(Some(why)) = &delivered {
            span.fail(|| why.clone());
        }
        span.end();
        delivered
    }
}

/// What a callback carries: the function's answer as it was, or the attempts' errors.
fn callback_body(invocation: &AsyncInvocation) -> (Vec<u8>, String) {
    let Some(result) = &invocation.result else {
        let errors = serde_json::json!({"errors": invocation.errors});
        return (errors.to_string().into_bytes(), "application/json".into());
    };
    body_and_type(result)
}

/// An error with its causes: reqwest's own message is only "error sending request".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_to_one_host_shares_one_limit() {
        let deliveries = Deliveries::default();
        let first = deliveries.host_limit("https://hooks.example.com/a");
        let second = deliveries.host_limit("https://hooks.example.com:443/b");
        assert!(Arc::ptr_eq(&first, &second));
        let other = deliveries.host_limit("https://elsewhere.example.com/");
        assert!(!Arc::ptr_eq(&first, &other));
        drop((first, second, other));
        deliveries.host_limit("https://third.example.com/");
        assert_eq!(
            deliveries.per_host.lock().unwrap().len(),
            1,
            "released hosts are forgotten"
        );
    }
}
