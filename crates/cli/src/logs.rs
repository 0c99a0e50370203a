use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use gust_core::LogLine;

use crate::Output;
use crate::client::Client;
use crate::inspect::timestamp;

#[derive(Args)]
pub struct LogsArgs {
    /// The function's name.
    name: String,
    /// Keep printing new lines as they are written.
    #[arg(long, short)]
    follow: bool,
    /// How many of the latest lines to start with.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// json: each line as the API gives it, one JSON object per line.
    #[arg(long, short, value_enum, default_value_t)]
    output: Output,
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
    let closed = "the server closed the log stream (it stopped or restarted)";
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.context(closed)?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=end).collect();
            if matches!(args.output, Output::Json) {
                print!("{}", String::from_utf8_lossy(&raw));
                continue;
            }
            let line: LogLine = serde_json::from_slice(&raw)?;
            println!(
                "{} {} {} {}",
                timestamp(line.ts_ms),
                line.invocation_id,
                line.stream.as_str(),
                printable(&line.line)
            );
        }
    }
    if args.follow {
        anyhow::bail!(closed);
    }
    Ok(())
}

/// A function's line as it may reach a terminal: control characters (escape sequences that
/// could rewrite the screen or the title) shown as `\u{..}` instead of acted on. Tabs stay.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let hostile = "ok\u{1b}]0;pwned\u{7}\u{1b}[2J\tend\r";
        let shown = printable(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\t'),
            "{shown}"
        );
        assert_eq!(shown, "ok\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\tend\\u{d}");
        assert_eq!(printable("héllo wörld"), "héllo wörld");
    }
}
