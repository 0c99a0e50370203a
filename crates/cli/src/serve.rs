use std::io::IsTerminal;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use gust_dispatch::{
    AsyncQueue, CallbackSigner, Dispatcher, Executors, NodeLimits, QueueOptions, Telemetry,
};
use gust_events::{
    BucketSource, CronSource, KafkaSource, MqttSource, NatsSource, RedisSource, SourceContext,
    Triggers, WebhookSource,
};
use gust_gateway::{Access, AdminToken, App, AppState, ConnectionLimits, Routes};
use gust_meter::Metrics;
use gust_runtime::DEFAULT_LOG_BYTES_PER_INVOCATION;
use gust_runtime::process::{Isolation, ProcessExecutor};
use gust_runtime::wasm::{DEFAULT_MAX_MEMORY, EngineOptions, WasmExecutor};
use gust_secrets::{SecretKey, SecretVault};
use gust_store::{BacklogLimits, BucketStore, Records, SqliteStore};
use gust_trace::{Sampling, Tracer};
use tokio::sync::watch;

use crate::cluster::{self, Caches, Shared};
use crate::config::ServerConfig;
use crate::default_data_dir;
use crate::destinations::DestinationArgs;
use crate::s3_endpoint::{self, S3Settings};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "GUST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where state lives: database, artifacts, compiled code, admin token [default: ./.gust]
    #[arg(long, env = "GUST_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Largest artifact a deploy may upload, in MiB.
    #[arg(long, env = "GUST_MAX_UPLOAD_MB", default_value_t = 64)]
    max_upload_mb: usize,
    /// How long in-flight requests may take to finish after SIGINT or SIGTERM.
    #[arg(long, default_value = "10s")]
    grace_period: String,
    /// Config file (pricing, retention) [default: <data-dir>/gust.toml if present]
    #[arg(long, env = "GUST_CONFIG")]
    config: Option<PathBuf>,
    /// Largest asynchronous payload (`POST /async/...`), in KiB.
    #[arg(long, env = "GUST_MAX_ASYNC_PAYLOAD_KB", default_value_t = 6 * 1024)]
    max_async_payload_kb: usize,
    /// Asynchronous invocations one function may have waiting to run; past it, 429.
    #[arg(long, default_value_t = BacklogLimits::default().per_function)]
    max_queued_per_function: u64,
    /// MiB of asynchronous payloads one function may have waiting; past it, 429.
    #[arg(long, default_value_t = BacklogLimits::default().per_function_bytes >> 20)]
    max_queued_mb_per_function: u64,
    /// MiB of asynchronous payloads waiting on the node, over all functions; past it, 429.
    #[arg(long, default_value_t = BacklogLimits::default().node_bytes >> 20)]
    max_queued_mb: u64,
    /// This node's name among those sharing a store: the asynchronous work it claims is held
    /// under it. Keep it across restarts, so that a restarted node takes its work back at
    /// once [default: the host name]
    #[arg(long, env = "GUST_NODE_NAME")]
    node_name: Option<String>,
    /// Asynchronous attempts this node runs at once (0: it only accepts them).
    #[arg(long, default_value_t = QueueOptions::default().workers)]
    async_workers: u32,
    /// Delay before the first retry of a failed asynchronous invocation; each retry doubles it.
    #[arg(long, default_value = "1s")]
    retry_base_delay: String,
    /// Invocations this node runs at once, over all functions; past it, 429.
    #[arg(long, env = "GUST_MAX_IN_FLIGHT", default_value_t = 1000)]
    max_in_flight: u32,
    /// Connections open at once; past it, new ones wait until one closes.
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Longest wait for a request's head (a half-sent request, or an idle keep-alive
    /// connection, is closed after it).
    #[arg(long, default_value = "30s")]
    header_timeout: String,
    /// Log an invocation may write, in KiB; later lines are dropped, counted in
    /// gust_log_lines_dropped_total, and the log says where.
    #[arg(long, default_value_t = DEFAULT_LOG_BYTES_PER_INVOCATION / 1024)]
    max_log_kb: usize,
    /// At start, reload up to this many functions that were invoked within their idle timeout
    /// before the server stopped (latest first), so that a restart does not make their next
    /// request a cold start. Found from the invocation records: none with metering off.
    #[arg(long, env = "GUST_RELOAD_RECENT", default_value_t = 64)]
    reload_recent: usize,
    /// Turn metering off: no invocation records, metrics or billed durations. Only for
    /// measuring what metering costs.
    #[arg(long)]
    no_metering: bool,
    /// Run process functions even where the sandbox is incomplete (no root, no cgroups):
    /// they may then read Gust's data, reach the host's network and use any memory.
    #[arg(long)]
    insecure_process_runtime: bool,
    /// Require `Authorization: Bearer TOKEN` (this one or the admin token) on /metrics.
    #[arg(long, env = "GUST_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Let callbacks (X-Callback-Url) reach loopback, private and link-local addresses: for
    /// tests and receivers on the same network.
    #[arg(long)]
    allow_private_callbacks: bool,
    /// Address of the S3-compatible endpoint (port 0 picks a free one), or `off`.
    #[arg(long, env = "GUST_S3_LISTEN", default_value = "127.0.0.1:9000")]
    s3_listen: String,
    /// Linear memory all Wasm instances of the node may hold together, running or warm, in
    /// MiB; a guest that would grow past it fails as past its own --memory.
    #[arg(long, default_value_t = DEFAULT_MAX_MEMORY >> 20)]
    wasm_memory_mb: usize,
    /// Largest object the S3 endpoint takes, in MiB.
    #[arg(long, default_value_t = gust_bucket::DEFAULT_MAX_OBJECT_BYTES >> 20)]
    max_object_mb: u64,
    /// Export a trace of every invocation over OTLP/HTTP to this collector, e.g.
    /// http://127.0.0.1:4318 (`/v1/traces` is added unless the URL ends with it).
    #[arg(long, env = "GUST_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Share of the traces Gust starts that are recorded past the reservoir, from 0 to 1
    /// (1: every one); a caller's `traceparent` decides for the traces it started.
    #[arg(long, env = "GUST_TRACE_SAMPLE_RATIO", default_value_t = 0.05)]
    trace_sample_ratio: f64,
    /// Traces Gust starts that are recorded each second for each function whatever the
    /// ratio, so that one called now and then is always seen (0: none).
    #[arg(long, env = "GUST_TRACE_RESERVOIR", default_value_t = 1)]
    trace_reservoir: u32,
    /// Join a cluster: the NATS servers (with JetStream; comma-separated) where the nodes share
    /// their catalog, artifacts, records and queue, e.g. nats://127.0.0.1:4222. Give each node
    /// its own --node-name, and the same secret.key (or GUST_SECRET_KEY) and admin.token.
    #[arg(long, env = "GUST_CLUSTER")]
    cluster: Option<String>,
    #[command(flatten)]
    destinations: DestinationArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GUST_LOG")
                .unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal who did not ask for none.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let grace = Duration::from_millis(gust_core::parse_duration_ms(&args.grace_period)?);
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    // Only Gust's user may enter it: it holds the token, the database and every artifact.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make data dir {} private", data_dir.display()))?;

    let config = match &args.config {
        Some(path) => ServerConfig::load(path, true)?,
        None => ServerConfig::load(&data_dir.join("gust.toml"), false)?,
    };
    let node = node_name(args.node_name)?;
    let sqlite = Arc::new(SqliteStore::open(&data_dir.join("gust.db"))?);
    let shared = match &args.cluster {
        Some(url) => Shared::in_cluster(url, &node, sqlite.clone(), &data_dir).await?,
        None => Shared::alone(sqlite.clone(), &data_dir)?,
    };
    let store = shared.store;
    let key_value = shared.key_value;
    let routes = Routes::load(shared.routes).await?;
    let buckets: Arc<dyn BucketStore> = sqlite;
    let secret_key = std::env::var("GUST_SECRET_KEY").ok();
    let secret_key =
        SecretKey::load_or_create(&data_dir.join("secret.key"), secret_key.as_deref())?;
    let secrets = SecretVault::open(secret_key, shared.secrets).await?;
    let engine_options = EngineOptions {
        max_memory: args.wasm_memory_mb << 20,
        ..EngineOptions::default()
    };
    let wasm = WasmExecutor::new(data_dir.join("compiled"), engine_options)?
        .with_key_value(key_value.clone());
    let token_path = data_dir.join("admin.token");
    let token = AdminToken::load_or_create(&token_path)
        .with_context(|| format!("cannot write {}", token_path.display()))?;
    let metrics = (!args.no_metering).then(|| Arc::new(Metrics::default()));
    let sampling = Sampling {
        ratio: args.trace_sample_ratio,
        reservoir: args.trace_reservoir,
    };
    let (tracer, trace_exporter) = match &args.otlp_endpoint {
        Some(endpoint) => {
            let (tracer, exporter) =
                Tracer::otlp(endpoint, sampling).map_err(anyhow::Error::msg)?;
            (tracer, Some(exporter))
        }
        None => (Tracer::off(), None),
    };
    let executors = Executors {
        wasm: Arc::new(wasm),
        process: Arc::new(
            process_executor(&data_dir, args.insecure_process_runtime)?
                .with_key_value(key_value.clone()),
        ),
    };
    let bucket_source = BucketSource::new(buckets.clone(), metrics.clone());
    let s3_settings = S3Settings {
        listen: args.s3_listen.clone(),
        max_object_bytes: args.max_object_mb << 20,
    };
    let mut s3 =
        s3_endpoint::start(&s3_settings, &data_dir, buckets, bucket_source.clone()).await?;
    let dispatcher = Dispatcher::new(
        store.clone(),
        shared.aliases,
        shared.artifacts,
        executors,
        Telemetry {
            metrics: metrics.clone(),
            tracer,
        },
        NodeLimits {
            max_in_flight: args.max_in_flight,
            log_bytes_per_invocation: args.max_log_kb * 1024,
        },
        vec![s3.grants.clone(), secrets.clone()],
    );
    let queue_options = QueueOptions {
        node: node.clone(),
        workers: args.async_workers,
        base_delay: Duration::from_millis(gust_core::parse_duration_ms(&args.retry_base_delay)?),
        allow_private_callbacks: args.allow_private_callbacks,
        backlog: BacklogLimits {
            per_function: args.max_queued_per_function,
            per_function_bytes: args.max_queued_mb_per_function << 20,
            node_bytes: args.max_queued_mb << 20,
        },
        ..QueueOptions::default()
    };
    let key_path = data_dir.join("callback.key");
    let signer = CallbackSigner::load_or_create(&key_path)
        .with_context(|| format!("cannot write {}", key_path.display()))?;
    let outlets = args.destinations.outlets().await?;
    let queue = AsyncQueue::start(
        dispatcher.clone(),
        store.clone(),
        queue_options,
        signer,
        outlets,
    )
    .await?;
    let sources = SourceContext {
        store: store.clone(),
        schedules: store.clone(),
        queue: queue.clone(),
        metrics: metrics.clone(),
        cluster_node: args.cluster.is_some().then_some(node),
    };
    let webhooks = Arc::new(WebhookSource::default());
    let triggers = Triggers::start(
        sources,
        vec![
            Arc::new(CronSource::default()),
            bucket_source.clone(),
            webhooks.clone(),
            Arc::new(RedisSource::default()),
            Arc::new(KafkaSource::default()),
            Arc::new(NatsSource::default()),
            Arc::new(MqttSource::default()),
        ],
    )
    .await;
    if let Some(changes) = shared.changes {
        let caches = Caches {
            dispatcher: dispatcher.clone(),
            routes: routes.clone(),
            triggers: triggers.clone(),
            secrets: secrets.clone(),
        };
        cluster::follow(changes, caches);
    }
    // Only now, with every bucket trigger in effect, may uploads come in.
    s3.serve();
    dispatcher.warm_up(args.reload_recent).await?;
    let (keep_records, roll_up_every) = config.retention.periods()?;
    tokio::spawn(roll_up_old_records(store, keep_records, roll_up_every));

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = gust_gateway::router(AppState::new(App {
        dispatcher: dispatcher.clone(),
        access: Access::new(token, shared.tokens),
        metrics_token: args.metrics_token.as_deref().map(AdminToken::given),
        max_upload_bytes: args.max_upload_mb * 1024 * 1024,
        shutdown: stop_rx.clone(),
        metrics,
        prices: config.pricing,
        queue,
        triggers,
        webhooks,
        buckets: s3.buckets,
        secrets,
        kv: key_value,
        routes,
        max_async_payload_bytes: args.max_async_payload_kb * 1024,
    }));
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        header_timeout: Duration::from_millis(gust_core::parse_duration_ms(&args.header_timeout)?),
    };
    anyhow::ensure!(
        limits.max_connections > 0 && !limits.header_timeout.is_zero(),
        "--max-connections and --header-timeout must be more than 0"
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    std::fs::write(data_dir.join("server.url"), &url)?;
    println!("gust listening on {url}");
    println!("admin token in {}", token_path.display());
    if let Some(s3_url) = s3.url {
        println!(
            "S3 endpoint on {s3_url} (keys in {})",
            data_dir.join(gust_bucket::CREDENTIALS_FILE).display()
        );
    }

    let server = gust_gateway::serve(listener, app, limits, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx;
    let grace_over = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = grace_over => tracing::warn!("grace period over: exiting with requests in flight"),
    }
    dispatcher.flush().await;
    if let Some(exporter) = trace_exporter {
        exporter.shutdown().await;
    }
    let _ = std::fs::remove_file(data_dir.join("server.url"));
    Ok(())
}

