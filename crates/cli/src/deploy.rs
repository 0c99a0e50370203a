use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser};
use gust_core::{BucketGrant, Destination, FunctionConfig, ProcessMode, parse_duration_ms};
use reqwest::multipart::{Form, Part};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::client::Client;
use crate::{pack, progress, project};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  gust deploy hello examples/target/wasm32-wasip2/release/hello.wasm --public\n  \
gust deploy api ./api --runtime process --command 'python3 main.py' --public\n  \
gust deploy            (in a folder with gust.toml: build it, deploy it, apply its routes and triggers)"
)]
pub struct DeployArgs {
    /// Function name: a lowercase letter, then up to 62 lowercase letters, digits or `-`
    /// [default: the project's, in a folder with gust.toml]
    name: Option<String>,
    /// The component (.wasm) to upload; for `--runtime process`, the function's folder (or a
    /// .tar.gz of it).
    artifact: Option<PathBuf>,
    #[command(flatten)]
    settings: FunctionSettings,
}

/// A function's settings: from the command line, or from a project's gust.toml (where the
/// same names are keys, `env` and `secrets` are tables, and leaving one out means its default).
#[derive(Parser, Deserialize)]
#[serde(default)]
pub struct FunctionSettings {
    /// How the artifact runs: wasm (a wasi:http component) or process (any program).
    #[arg(long, default_value = "wasm")]
    pub runtime: String,
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
    /// Memory limit in MB, 16 to 4096.
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Process runtime: CPU of one instance in millicores (1000 is one core).
    #[arg(long, default_value_t = 1000)]
    cpu: u32,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    #[serde(deserialize_with = "pairs")]
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
    #[serde(deserialize_with = "parsed_list")]
    buckets: Vec<BucketGrant>,
    /// A secret the function gets as a variable, VAR=SECRET_NAME (repeatable; `gust secret
    /// set` makes secrets).
    #[arg(long = "secret", value_name = "VAR=SECRET_NAME")]
    #[serde(deserialize_with = "pairs")]
    secrets: Vec<String>,
    /// A key-value store the function may use (repeatable): through wasi:keyvalue, or for
    /// process functions the HTTP API on the socket in GUST_KV_SOCKET.
    #[arg(long = "kv", value_name = "STORE")]
    kv: Vec<String>,
    /// Where the answer of an event or asynchronous invocation goes once it succeeded:
    /// function:NAME, kafka:TOPIC, nats:SUBJECT, mqtt:TOPIC or webhook:URL.
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    #[serde(deserialize_with = "parsed_option")]
    on_success: Option<Destination>,
    /// Where an event or asynchronous invocation is reported once every attempt failed.
    #[arg(long, value_name = "DEST", value_parser = parse_destination)]
    #[serde(deserialize_with = "parsed_option")]
    on_failure: Option<Destination>,
}

impl Default for FunctionSettings {
    /// The command line's defaults, so that gust.toml and `gust deploy` never disagree.
    fn default() -> Self {
        FunctionSettings::parse_from(["gust"])
    }
}

fn parse_destination(text: &str) -> Result<Destination, String> {
    Destination::parse(text).map_err(|e| e.message)
}

fn parse_grant(text: &str) -> Result<BucketGrant, String> {
    BucketGrant::parse(text).map_err(|e| e.message)
}

/// `gust deploy NAME ARTIFACT`, or with no arguments the project in this folder.
pub async fn run(client: &Client, args: DeployArgs) -> anyhow::Result<()> {
    match (args.name, args.artifact) {
        (Some(name), Some(artifact)) => {
            upload(client, &name, &artifact, &args.settings, &[]).await?;
            Ok(())
        }
        (None, None) => {
            let given = serde_json::to_value(args.settings.config()?)?;
            let defaults = serde_json::to_value(FunctionSettings::default().config()?)?;
            if given != defaults || args.settings.runtime != "wasm" {
                anyhow::bail!(
                    "a project's settings are in its gust.toml: options such as --memory are \
                     for `gust deploy NAME ARTIFACT`"
                );
            }
            project::deploy(client).await
        }
        (Some(_), None) => anyhow::bail!(
            "gust deploy NAME needs the ARTIFACT to upload (or, with no arguments, a folder \
             with gust.toml)"
        ),
        (None, Some(_)) => unreachable!("clap fills NAME first"),
    }
}

