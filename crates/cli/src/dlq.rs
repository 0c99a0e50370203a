use clap::Subcommand;
use gust_core::AsyncInvocation;

use crate::Output;
use crate::client::Client;
use crate::inspect::print_json;
use crate::queue::print_invocations;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Requeue dead invocations (all of the function's when no id is given).
    Replay {
        /// The function's name.
        name: String,
        /// Ids of dead letters [default: all of them].
        ids: Vec<String>,
    },
}

/// `gust dlq NAME` lists the dead letters; `gust dlq replay NAME [ID...]` requeues them.
pub async fn run(
    client: &Client,
    name: Option<String>,
    output: Output,
    command: Option<DlqCommand>,
) -> anyhow::Result<()> {
    match (name, command) {
        (_, Some(DlqCommand::Replay { name, ids })) => {
            let path = format!("/v1/functions/{name}/dlq/replay");
            let request = client
                .request(reqwest::Method::POST, &path)
                .json(&serde_json::json!({"ids": ids}));
            let answer: serde_json::Value = client.send(request).await?.json().await?;
            println!("requeued {} invocations of {name}", answer["replayed"]);
            Ok(())
        }
        (Some(name), None) => list(client, &name, output).await,
        (None, None) => {
            anyhow::bail!("name a function: gust dlq NAME, or gust dlq replay NAME [ID...]")
        }
    }
}

async fn list(client: &Client, name: &str, output: Output) -> anyhow::Result<()> {
    let dead: Vec<AsyncInvocation> = client
        .get_json(&format!("/v1/functions/{name}/dlq"))
        .await?;
    match output {
        Output::Json => print_json(&dead)?,
        Output::Table => print_invocations(dead),
    }
    Ok(())
}
