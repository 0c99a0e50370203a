use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gust_core::{FunctionConfig, parse_duration_ms};
use reqwest::multipart::{Form, Part};

use crate::client::Client;

#[derive(Args)]
pub struct DeployArgs {
    /// Function name: [a-z][a-z0-9-]{0,62}
    name: String,
    /// The component (.wasm) to upload.
    artifact: PathBuf,
    /// Callable without the admin token.
    #[arg(long)]
    public: bool,
    /// Time limit of one invocation (e.g. 500ms, 30s, 15m).
    #[arg(long, default_value = "30s")]
    timeout: String,
    /// Memory limit in MB.
    #[arg(long, default_value_t = 128)]
    memory: u32,
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
}

pub async fn run(client: &Client, args: DeployArgs) -> anyhow::Result<()> {
    let mut config = FunctionConfig {
        public: args.public,
        timeout_ms: parse_duration_ms(&args.timeout)?,
        memory_mb: args.memory,
        allow_hosts: args.allow_hosts,
        max_retries: args.max_retries,
        max_event_age_ms: parse_duration_ms(&args.max_event_age)?,
        ..FunctionConfig::default()
    };
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--env `{pair}` must be KEY=VALUE"))?;
        config.env.insert(key.to_string(), value.to_string());
    }
    let artifact = std::fs::read(&args.artifact)
        .with_context(|| format!("cannot read {}", args.artifact.display()))?;
    let form = Form::new()
        .text("config", serde_json::to_string(&config)?)
        .part("artifact", Part::bytes(artifact).file_name("artifact.wasm"));
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
