//! One function: `gust show` (its settings, aliases, triggers and instances), `gust set`
//! (changes settings without a new upload) and `gust invocations` (what ran, newest first).

use clap::Args;
use gust_core::{Alias, FunctionStatus, InvocationRecord, Trigger, parse_duration_ms};
use serde_json::{Map, Value, json};

use crate::Output;
use crate::client::Client;
use crate::deploy::key_values;
use crate::inspect::{print_json, timestamp};
use crate::table::print_table;

pub async fn show(client: &Client, name: &str, output: Output) -> anyhow::Result<()> {
    let status: FunctionStatus = client.get_json(&format!("/v1/functions/{name}")).await?;
    let aliases: Vec<Alias> = client
        .get_json(&format!("/v1/functions/{name}/aliases"))
        .await?;
    let triggers: Vec<Trigger> = client
        .get_json(&format!("/v1/triggers?function={name}"))
        .await?;
    if let Output::Json = output {
        return print_json(&json!({"function": status, "aliases": aliases, "triggers": triggers}));
    }
    let v = &status.function.latest;
    let c = &v.config;
    let i = status.instances;
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".into()
        } else {
            items.join(", ")
        }
    };
    let keys = |map: &std::collections::BTreeMap<String, String>| {
        list(&map.keys().cloned().collect::<Vec<_>>())
    };
    let aliases: Vec<String> = aliases
        .iter()
        .map(|a| match &a.split {
            Some(split) => format!(
                "{} → {} ({}% to {})",
                a.name, a.version, split.percent, split.version
            ),
            None => format!("{} → {}", a.name, a.version),
        })
        .collect();
    let triggers: Vec<String> = triggers
        .iter()
        .map(|t| format!("{} {}", t.kind, t.id))
        .collect();
    let rows = [
        ("name", status.function.name.clone()),
        (
            "version",
            format!(
                "{} ({}, deployed {})",
                v.number,
                v.runtime.as_str(),
                timestamp(v.created_at_ms)
            ),
        ),
        (
            "artifact",
            format!(
                "sha256 {} ({} B)",
                &v.artifact_sha256[..12],
                v.artifact_size
            ),
        ),
        ("access", if c.public { "public" } else { "private" }.into()),
        ("memory", format!("{} MB", c.memory_mb)),
        ("timeout", format!("{} ms", c.timeout_ms)),
        (
            "instances",
            format!(
                "{} warm, {} busy (min {}, max {})",
                i.warm, i.busy, c.min_instances, c.max_instances
            ),
        ),
        (
            "concurrency",
            format!(
                "{} at once, {} waiting at most",
                c.max_concurrency, c.queue_size
            ),
        ),
        (
            "retries",
            format!(
                "{} (events up to {} ms old)",
                c.max_retries, c.max_event_age_ms
            ),
        ),
        ("env", keys(&c.env)),
        ("secrets", keys(&c.secrets)),
        ("allow hosts", list(&c.allow_hosts)),
        ("kv stores", list(&c.kv)),
        (
            "buckets",
            list(
                &c.buckets
                    .iter()
                    .map(|b| b.bucket.clone())
                    .collect::<Vec<_>>(),
            ),
        ),
        ("aliases", list(&aliases)),
        ("triggers", list(&triggers)),
    ];
    for (key, value) in rows {
        println!("{key:<12} {value}");
    }
    Ok(())
}

/// What `gust set` changes; what is not given stays as it is.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  gust set hello --memory 256 --timeout 5s\n  gust set hello --public false"
)]
pub struct SetArgs {
    /// The function's name.
    name: String,
    /// Callable without a token: true or false.
    #[arg(long)]
    public: Option<bool>,
    /// Time limit of one invocation (e.g. 500ms, 30s).
    #[arg(long)]
    timeout: Option<String>,
    /// Memory limit in MB, 16 to 4096.
    #[arg(long)]
    memory: Option<u32>,
    /// Process runtime: CPU in millicores.
    #[arg(long)]
    cpu: Option<u32>,
    #[arg(long)]
    min_instances: Option<u32>,
    #[arg(long)]
    max_instances: Option<u32>,
    /// Idle time after which an instance is stopped (e.g. 5m).
    #[arg(long)]
    idle_timeout: Option<String>,
    /// Most requests running at once.
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Retries of a failed asynchronous invocation.
    #[arg(long)]
    max_retries: Option<u32>,
    /// The whole environment, KEY=VALUE (repeatable; replaces the one there was).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

pub async fn set(client: &Client, args: SetArgs) -> anyhow::Result<()> {
    let mut patch = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            patch.insert(key.into(), value);
        }
    };
    let ms = |text: &Option<String>| text.as_deref().map(parse_duration_ms).transpose();
    put("public", args.public.map(Value::from));
    put("timeout_ms", ms(&args.timeout)?.map(Value::from));
    put("memory_mb", args.memory.map(Value::from));
    put("cpu_millis", args.cpu.map(Value::from));
    put("min_instances", args.min_instances.map(Value::from));
    put("max_instances", args.max_instances.map(Value::from));
    put("idle_timeout_ms", ms(&args.idle_timeout)?.map(Value::from));
    put("max_concurrency", args.max_concurrency.map(Value::from));
    put("max_retries", args.max_retries.map(Value::from));
    if !args.env.is_empty() {
        let env = key_values(&args.env, "--env", "KEY=VALUE")?;
        put("env", Some(serde_json::to_value(env)?));
    }
    if patch.is_empty() {
        anyhow::bail!("nothing to change: give at least one setting (gust set --help)");
    }
    let path = format!("/v1/functions/{}", args.name);
    let request = client.request(reqwest::Method::PATCH, &path).json(&patch);
    let answer: Value = client.send(request).await?.json().await?;
    println!(
        "{} is at version {}",
        args.name, answer["version"]["number"]
    );
    Ok(())
}

pub async fn invocations(
    client: &Client,
    name: &str,
    limit: u32,
    output: Output,
) -> anyhow::Result<()> {
    let path = format!("/v1/functions/{name}/invocations?limit={limit}");
    let records: Vec<InvocationRecord> = client.get_json(&path).await?;
    if let Output::Json = output {
        return print_json(&records);
    }
    let rows = records
        .into_iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                timestamp(r.started_at_ms),
                r.version.to_string(),
                r.origin.kind.to_string(),
                r.status.as_str().to_string(),
                r.http_status.to_string(),
                format!("{:.1} ms", r.duration_us as f64 / 1000.0),
                if r.cold { "cold" } else { "warm" }.to_string(),
                r.billed_ms.to_string(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "STARTED",
        "VERSION",
        "ORIGIN",
        "STATUS",
        "HTTP",
        "DURATION",
        "START",
        "BILLED MS",
    ];
    print_table(&header, rows);
    Ok(())
}
