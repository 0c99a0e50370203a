use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use gust_core::Trigger;
use serde_json::{Map, Value, json};

use crate::Output;
use crate::client::Client;
use crate::inspect::{print_json, timestamp};
use crate::table::print_table;

#[derive(Subcommand)]
pub enum TriggerCommand {
    /// Invoke a function on events from a source (each event is an asynchronous invocation).
    #[command(after_help = "Examples:\n  \
        gust trigger add report --cron '0 8 * * 1-5' --timezone Europe/Paris\n  \
        gust trigger add thumbnail --bucket photos --suffix .jpg --events created\n  \
        gust trigger add ingest --kafka 127.0.0.1:9092 --topic readings --group g --batch-size 100\n  \
        gust trigger add deploy-hook --webhook --verify github --secret-file hook.secret")]
    Add {
        /// The function's name.
        name: String,
        #[command(flatten)]
        source: Box<SourceArgs>,
    },
    /// List triggers.
    Ls {
        /// Only this function's.
        name: Option<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove a trigger by id.
    Rm {
        /// The trigger's id (`gust trigger ls`).
        id: String,
    },
}

/// The source of a new trigger: exactly one of these, with its own settings.
#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true)))]
pub struct SourceArgs {
    /// A cron schedule: `*/10 * * * * *` (seconds first) or the classic five fields.
    #[arg(long, group = "source")]
    cron: Option<String>,
    /// The schedule's IANA time zone, e.g. Europe/Paris [default: UTC]
    #[arg(long, requires = "cron")]
    timezone: Option<String>,
    /// A bucket: each change of an object in it is an event.
    #[arg(long, group = "source")]
    bucket: Option<String>,
    /// The bucket's changes to deliver: created, removed [default: both]
    #[arg(long, requires = "bucket", value_delimiter = ',')]
    events: Vec<String>,
    /// Only keys that start with this.
    #[arg(long, requires = "bucket")]
    prefix: Option<String>,
    /// Only keys that end with this (e.g. .jpg).
    #[arg(long, requires = "bucket")]
    suffix: Option<String>,
    /// A webhook: a URL (/hooks/ID) that third parties post events to.
    #[arg(long, group = "source")]
    webhook: bool,
    /// How the webhook's posts are signed: github, stripe or hmac-sha256 [default: unsigned]
    #[arg(long, requires = "webhook", value_parser = ["github", "stripe", "hmac-sha256"])]
    verify: Option<String>,
    /// The file holding the secret the posts are signed with.
    #[arg(long, requires = "verify")]
    secret_file: Option<PathBuf>,
    /// hmac-sha256: the header carrying the signature [default: x-signature-256]
    #[arg(long, requires = "verify")]
    signature_header: Option<String>,
    /// A Redis stream, read by a consumer group: redis://[:PASSWORD@]HOST[:PORT][/DB]
    #[arg(long, group = "source", requires_all = ["stream", "group"])]
    redis: Option<String>,
    /// NATS: nats://HOST[:PORT], with --subject (core NATS, at most once) or --stream and
    /// --consumer (JetStream, at least once).
    #[arg(long, group = "source")]
    nats: Option<String>,
    /// NATS: the subject to subscribe to.
    #[arg(long, requires = "nats", conflicts_with = "stream")]
    subject: Option<String>,
    /// NATS: the queue group that shares the subject's messages.
    #[arg(long, requires = "subject")]
    queue_group: Option<String>,
    /// Kafka: the bootstrap brokers, HOST:PORT[,HOST:PORT..], with --topic and --group.
    #[arg(long, group = "source", requires_all = ["topic", "group"])]
    kafka: Option<String>,
    /// Kafka: records per invocation; above 1, batches in the shape of Lambda's Kafka event
    /// [default: 1, each record a CloudEvent]
    #[arg(long, requires = "kafka")]
    batch_size: Option<usize>,
    /// Kafka: how long a batch waits to fill once its first record is in, e.g. 50ms [default: 0]
    #[arg(long, requires = "kafka", value_parser = humantime::parse_duration)]
    batch_window: Option<std::time::Duration>,
    /// Kafka: where a new group starts, earliest or latest [default: latest]
    #[arg(long, requires = "kafka", value_parser = ["earliest", "latest"])]
    start: Option<String>,
    /// The stream to read (Redis, or JetStream).
    #[arg(long)]
    stream: Option<String>,
    /// The consumer group: Redis (made if missing, reading from new entries on), or Kafka.
    #[arg(long)]
    group: Option<String>,
    /// JetStream: the durable pull consumer (made if missing).
    #[arg(long, requires = "nats")]
    consumer: Option<String>,
    /// MQTT: mqtt://HOST[:PORT], read in a persistent session, with --topic.
    #[arg(long, group = "source", requires = "topic")]
    mqtt: Option<String>,
    /// The topic: Kafka's, or an MQTT topic filter (`+` and `#` allowed).
    #[arg(long)]
    topic: Option<String>,
    /// MQTT: 1 (at least once) or 0 (at most once) [default: 1]
    #[arg(long, requires = "mqtt")]
    qos: Option<u8>,
}

impl SourceArgs {
    /// The API's body for this trigger: its kind and its settings.
    fn body(&self) -> anyhow::Result<Value> {
        if let Some(cron) = &self.cron {
            return Ok(json!({"kind": "cron", "cron": cron, "timezone": self.timezone}));
        }
        if let Some(url) = &self.redis {
            return Ok(
                json!({"kind": "redis", "url": url, "stream": self.stream, "group": self.group}),
            );
        }
        if let Some(brokers) = &self.kafka {
            let body = json!({
                "kind": "kafka", "brokers": brokers, "topic": self.topic, "group": self.group,
                "batch_size": self.batch_size, "start": self.start,
                "batch_window_ms": self.batch_window.map(|w| w.as_millis() as u64),
            });
            return Ok(without_nulls(body));
        }
        if let Some(url) = &self.nats {
            let body = json!({
                "kind": "nats", "url": url, "subject": self.subject,
                "queue_group": self.queue_group, "stream": self.stream, "consumer": self.consumer,
            });
            return Ok(without_nulls(body));
        }
        if let Some(url) = &self.mqtt {
            let body = json!({"kind": "mqtt", "url": url, "topic": self.topic, "qos": self.qos});
            return Ok(without_nulls(body));
        }
        if self.webhook {
            let mut body = json!({"kind": "webhook"});
            if let Some(scheme) = &self.verify {
                body["verify"] = json!(scheme);
            }
            if let Some(path) = &self.secret_file {
                let secret = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the secret in {}", path.display()))?;
                body["secret"] = json!(secret.trim());
            }
            if let Some(header) = &self.signature_header {
                body["header"] = json!(header);
            }
            return Ok(body);
        }
        if let Some(bucket) = &self.bucket {
            let mut body = json!({"kind": "bucket", "bucket": bucket});
            if !self.events.is_empty() {
                body["events"] = json!(self.events);
            }
            for (name, value) in [("prefix", &self.prefix), ("suffix", &self.suffix)] {
                if let Some(value) = value {
                    body[name] = json!(value);
                }
            }
            return Ok(body);
        }
        unreachable!("clap requires a source")
    }
}

pub async fn run(client: &Client, command: TriggerCommand) -> anyhow::Result<()> {
    match command {
        TriggerCommand::Add { name, source } => {
            let path = format!("/v1/functions/{name}/triggers");
            let request = client
                .request(reqwest::Method::POST, &path)
                .json(&source.body()?);
            let trigger: Trigger = client.send(request).await?.json().await?;
            match trigger.state.get("next_fire_at_ms").and_then(Value::as_i64) {
                Some(next) => println!(
                    "added trigger {} on {name}: next firing {}",
                    trigger.id,
                    timestamp(next)
                ),
                None if trigger.kind == "webhook" => println!(
                    "added webhook {} on {name}: POST {}",
                    trigger.id,
                    client.url(&format!("/hooks/{}", trigger.id))
                ),
                None => println!("added {} trigger {} on {name}", trigger.kind, trigger.id),
            }
            Ok(())
        }
        TriggerCommand::Ls { name, output } => {
            let path = match name {
                Some(name) => format!("/v1/triggers?function={name}"),
                None => "/v1/triggers".into(),
            };
            let triggers: Vec<Trigger> = client.get_json(&path).await?;
            if let Output::Json = output {
                return print_json(&triggers);
            }
            let rows = triggers
                .into_iter()
                .map(|t| {
                    vec![
                        t.id,
                        t.function,
                        t.kind,
                        describe(&t.config),
                        describe(&t.state),
                    ]
                })
                .collect();
            print_table(&["ID", "FUNCTION", "KIND", "SETTINGS", "STATE"], rows);
            Ok(())
        }
        TriggerCommand::Rm { id } => {
            client.delete(&format!("/v1/triggers/{id}")).await?;
            println!("removed trigger {id}");
            Ok(())
        }
    }
}

fn without_nulls(body: Value) -> Value {
    match body {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// `key=value` pairs on one line; times (`..._at_ms`) as dates, absent values left out.
fn describe(map: &Map<String, Value>) -> String {
    let pairs = map
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(
            |(key, value)| match (key.strip_suffix("_at_ms"), value.as_i64()) {
                (Some(name), Some(ms)) => format!("{name}={}", timestamp(ms)),
                _ => match value {
                    Value::String(text) => format!("{key}={text}"),
                    other => format!("{key}={other}"),
                },
            },
        );
    pairs.collect::<Vec<_>>().join(" ")
}
