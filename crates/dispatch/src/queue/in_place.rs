//! Delivery in place, for stream sources (Redis streams, JetStream, MQTT, Kafka): an event runs
//! now, is retried with backoff within the function's max retries while its source waits, and
//! is dead-lettered after the last failure. The source acknowledges the event once this
//! returns, so the next event of its stream or partition starts only then, and a function at
//! its concurrency limit pauses the source instead of refusing it.

use gust_core::{AsyncInvocation, AsyncResult, AsyncState, Error, Origin, StoredRequest, now_ms};

use super::AsyncQueue;
use super::destinations::Outcome;

/// How a delivery in place ended; either way the source may acknowledge the event.
#[derive(Debug)]
pub enum Delivered {
    /// With the function's answer.
    Succeeded(Option<AsyncResult>),
    /// Every attempt failed: the event is stored as a dead letter with this id.
    DeadLettered(String),
}

impl AsyncQueue {
    /// Runs `request` on `function` until it succeeds or its attempts run out. Each attempt is
    /// an invocation like any other (records, logs, billing), all under one invocation id.
    pub async fn deliver_in_place(
        &self,
        function: &str,
        origin: Origin,
        request: StoredRequest,
    ) -> Result<Delivered, Error> {
        let new = self.prepare(function, origin, request, None).await?;
        let mut invocation = AsyncInvocation {
            id: new.id.clone(),
            function: new.function.clone(),
            origin: new.origin.clone(),
            state: AsyncState::Running,
            attempts: 0,
            max_retries: new.max_retries,
            enqueued_at_ms: new.enqueued_at_ms,
            next_attempt_at_ms: new.enqueued_at_ms,
            expires_at_ms: new.expires_at_ms,
            finished_at_ms: None,
            callback_url: None,
            callback_attempts: 0,
            request: new.request.clone(),
            errors: Vec::new(),
            result: None,
        };
        loop {
            invocation.attempts += 1;
            let answer = self.deliver(&invocation).await;
            let step = self.next_step(&invocation, answer);
            invocation.errors.extend(step.error);
            match step.state {
                AsyncState::Succeeded => {
                    let outcome = Outcome::Succeeded(step.result.as_ref());
                    self.report_outcome(&invocation, outcome).await;
                    return Ok(Delivered::Succeeded(step.result));
                }
                AsyncState::Dead => {
                    let outcome = Outcome::Failed(&invocation.errors);
                    self.report_outcome(&invocation, outcome).await;
                    let id = new.id.clone();
                    self.store.bury(new, invocation.errors).await?;
                    return Ok(Delivered::DeadLettered(id));
                }
                _ => {
                    let wait = (step.next_attempt_at_ms - now_ms()).max(0) as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
            }
        }
    }
}
