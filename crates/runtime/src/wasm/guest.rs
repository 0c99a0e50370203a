use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gust_core::{FunctionConfig, KeyValue, LogStream};
use http::HeaderValue;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use super::keyvalue::KvAccess;
use super::memory_budget::MemoryBudget;
use super::stdio::LinePipe;
use crate::execution::TRACEPARENT;
use crate::{LogSink, SinkSlot};

/// Everything one instance owns; it may serve several requests of its version in turn.
pub struct GuestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// What wasi:config/store answers: the function's variables.
    pub variables: WasiConfigVariables,
    /// What wasi:keyvalue reaches: the stores the function was granted.
    pub kv: KvAccess,
    pub table: ResourceTable,
    outbound: OutboundPolicy,
    pub limiter: MemoryLimiter,
    /// When the current invocation must have finished.
    pub deadline: Instant,
    /// Where stdout, stderr and denied requests are logged: the current invocation.
    current_logs: SinkSlot,
    /// Set when the current invocation computes through an epoch tick: it is moved to the
    /// long-runners' runtime.
    pub computing: Arc<AtomicBool>,
}

impl GuestState {
    pub fn new(
        config: &FunctionConfig,
        budget: Arc<MemoryBudget>,
        kv: Option<Arc<dyn KeyValue>>,
    ) -> Self {
        let current_logs = SinkSlot::new();
        let logs = current_logs.forwarder();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(LinePipe::new(logs.clone(), LogStream::Stdout))
            .stderr(LinePipe::new(logs.clone(), LogStream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for (key, value) in &config.env {
            wasi.env(key, value);
        }
        if !config.allow_hosts.is_empty() {
            wasi.allow_tcp(true)
                .allow_ip_name_lookup(true)
                .socket_addr_check(super::tcp_policy::socket_check(
                    config.clone(),
                    logs.clone(),
                ));
        }
        GuestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            variables: config.env.iter().collect(),
            kv: KvAccess {
                backend: kv,
                granted: config.kv.clone(),
            },
            table: ResourceTable::new(),
            outbound: OutboundPolicy {
                config: config.clone(),
                logs,
                traceparent: None,
            },
            limiter: MemoryLimiter::new(config.memory_mb, budget),
            deadline: Instant::now(),
            current_logs,
            computing: Arc::default(),
        }
    }

    /// Readies the instance for one invocation, whose sink gets what it logs.
    pub fn begin(
        &mut self,
        logs: LogSink,
        traceparent: Option<HeaderValue>,
        deadline: Instant,
        computing: Arc<AtomicBool>,
    ) {
        self.current_logs.set(logs);
        self.outbound.traceparent = traceparent;
        self.computing = computing;
        self.deadline = deadline;
        self.limiter.exceeded = None;
    }

    /// Whether the guest let go of every resource of its last request: only then is the
    /// instance handed another one.
    pub fn is_clean(&self) -> bool {
        self.table.is_empty()
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Caps linear memory at the function's limit and within the node's budget, and remembers
/// which the guest hit, so that the trap that usually follows is reported as
/// `memory_exceeded`.
pub struct MemoryLimiter {
    max_bytes: usize,
    budget: Arc<MemoryBudget>,
    /// What this instance holds of the node's budget; given back when it is dropped.
    charged: usize,
    pub exceeded: Option<MemoryLimit>,
    /// The largest linear memory the instance has grown to, in bytes.
    pub grown_to: usize,
}

/// Which limit a guest's growth was refused by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryLimit {
    Function,
    Node,
}

impl MemoryLimiter {
    fn new(memory_mb: u32, budget: Arc<MemoryBudget>) -> Self {
        MemoryLimiter {
            max_bytes: memory_mb as usize * 1024 * 1024,
            budget,
            charged: 0,
            exceeded: None,
            grown_to: 0,
        }
    }
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.budget.give_back(self.charged);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = Some(MemoryLimit::Function);
            return Ok(false);
        }
        let more = desired.saturating_sub(current);
        if !self.budget.take(more) {
            self.exceeded = Some(MemoryLimit::Node);
            return Ok(false);
        }
        self.charged += more;
        self.grown_to = self.grown_to.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Refuses an outbound request, saying why in the function's log.
fn deny(logs: &LogSink, host: &str, port: u16, why: &str) -> SendResult {
    logs.line(
        LogStream::Stderr,
        format!("[gust] outbound request to {host}:{port} denied: {why}"),
    );
    Box::new(async { Err(HttpError::HttpRequestDenied) })
}

/// Outbound HTTP goes only to the hosts the function declared.
struct OutboundPolicy {
    config: FunctionConfig,
    logs: LogSink,
    /// The current invocation's, when it is traced.
    traceparent: Option<HeaderValue>,
}

type SendResult = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendResult {
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_string();
        let default_port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        };
        let port = uri.port_u16().unwrap_or(default_port);
        if !self.config.allows_host(&host, port) {
            let why = format!("deploy with --allow-host {host} to permit it");
            return deny(&self.logs, &host, port, &why);
        }
        let _ = fut;
        // The call goes on in the same trace, unless the function carries one of its own.
        if let Some(traceparent) = &self.traceparent
            && !request.headers().contains_key(TRACEPARENT)
        {
            request
                .headers_mut()
                .insert(TRACEPARENT, traceparent.clone());
        }
        let (config, logs) = (self.config.clone(), self.logs.clone());
        Box::new(async move {
            use http_body_util::BodyExt;
            // Where the name leads is checked too: an allowed name that resolves to the host
            // or its private networks is refused unless that address is allowed itself.
            let name = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(addresses) = tokio::net::lookup_host((name, port)).await {
                let addresses: Vec<_> = addresses.map(|a| a.ip()).collect();
                if let Some(ip) = addresses
                    .iter()
                    .find(|ip| !config.allows_address(**ip, port))
                {
                    let why = format!(
                        "it resolves to the internal address {ip}, allowed only when listed \
                         itself (--allow-host {ip}:{port})"
                    );
                    return Box::into_pin(deny(&logs, &host, port, &why)).await;
                }
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
