use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gust_core::{BucketGrant, Destination, FunctionConfig, ProcessMode, parse_duration_ms};
use reqwest::multipart::{Form, Part};

use crate::client::Client;
use crate::pack;

#[derive(Args)]
pub struct DeployArgs {
    /// Function name: [a-z][a-z0-9-]{0,62}
    name: String,
    /// The component (.wasm) to upload; for `--runtime process`, the function's folder (or a
    /// .tar.gz of it).
    artifact: PathBuf,
    /// How the artifact runs: wasm (a wasi:http component) or process (any program).
    #[arg(long, default_value = "wasm")]
    runtime: String,
    /// Process runtime: the command that starts the function (run by /bin/sh -c in its folder).
    #[arg(long)]
    command: Option<String>,
    /// Process runtime: http (the program serves HTTP on 127.0.0.1:$PORT) or stdio (a process
    /// per request, body on stdin, response on stdout).
    #[arg(long, value_parser = ["http", "stdio"], default_value = "http")]
    mode: String,
    /// Process runtime: requests one instance serves at once.
    #[arg(long, default_value_t = 1)]
    concurrency: u32,
    /// Instances kept warm without requests (started at deploy).
    #[arg(long, default_value_t = 0)]
    min_instances: u32,
    /// Most instances at once.
    #[arg(long, default_value_t = 10)]
    max_instances: u32,
    /// Idle time after which an instance is stopped (to zero when --min-instances is 0).
    #[arg(long, default_value = "5m")]
    idle_timeout: String,
    /// Most requests of this function running at once; the rest wait in a queue.
    #[arg(long, default_value_t = 100)]
    max_concurrency: u32,
    /// Most requests waiting for a slot; past it they get 429.
    #[arg(long, default_value_t = 100)]
    queue_size: u32,
    /// Longest a request waits for a slot before a 429.
    #[arg(long, default_value = "10s")]
    queue_timeout: String,
    /// Callable without the admin token.
    #[arg(long)]
    public: bool,
    /// Time limit of one invocation (e.g. 500ms, 30s, 15m).
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// Memory limit in MB.
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Process runtime: CPU of one instance in millicores (1000 is one core).
    #[arg(long, default_value_t = 1000)]
    cpu: u32,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Host the function may call over HTTP, HOST or HOST:PORT (repeatable).
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    allow_hosts: Vec<String>,
    /// Retries of a failed asynchronous invocation.
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
    /// How long an asynchronous event may wait for a successful attempt (at most 6h).
    #[arg(long, default_value = "6h")]
    max_event_age: String,
    /// Callers without the token may set X-Callback-Url on asynchronous invocations.
    #[arg(long)]
    allow_callbacks: bool,
    /// Bucket the function may use, NAME, NAME:read, NAME:write or NAME:rw (repeatable). It
    /// gets a key of its own in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the S3
    /// endpoint in AWS_ENDPOINT_URL.
    #[arg(long = "bucket", value_name = "NAME[:ACCESS]", value_parser = parse_grant)]
    buckets: Vec<BucketGrant>,
    /// A secret the function gets as a variable, VAR=SECRET_NAME (repeatable; `gust secret
    /// set` makes secrets).
    #[arg(long = "secret", value_name = "VAR=SECRET_NAME")]
    secrets: Vec<String>,
    /// A key-value store the function may use (repeatable): through wasi:keyvalue, or for
    /// process functions the HTTP API on the socket in GUST_KV_SOCKET.
    #[arg(long = "kv", value_name = "STORE")]
    kv: Vec<String>,
    /// Where the answer of an event or asynchronous invocation goes once it succeeded:
    /// function:NAME, kafka:TOPIC, nats:SUBJECT, mqtt:TOPIC or webhook:URL.
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    on_success: Option<Destination>,
    /// Where an event or asynchronous invocation is reported once every attempt failed.
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    on_failure: Option<Destination>,
}

fn parse_destination(text: &str) -> Result<Destination, String> {
    Destination::parse(text).map_err(|e| e.message)
}

fn parse_grant(text: &str) -> Result<BucketGrant, String> {
    BucketGrant::parse(text).map_err(|e| e.message)
}

pub async fn run(client: &Client, args: DeployArgs) -> anyhow::Result<()> {
    let mut config = FunctionConfig {
        public: args.public,
        timeout_ms: parse_duration_ms(&args.timeout)?,
        memory_mb: args.memory,
        cpu_millis: args.cpu,
        allow_hosts: args.allow_hosts,
        max_retries: args.max_retries,
        max_event_age_ms: parse_duration_ms(&args.max_event_age)?,
        allow_callbacks: args.allow_callbacks,
        command: args.command,
        mode: ProcessMode::parse(&args.mode).context("--mode is http or stdio")?,
        concurrency: args.concurrency,
        min_instances: args.min_instances,
        max_instances: args.max_instances,
        idle_timeout_ms: parse_duration_ms(&args.idle_timeout)?,
        max_concurrency: args.max_concurrency,
        queue_size: args.queue_size,
        queue_timeout_ms: parse_duration_ms(&args.queue_timeout)?,
        buckets: args.buckets,
        kv: args.kv,
        on_success: args.on_success,
        on_failure: args.on_failure,
        ..FunctionConfig::default()
    };
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--env `{pair}` must be KEY=VALUE"))?;
        config.env.insert(key.to_string(), value.to_string());
    }
    for pair in &args.secrets {
        let (variable, secret) = pair
            .split_once('=')
            .with_context(|| format!("--secret `{pair}` must be VAR=SECRET_NAME"))?;
        config
            .secrets
            .insert(variable.to_string(), secret.to_string());
    }
    if args.runtime == "wasm" && args.artifact.is_dir() {
        anyhow::bail!(
            "{} is a folder: a process function deploys with --runtime process --command \
             'COMMAND' (a Wasm function is one .wasm file)",
            args.artifact.display()
        );
    }
    let artifact = pack::artifact_bytes(&args.artifact)?;
    let form = Form::new()
        .text("runtime", args.runtime)
        .text("config", serde_json::to_string(&config)?)
        .part("artifact", Part::bytes(artifact).file_name("artifact"));
    let path = format!("/v1/functions/{}", args.name);
    let response = client
        .send(client.request(reqwest::Method::PUT, &path).multipart(form))
        .await?;
    let body: serde_json::Value = response.json().await?;
    let version = &body["version"]["number"];
    if body["created"].as_bool() == Some(true) {
        println!("deployed {} version {version}", args.name);
    } else {
        println!("{} is unchanged at version {version}", args.name);
    }
    Ok(())
}