/// The process runtime, sandboxed. What the host lacks for the sandbox is fatal as root
/// (a limit that silently does not apply is worse than none), disables process functions
/// without root, and is only warned about, at every start, with `--insecure-process-runtime`.
fn process_executor(data_dir: &std::path::Path, insecure: bool) -> anyhow::Result<ProcessExecutor> {
    let helper = std::env::current_exe().context("cannot find the gust binary")?;
    let isolation = Isolation::detect();
    if !isolation.is_complete() {
        let missing = isolation.missing.join("; ");
        if insecure {
            for missing in &isolation.missing {
                tracing::warn!(
                    "--insecure-process-runtime: process functions run less isolated: {missing}"
                );
            }
        } else if isolation.is_root() {
            anyhow::bail!(
                "cannot sandbox process functions: {missing}. Fix the host, or start with \
                 --insecure-process-runtime to run them without these limits"
            );
        } else {
            let why = format!(
                "process functions are disabled on this server: {missing}. Run `gust serve` \
                 as root to sandbox them, or start it with --insecure-process-runtime to run \
                 them without isolation"
            );
            tracing::warn!("{why}");
            return Ok(ProcessExecutor::disabled(data_dir, why));
        }
    }
    ProcessExecutor::new(helper, data_dir, isolation).context("cannot start the process runtime")
}

/// The node's name: as given, or the host's.
fn node_name(given: Option<String>) -> anyhow::Result<String> {
    let name = given.unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "gust".into())
    });
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--node-name must not be empty");
    Ok(name.to_string())
}

/// Keeps the store from growing without bound: records past retention become hourly usage.
async fn roll_up_old_records(store: Arc<dyn Records>, keep: Duration, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let cutoff = gust_core::now_ms() - keep.as_millis() as i64;
        match store.roll_up(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("rolled {n} invocation records into hourly usage"),
            Err(e) => tracing::error!("rolling up old records failed: {e}"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
