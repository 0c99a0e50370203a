use clap::Args;
use futures::StreamExt;
use gust_core::LogLine;

use crate::client::Client;
use crate::inspect::timestamp;

#[derive(Args)]
pub struct LogsArgs {
    name: String,
    /// Keep printing new lines as they are written.
    #[arg(long, short)]
    follow: bool,
    /// How many of the latest lines to start with.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

pub async fn run(client: &Client, args: LogsArgs) -> anyhow::Result<()> {
    let path = format!(
        "/v1/functions/{}/logs?limit={}&follow={}",
        args.name, args.limit, args.follow
    );
    let response = client
        .send(client.request(reqwest::Method::GET, &path))
        .await?;
    let mut body = response.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line: LogLine = serde_json::from_slice(&line)?;
            println!(
                "{} {} {} {}",
                timestamp(line.ts_ms),
                line.invocation_id,
                line.stream.as_str(),
                line.line
            );
        }
    }
    Ok(())
}
