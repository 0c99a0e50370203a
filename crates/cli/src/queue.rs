//! `gust async`: a function's asynchronous invocations, one of them with its attempts and
//! logs, and cancelling one that has not run yet.

use clap::Subcommand;
use gust_core::AsyncInvocation;
use serde_json::Value;

use crate::Output;
use crate::client::Client;
use crate::inspect::{print_json, timestamp};
use crate::table::print_table;

#[derive(Subcommand)]
pub enum AsyncCommand {
    /// A function's asynchronous invocations, newest first.
    Ls {
        /// The function's name.
        name: String,
        /// Only those in this state: queued, running, failed, succeeded, dead, cancelled.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// One invocation: its state, attempts, errors, result and log lines.
    Show {
        /// The invocation's id (printed by `gust invoke --async`).
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Cancel an invocation that has not run yet.
    Cancel {
        /// The invocation's id.
        id: String,
    },
}

pub async fn run(client: &Client, command: AsyncCommand) -> anyhow::Result<()> {
    match command {
        AsyncCommand::Ls {
            name,
            state,
            output,
        } => {
            let mut path = format!("/v1/functions/{name}/async");
            if let Some(state) = state {
                path.push_str(&format!("?state={state}"));
            }
            let invocations: Vec<AsyncInvocation> = client.get_json(&path).await?;
            if let Output::Json = output {
                return print_json(&invocations);
            }
            print_invocations(invocations);
        }
        AsyncCommand::Show { id, output } => {
            let view: Value = client.get_json(&format!("/v1/invocations/{id}")).await?;
            if let Output::Json = output {
                return print_json(&view);
            }
            let invocation: AsyncInvocation = serde_json::from_value(view.clone())?;
            print_invocations(vec![invocation.clone()]);
            if let Some(result) = &invocation.result {
                println!("\nresult: {}", serde_json::to_string(result)?);
            }
            for line in view["logs"].as_array().into_iter().flatten() {
                println!("{}", line["line"].as_str().unwrap_or_default());
            }
        }
        AsyncCommand::Cancel { id } => {
            client.delete(&format!("/v1/invocations/{id}")).await?;
            println!("cancelled {id}");
        }
    }
    Ok(())
}

/// One row per invocation; the errors of its attempts in the last column.
pub fn print_invocations(invocations: Vec<AsyncInvocation>) {
    let rows = invocations
        .into_iter()
        .map(|invocation| {
            let errors = invocation
                .errors
                .iter()
                .map(|e| format!("#{}: {}", e.attempt, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                invocation.id,
                invocation.state.as_str().to_string(),
                timestamp(invocation.enqueued_at_ms),
                invocation.attempts.to_string(),
                errors,
            ]
        })
        .collect();
    print_table(&["ID", "STATE", "ENQUEUED", "ATTEMPTS", "ERRORS"], rows);
}