/// What a deploy did: made a new version, or found the same code and settings already there.
pub struct Deployed {
    pub version: u64,
    pub created: bool,
}

/// Uploads `artifact` as a version of `name` (the server makes none for the same code and
/// settings) and says which version it is. A folder is packed without the entries at its top
/// named in `leave_out`.
pub async fn upload(
    client: &Client,
    name: &str,
    artifact: &Path,
    settings: &FunctionSettings,
    leave_out: &[&str],
) -> anyhow::Result<Deployed> {
    let config = settings.config()?;
    if settings.runtime == "wasm" && artifact.is_dir() {
        let told = match settings.command {
            Some(_) => "a command is for the process runtime: add --runtime process",
            None => "a process function deploys with --runtime process --command 'COMMAND'",
        };
        anyhow::bail!(
            "{} is a folder: {told} (a Wasm function is one .wasm file)",
            artifact.display()
        );
    }
    let bytes = pack::artifact_bytes(artifact, leave_out)?;
    let size = bytes.len() as u64;
    let bar = progress::bar(size, &format!("uploading {name}"));
    let form = Form::new()
        .text("runtime", settings.runtime.clone())
        .text("config", serde_json::to_string(&config)?)
        .part(
            "artifact",
            Part::stream_with_length(progress::body(bytes, bar.clone()), size)
                .file_name("artifact"),
        );
    let path = format!("/v1/functions/{name}");
    let response = client
        .send(client.request(reqwest::Method::PUT, &path).multipart(form))
        .await;
    bar.finish_and_clear();
    let body: serde_json::Value = response?.json().await?;
    let deployed = Deployed {
        version: body["version"]["number"].as_u64().unwrap_or_default(),
        created: body["created"].as_bool() == Some(true),
    };
    if deployed.created {
        println!("deployed {name} version {}", deployed.version);
    } else {
        println!("{name} is unchanged at version {}", deployed.version);
    }
    Ok(deployed)
}

impl FunctionSettings {
    /// The settings as the API takes them.
    pub fn config(&self) -> anyhow::Result<FunctionConfig> {
        Ok(FunctionConfig {
            public: self.public,
            timeout_ms: parse_duration_ms(&self.timeout)?,
            memory_mb: self.memory,
            cpu_millis: self.cpu,
            allow_hosts: self.allow_hosts.clone(),
            max_retries: self.max_retries,
            max_event_age_ms: parse_duration_ms(&self.max_event_age)?,
            allow_callbacks: self.allow_callbacks,
            command: self.command.clone(),
            mode: ProcessMode::parse(&self.mode).context("mode is http or stdio")?,
            concurrency: self.concurrency,
            min_instances: self.min_instances,
            max_instances: self.max_instances,
            idle_timeout_ms: parse_duration_ms(&self.idle_timeout)?,
            max_concurrency: self.max_concurrency,
            queue_size: self.queue_size,
            queue_timeout_ms: parse_duration_ms(&self.queue_timeout)?,
            buckets: self.buckets.clone(),
            kv: self.kv.clone(),
            on_success: self.on_success.clone(),
            on_failure: self.on_failure.clone(),
            env: key_values(&self.env, "env", "KEY=VALUE")?,
            secrets: key_values(&self.secrets, "secret", "VAR=SECRET_NAME")?,
        })
    }
}

/// `KEY=VALUE` pairs as a map; a pair without `=` is refused, named as `what` and `shape` say.
pub fn key_values(
    pairs: &[String],
    what: &str,
    shape: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("{what} `{pair}` must be {shape}"))?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// gust.toml's tables of `KEY = "value"`, as the command line's `KEY=VALUE` pairs.
fn pairs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let table = BTreeMap::<String, String>::deserialize(deserializer)?;
    Ok(table.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// gust.toml's list of bucket grants, written as on the command line (`photos:read`).
fn parsed_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<BucketGrant>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| parse_grant(text).map_err(D::Error::custom))
        .collect()
}

/// gust.toml's destination, written as on the command line (`function:NAME`).
fn parsed_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Destination>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_destination(&text).map(Some).map_err(D::Error::custom)
}
