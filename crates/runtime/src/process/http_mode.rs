//! HTTP mode: a request is proxied to a warm instance (started if none is free) and its
//! response streamed back.

use std::time::Duration;

use gust_core::InvocationStatus;
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout_at};

use super::pool::{HttpPool, Unavailable};
use super::watched_body::{BodyEnd, WatchedBody};
use super::{failed, strip_hop_headers};
use crate::{Call, Execution, Outcome, RequestBody};

pub async fn invoke(
    pool: &HttpPool,
    call: Call,
    mut request: http::Request<RequestBody>,
) -> Execution {
    let started = Instant::now();
    let limit = Duration::from_millis(call.config.timeout_ms);
    let deadline = started + limit;
    let lease = match pool.acquire(deadline).await {
        Ok(lease) => lease,
        Err(Unavailable::NoSlot) => {
            let message = format!(
                "every instance stayed busy for the {} ms timeout",
                limit.as_millis()
            );
            return failed(InvocationStatus::Timeout, message, started, false);
        }
        Err(Unavailable::Failed(message)) => {
            return failed(InvocationStatus::Crashed, message, started, true);
        }
    };
    let cold = lease.cold;
    let instance_start = cold.then(|| started.elapsed());
    let listening = lease.instance.process.output.attach(call.logs.clone());
    strip_hop_headers(request.headers_mut());
    let response = match timeout_at(deadline, lease.instance.send(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            let (exit, message) = lease.instance.explain_failure(&error).await;
            lease.instance.retire();
            let status = match exit {
                Some(exit) if exit.out_of_memory => InvocationStatus::MemoryExceeded,
                _ => InvocationStatus::Crashed,
            };
            return failed(status, message, started, cold);
        }
        Err(_) => {
            lease.instance.retire();
            let message = format!(
                "the function did not answer within {} ms",
                limit.as_millis()
            );
            return failed(InvocationStatus::Timeout, message, started, cold);
        }
    };
    let (mut parts, body) = response.into_parts();
    strip_hop_headers(&mut parts.headers);
    let (finished_tx, finished) = oneshot::channel();
    let on_end = Box::new(move |end: BodyEnd| {
        let (status, error) = match end {
            BodyEnd::Complete | BodyEnd::Abandoned => (InvocationStatus::Ok, None),
            BodyEnd::Failed(message) => (InvocationStatus::Crashed, Some(message)),
            BodyEnd::TimedOut => {
                lease.instance.retire();
                let message = format!(
                    "the function did not finish within {} ms",
                    limit.as_millis()
                );
                (InvocationStatus::Timeout, Some(message))
            }
        };
        drop(listening);
        drop(lease);
        let duration = started.elapsed();
        let _ = finished_tx.send(Outcome {
            status,
            error,
            duration,
            instance_start,
        });
    });
    let body = WatchedBody::new(body, deadline, on_end).boxed_unsync();
    Execution {
        response: Ok(http::Response::from_parts(parts, body)),
        finished,
        cold,
    }
}
