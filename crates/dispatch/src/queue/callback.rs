use std::time::Duration;

use base64::Engine;
use gust_core::{AsyncInvocation, now_ms};

use super::AsyncQueue;
use super::attempt::ATTEMPT;
use super::backoff::retry_delay;
use crate::INVOCATION_ID;

/// Deliveries tried before a callback is given up.
const MAX_CALLBACK_TRIES: u32 = 5;
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

impl AsyncQueue {
    /// Posts the outcome of finished invocations to their `X-Callback-Url`, retrying failures.
    pub(super) async fn deliver_callbacks(self: std::sync::Arc<Self>) {
        loop {
            let wait = match self.store.due_callbacks(now_ms(), 32).await {
                Ok(due) if !due.is_empty() => {
                    for invocation in due {
                        self.callback(invocation).await;
                    }
                    continue;
                }
                Ok(_) => super::until_due(self.store.next_callback_at().await),
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

    async fn callback(&self, invocation: AsyncInvocation) {
        let Some(url) = &invocation.callback_url else {
            return;
        };
        let mut request = self
            .http
            .post(url)
            .timeout(CALLBACK_TIMEOUT)
            .header(INVOCATION_ID, &invocation.id)
            .header("x-gust-status", invocation.state.as_str())
            .header(ATTEMPT, invocation.attempts);
        request = match &invocation.result {
            Some(result) => {
                let body = if result.body_base64 {
                    base64::engine::general_purpose::STANDARD
                        .decode(&result.body)
                        .unwrap_or_default()
                } else {
                    result.body.clone().into_bytes()
                };
                let content_type = result
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
                let request = request
                    .header("x-gust-function-status", result.http_status)
                    .body(body);
                match content_type {
                    Some((_, value)) => request.header("content-type", value),
                    None => request,
                }
            }
            None => request.json(&serde_json::json!({"errors": invocation.errors})),
        };
        let delivered = matches!(request.send().await, Ok(r) if r.status().is_success());
        let tries = invocation.callback_attempts + 1;
        let retry_at = (!delivered && tries < MAX_CALLBACK_TRIES)
            .then(|| now_ms() + retry_delay(self.options.base_delay, tries).as_millis() as i64);
        if !delivered && retry_at.is_none() {
            tracing::warn!(id = %invocation.id, url, "callback given up after {tries} tries");
        }
        if let Err(e) = self.store.callback_tried(&invocation.id, retry_at).await {
            tracing::error!(id = %invocation.id, "cannot record a callback try: {e}");
        }
    }
}
