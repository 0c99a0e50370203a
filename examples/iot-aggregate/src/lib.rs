//! Analyses IoT readings as they arrive on a Kafka topic. A Kafka trigger with `--batch-size`
//! delivers batches of readings `{"device", "ts", "temp"}` (`ts` in milliseconds); the function
//! answers, for each partition of the batch, what its success destination passes on:
//!
//! - `EMIT=stats` (the default): per device and 10 s window of `ts`, the count, min, max, sum
//!   and mean of the batch's readings;
//! - `EMIT=alerts`: the readings over `ALERT_ABOVE` (default 40), and nothing (an empty 204,
//!   which sends nothing on) when there are none.
//!
//! Each answer names the partition and offsets it covers. Delivery is at least once: after a
//! crash a batch may come again, but always from the same first offset (the last one
//! committed), so a consumer that keeps one answer per partition and first offset, the latest,
//! and follows them from offset to offset, counts every reading exactly once.

mod window;

use gust_sdk::kafka::{KafkaRecord, kafka_batch};
use gust_sdk::{Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use window::Windows;

#[derive(Deserialize)]
struct Reading {
    device: String,
    ts: i64,
    temp: f64,
}

#[derive(Serialize)]
struct Alert<'a> {
    device: &'a str,
    ts: i64,
    temp: f64,
    offset: i64,
}

fn handle(req: Request) -> Response {
    let batch = match kafka_batch(&req.body) {
        Ok(batch) => batch,
        Err(message) => return Response::text(message).with_status(400),
    };
    let alerts_only = gust_sdk::env("EMIT").as_deref() == Some("alerts");
    let threshold = gust_sdk::env("ALERT_ABOVE")
        .and_then(|t| t.parse().ok())
        .unwrap_or(40.0);
    let mut ranges = Vec::new();
    for (partition, records) in &batch {
        let readings: Vec<(i64, Reading)> = records.iter().filter_map(reading).collect();
        let output = if alerts_only {
            let alerts: Vec<Alert> = readings
                .iter()
                .filter(|(_, r)| r.temp > threshold)
                .map(|(offset, r)| Alert {
                    device: &r.device,
                    ts: r.ts,
                    temp: r.temp,
                    offset: *offset,
                })
                .collect();
            if alerts.is_empty() {
                continue;
            }
            json!({ "alerts": alerts })
        } else {
            let mut windows = Windows::default();
            for (_, r) in &readings {
                windows.add(&r.device, r.ts, r.temp);
            }
            json!({ "windows": windows.summaries() })
        };
        ranges.push(covered(partition, records, output));
    }
    if ranges.is_empty() {
        return Response::new(204);
    }
    Response::json(&json!({ "ranges": ranges }))
}

/// A record's reading with its offset; a record that is not one is skipped (and logged).
fn reading(record: &KafkaRecord) -> Option<(i64, Reading)> {
    match serde_json::from_slice(&record.value) {
        Ok(reading) => Some((record.offset, reading)),
        Err(e) => {
            eprintln!("offset {} is not a reading: {e}", record.offset);
            None
        }
    }
}

/// The output of one partition's records, with the offsets they cover.
fn covered(partition: &str, records: &[KafkaRecord], mut output: Value) -> Value {
    let first = records.first().map_or(0, |r| r.offset);
    let last = records.last().map_or(0, |r| r.offset);
    output["partition"] = json!(partition);
    output["first_offset"] = json!(first);
    output["last_offset"] = json!(last);
    output
}

gust_sdk::export_handler!(handle);
