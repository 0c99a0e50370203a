use gust_core::{Error, InvocationId, InvocationRecord, InvocationStatus, Origin, now_ms};
use gust_runtime::{Call, Failure, Outcome, RequestBody, ResponseBody};
use gust_trace::Span;
use http::{HeaderMap, HeaderName};

use crate::hold::{Held, hold};
use crate::number_header::number_value;
use crate::recorder::Recorder;
use crate::{ActiveVersion, Admission, Dispatcher, Permit, traced};

// Names made once: a name given as text is parsed again at every insert.
pub const BILLED_MS: HeaderName = HeaderName::from_static("x-gust-billed-ms");
pub const INVOCATION_ID: HeaderName = HeaderName::from_static("x-gust-invocation-id");

/// Everything about an invocation but its request: the function, the invocation's id, where it
/// came from, which attempt it is, and whether it waits for a place or is refused at once when
/// the function is full.
pub struct Entry<'a> {
    pub function: &'a str,
    pub invocation_id: String,
    pub origin: Origin,
    pub attempt: u32,
    pub admission: Admission,
    /// When its event was queued, for one that waited in a queue (milliseconds since the
    /// epoch): its trace starts there.
    pub queued_since_ms: Option<i64>,
}

/// What an invocation produced: the response or why there is none, whether it paid a start,
/// and its billed milliseconds when known before the response goes out.
pub struct Invoked {
    pub response: Result<http::Response<ResponseBody>, Failure>,
    pub cold: bool,
    pub billed_ms: Option<u64>,
    /// The version that ran (an alias's split picks one per call).
    pub version: u32,
}

/// The HTTP status a caller gets for a run that ended without a response.
pub fn failure_status(status: InvocationStatus) -> u16 {
    match status {
        InvocationStatus::Timeout => 504,
        InvocationStatus::Crashed => 502,
        _ => 500,
    }
}

/// What is known of an invocation before it ends; `finish` turns it into its record.
///
/// An event (anything but a request) answered with 4xx or 5xx was not handled: its record is
/// an `error`, so that usage counts it. A request's answer is the function's to give: its
/// record is `ok` with the status it answered.
struct Pending {
    record: InvocationRecord,
    timeout_ms: u64,
    /// A failure the caller already saw (the run may still end "ok" after answering 500).
    failed_early: Option<Failure>,
}

impl Pending {
    fn finish(mut self, outcome: Outcome) -> InvocationRecord {
        let r = &mut self.record;
        let refused_event = !r.origin.is_request() && r.http_status >= 400;
        let (status, error) = match (outcome.status, self.failed_early) {
            (InvocationStatus::Ok, Some(failure)) => (failure.status, Some(failure.message)),
            (InvocationStatus::Ok, None) if refused_event => (
                InvocationStatus::Error,
                Some(format!("the function answered {}", r.http_status)),
            ),
            (status, _) => (status, outcome.error),
        };
        r.duration_us = outcome.duration.as_micros() as u64;
        r.billed_ms = InvocationRecord::billed_ms_for(r.duration_us, status, self.timeout_ms);
        r.gb_seconds = InvocationRecord::gb_seconds_for(r.billed_ms, r.memory_mb);
        r.status = status;
        r.error = error;
        self.record
    }
}

impl Dispatcher {
    /// The one way every origin calls a function (`entry.function` may name an alias or a
    /// version: `FN@live`, `FN@3`): resolves the version that serves it, waits
    /// for leave within its limits, and runs it.
    pub async fn call(
        &self,
        entry: Entry<'_>,
        request: http::Request<RequestBody>,
    ) -> Result<Invoked, Error> {
        let mut trace = traced::start(&self.tracer, &entry, request.headers());
        let admitted = async {
            let (active, loaded) = self.resolve_loading(entry.function).await?;
            match loaded {
                true => trace.phase("code load"),
                false => trace.skip(),
            }
            let permit = self.admit(&active, entry.admission).await?;
            trace.phase("admission");
            Ok::<_, Error>((active, permit))
        };
        let (active, permit) = match admitted.await {
            Ok(admitted) => admitted,
            Err(e) => {
                trace.fail(|| e.message.clone());
                trace.end();
                return Err(e);
            }
        };
        Ok(self.run(&active, entry, request, permit, trace).await)
    }

