use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use gust_core::SecretInfo;

use crate::client::Client;
use crate::inspect::timestamp;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Set a secret's value, read from stdin (or --from-file); it is never shown again.
    Set {
        /// The secret's name.
        name: String,
        /// Read the value from this file instead of stdin.
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
    /// List secrets: names and dates, never values.
    Ls,
    /// Remove a secret that no function uses.
    Rm {
        /// The secret's name.
        name: String,
    },
}

pub async fn run(client: &Client, command: SecretCommand) -> anyhow::Result<()> {
    match command {
        SecretCommand::Set { name, from_file } => {
            let value = match from_file {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => {
                    let mut value = String::new();
                    std::io::stdin()
                        .read_to_string(&mut value)
                        .context("cannot read the value from stdin")?;
                    value
                }
            };
            // A value typed or echoed ends with the line's end, which is not part of it.
            let value = value.strip_suffix('\n').unwrap_or(&value);
            let value = value.strip_suffix('\r').unwrap_or(value).to_string();
            let path = format!("/v1/secrets/{name}");
            let request = client.request(reqwest::Method::PUT, &path).body(value);
            client.send(request).await?;
            println!("set secret {name}");
        }
        SecretCommand::Ls => {
            let secrets: Vec<SecretInfo> = client.get_json("/v1/secrets").await?;
            let rows = secrets
                .into_iter()
                .map(|s| {
                    vec![
                        s.name,
                        timestamp(s.created_at_ms),
                        timestamp(s.updated_at_ms),
                    ]
                })
                .collect();
            print_table(&["NAME", "CREATED", "UPDATED"], rows);
        }
        SecretCommand::Rm { name } => {
            client.delete(&format!("/v1/secrets/{name}")).await?;
            println!("removed secret {name}");
        }
    }
    Ok(())
}
