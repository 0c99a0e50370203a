use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gust_core::{InstanceCount, InvocationStatus, KeyValue};
use tokio::sync::oneshot;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use super::epoch_ticker::TickerUse;
use super::guest::GuestState;
use super::guest::MemoryLimit;
use super::inline_run::InlineRun;
use super::memory_budget::MemoryBudget;
use super::warm_pool::{IdleBudget, WarmInstance, WarmPool};
use crate::{Call, Execution, Failure, Loaded, Outcome, RequestBody, ResponseBody};

type ResponseSender = oneshot::Sender<
    Result<http::Response<ResponseBody>, wasmtime_wasi_http::p2::bindings::http::types::ErrorCode>,
>;

/// A loaded component version: a request takes a warm instance of it, or a fresh one from
/// its `InstancePre`.
pub struct WasmFunction {
    shared: Arc<Shared>,
    /// Set by the first invocation, which paid for loading: that one is cold.
    used: AtomicBool,
}

/// What the task running a request needs of its version.
struct Shared {
    engine: Engine,
    pre: Arc<ProxyPre<GuestState>>,
    warm: WarmPool,
    /// The node's budget of linear memory, which every instance draws from.
    memory: Arc<MemoryBudget>,
    /// The node's key-value stores, for the instances of functions granted one.
    kv: Option<Arc<dyn KeyValue>>,
    busy: AtomicU32,
    /// Epoch ticks, which running guests need to yield and time out, go on while it lives:
    /// as long as the version is loaded or one of its guests still runs.
    _ticks: TickerUse,
}