    /// Runs one invocation of a resolved version, holding `permit` until it finishes; with
    /// metering on, records and measures it.
    async fn run(
        &self,
        active: &ActiveVersion,
        entry: Entry<'_>,
        request: http::Request<RequestBody>,
        permit: Permit,
        mut trace: Span,
    ) -> Invoked {
        let Entry {
            invocation_id,
            origin,
            attempt,
            ..
        } = entry;
        let started_at_ms = now_ms();
        active.used_at(started_at_ms);
        // Only a metered invocation has a record, which holds its id as bytes.
        let record_id = active
            .metrics
            .is_some()
            .then(|| InvocationId::parse(&invocation_id));
        // What the function calls next is a child of this invocation.
        let traceparent = trace.traceparent();
        let call = Call {
            logs: self
                .recorder
                .log_sink(invocation_id.clone(), active.version.function.clone()),
            invocation_id,
            config: active.config.clone(),
            traceparent,
        };
        trace.skip();
        let execution = active.loaded.invoke(call, request).await;
        let cold = execution.cold;
        let mut finished = execution.finished;
        if let Some(metrics) = active.metrics.as_ref().filter(|_| cold) {
            metrics.cold_start();
        }
        // Without metering (a mode for measuring its cost), the limits count until the
        // response head rather than until the function finishes.
        let Some(id) = record_id else {
            trace.set(|attributes| {
                traced::ran_as(attributes, &active.name, active.version.number, cold);
            });
            trace.end();
            return Invoked {
                response: execution.response,
                cold,
                billed_ms: None,
                version: active.version.number,
            };
        };
        let http_status = match &execution.response {
            Ok(response) => response.status().as_u16(),
            Err(failure) => failure_status(failure.status),
        };
        let pending = Pending {
            record: InvocationRecord {
                id,
                function: active.name.clone(),
                version: active.version.number,
                origin,
                attempt,
                started_at_ms,
                duration_us: 0,
                billed_ms: 0,
                memory_mb: active.config.memory_mb,
                gb_seconds: 0.0,
                status: InvocationStatus::Ok,
                cold,
                http_status,
                error: None,
            },
            timeout_ms: active.config.timeout_ms,
            failed_early: execution.response.as_ref().err().cloned(),
        };
        let response = match execution.response {
            Err(failure) => {
                // The run is over: its outcome is already waiting.
                let billed_ms = match finished.await {
                    Ok(outcome) => Some(conclude(&self.recorder, pending, outcome, trace)),
                    Err(_) => None,
                };
                return Invoked {
                    response: Err(failure),
                    cold,
                    billed_ms,
                    version: active.version.number,
                };
            }
            Ok(response) => response,
        };
        match hold(response, &mut finished).await {
            Held::Complete(response, outcome) => Invoked {
                response: Ok(response),
                cold,
                billed_ms: Some(conclude(&self.recorder, pending, outcome, trace)),
                version: active.version.number,
            },
            Held::Streaming(response, trailers) => {
                let recorder = self.recorder.clone();
                tokio::spawn(async move {
                    let outcome = finished.await;
                    drop(permit);
                    let Ok(outcome) = outcome else { return };
                    let billed_ms = conclude(&recorder, pending, outcome, trace);
                    let _ = trailers.send(billed_header(billed_ms));
                });
                Invoked {
                    response: Ok(response),
                    cold,
                    billed_ms: None,
                    version: active.version.number,
                }
            }
        }
    }
}

/// Records a finished run and ends its trace with the runtime's phases, the record's and what
/// the record says. Returns the billed milliseconds.
fn conclude(recorder: &Recorder, pending: Pending, outcome: Outcome, mut trace: Span) -> u64 {
    traced::ran(&mut trace, &outcome);
    trace.skip();
    let record = pending.finish(outcome);
    traced::describe(&mut trace, &record);
    let billed_ms = recorder.record(record);
    trace.phase("record");
    trace.end();
    billed_ms
}

fn billed_header(billed_ms: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(BILLED_MS, number_value(billed_ms));
    headers
}
