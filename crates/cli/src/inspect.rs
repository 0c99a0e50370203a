use std::time::{Duration, UNIX_EPOCH};

use gust_core::{FunctionStatus, Version};

use crate::Output;
use crate::client::Client;
use crate::table::print_table;

pub fn timestamp(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn list(client: &Client, output: Output) -> anyhow::Result<()> {
    let functions: Vec<FunctionStatus> = client.get_json("/v1/functions").await?;
    if let Output::Json = output {
        return print_json(&functions);
    }
    let rows = functions
        .into_iter()
        .map(|status| {
            let f = status.function;
            let c = &f.latest.config;
            let i = status.instances;
            vec![
                f.name,
                f.latest.number.to_string(),
                f.latest.runtime.as_str().to_string(),
                format!("{} MB", c.memory_mb),
                format!("{} ms", c.timeout_ms),
                if c.public { "public" } else { "private" }.to_string(),
                format!("{}/{}", i.warm, i.busy),
                format!("{}..{}", c.min_instances, c.max_instances),
                c.max_concurrency.to_string(),
                timestamp(f.latest.created_at_ms),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "VERSION",
        "RUNTIME",
        "MEMORY",
        "TIMEOUT",
        "ACCESS",
        "WARM/BUSY",
        "INSTANCES",
        "MAX CONC",
        "DEPLOYED",
    ];
    print_table(&header, rows);
    Ok(())
}

pub async fn versions(client: &Client, name: &str, output: Output) -> anyhow::Result<()> {
    let versions: Vec<Version> = client
        .get_json(&format!("/v1/functions/{name}/versions"))
        .await?;
    if let Output::Json = output {
        return print_json(&versions);
    }
    let rows = versions
        .into_iter()
        .map(|v| {
            vec![
                v.number.to_string(),
                v.artifact_sha256[..12].to_string(),
                format!("{} B", v.artifact_size),
                format!("{} MB", v.config.memory_mb),
                format!("{} ms", v.config.timeout_ms),
                timestamp(v.created_at_ms),
            ]
        })
        .collect();
    print_table(
        &["VERSION", "SHA256", "SIZE", "MEMORY", "TIMEOUT", "CREATED"],
        rows,
    );
    Ok(())
}