impl WasmFunction {
    pub fn new(
        engine: Engine,
        pre: Arc<ProxyPre<GuestState>>,
        budget: Arc<IdleBudget>,
        memory: Arc<MemoryBudget>,
        kv: Option<Arc<dyn KeyValue>>,
        ticks: TickerUse,
    ) -> Self {
        WasmFunction {
            shared: Arc::new(Shared {
                engine,
                pre,
                warm: WarmPool::new(budget),
                memory,
                kv,
                busy: AtomicU32::new(0),
                _ticks: ticks,
            }),
            used: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl Loaded for WasmFunction {
    async fn invoke(&self, call: Call, request: http::Request<RequestBody>) -> Execution {
        let cold = !self.used.swap(true, Ordering::Relaxed);
        let (response_tx, response_rx) = oneshot::channel();
        let (finished_tx, finished_rx) = oneshot::channel();
        let shared = self.shared.clone();
        let computing = Arc::new(AtomicBool::new(false));
        let flag = computing.clone();
        // The guest runs here until its response head is out; if it is still writing the body
        // then, it goes on in its own task, and if it computes for long, among the long
        // runners. Its outcome arrives on `finished` when it is done.
        let guest = InlineRun::new(
            async move {
                shared.busy.fetch_add(1, Ordering::Relaxed);
                run(&shared, call, request, response_tx, finished_tx, flag).await;
                shared.busy.fetch_sub(1, Ordering::Relaxed);
            },
            computing,
        );
        let failure = match guest.until(response_rx).await {
            Ok(Ok(response)) => {
                return Execution {
                    response: Ok(response),
                    finished: finished_rx,
                    cold,
                };
            }
            Ok(Err(code)) => Some(Failure {
                status: InvocationStatus::Error,
                message: format!("the function answered with an error: {code:?}"),
            }),
            Err(_) => None,
        };
        // No response: the guest failed (or returned) before setting one. Its outcome says why.
        let outcome = finished_rx.await.unwrap_or_else(|_| Outcome {
            status: InvocationStatus::Error,
            error: Some("the function's task was lost".into()),
            duration: Duration::ZERO,
            instance_start: None,
        });
        let failure = failure.unwrap_or_else(|| match outcome.status {
            InvocationStatus::Ok => Failure {
                status: InvocationStatus::Error,
                message: "the function returned without setting a response".into(),
            },
            status => Failure {
                status,
                message: outcome.error.clone().unwrap_or_default(),
            },
        });
        Execution::over(Err(failure), outcome, cold)
    }

    /// Warm instances (at least the loaded code) and those serving a request now.
    fn instances(&self) -> InstanceCount {
        let busy = self.shared.busy.load(Ordering::Relaxed);
        let idle = self.shared.warm.idle_count() as u32;
        InstanceCount {
            warm: (idle + busy).max(1),
            busy,
        }
    }

    fn scale_down(&self, idle: Duration, _keep: u32) {
        self.shared.warm.trim(idle);
    }
}

async fn run(
    shared: &Shared,
    call: Call,
    request: http::Request<RequestBody>,
    response_tx: ResponseSender,
    finished_tx: oneshot::Sender<Outcome>,
    computing: Arc<AtomicBool>,
) {
    let started = Instant::now();
    let timeout = Duration::from_millis(call.config.timeout_ms);
    let (mut store, warm_proxy, served) = match shared.warm.take() {
        Some(warm) => (warm.store, Some(warm.proxy), warm.served),
        None => {
            let state = GuestState::new(&call.config, shared.memory.clone(), shared.kv.clone());
            let mut store = Store::new(&shared.engine, state);
            store.limiter(|state| &mut state.limiter);
            // CPU-bound guests yield to other tasks at every epoch tick and trap at the
            // deadline; guests waiting on I/O are stopped by the timer around the call.
            store.epoch_deadline_callback(|store| {
                Ok(if Instant::now() >= store.data().deadline {
                    UpdateDeadline::Interrupt
                } else {
                    store.data().computing.store(true, Ordering::Relaxed);
                    UpdateDeadline::Yield(1)
                })
            });
            (store, None, 0)
        }
    };
    store
        .data_mut()
        .begin(call.logs, call.traceparent, started + timeout, computing);
    store.set_epoch_deadline(1);
    let mut instance_start = None;
    let result = tokio::time::timeout(timeout, async {
        let mut http = store.data_mut().http();
        let request = http.new_incoming_request(Scheme::Http, request)?;
        let response = http.new_response_outparam(response_tx)?;
        let proxy = match warm_proxy {
            Some(proxy) => proxy,
            None => {
                let proxy = shared.pre.instantiate_async(&mut store).await?;
                instance_start = Some(started.elapsed());
                proxy
            }
        };
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, response)
            .await?;
        Ok::<_, wasmtime::Error>(proxy)
    })
    .await;
    let timed_out = || {
        (
            InvocationStatus::Timeout,
            Some(format!(
                "the function exceeded its timeout of {} ms",
                call.config.timeout_ms
            )),
        )
    };
    let (status, error) = match &result {
        Ok(Ok(_)) => (InvocationStatus::Ok, None),
        Err(_elapsed) => timed_out(),
        Ok(Err(_)) if store.data().limiter.exceeded == Some(MemoryLimit::Function) => (
            InvocationStatus::MemoryExceeded,
            Some(format!(
                "the function exceeded its memory limit of {} MB",
                call.config.memory_mb
            )),
        ),
        Ok(Err(_)) if store.data().limiter.exceeded == Some(MemoryLimit::Node) => (
            InvocationStatus::MemoryExceeded,
            Some(format!(
                "the node's memory for Wasm instances ({} MiB, --wasm-memory-mb) is in use",
                shared.memory.limit() >> 20
            )),
        ),
        Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => timed_out(),
        Ok(Err(e)) => (InvocationStatus::Error, Some(describe_failure(e))),
    };
    let _ = finished_tx.send(Outcome {
        status,
        error,
        duration: started.elapsed(),
        instance_start,
    });
    // Keeping or tearing down the instance (resetting its memory) happens after the outcome
    // is out, so that nothing waiting on it waits for that too.
    if let Ok(Ok(proxy)) = result
        && store.data().is_clean()
    {
        let warm = WarmInstance::new(store, proxy, served + 1);
        shared.warm.give_back(warm);
    }
}

/// One line for the caller; the wasm backtrace goes to the server's debug log.
fn describe_failure(err: &wasmtime::Error) -> String {
    tracing::debug!("function failed: {err:?}");
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return format!("the function exited with code {}", exit.0);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => {
            "the function trapped: wasm `unreachable` executed (a panic or abort; its stderr \
             is in the function's logs)"
                .into()
        }
        Some(trap) => format!("the function trapped: {trap}"),
        None => format!("the function failed: {}", err.root_cause()),
    }
}
