use clap::{Args, Subcommand};
use gust_core::{Alias, Split};
use serde_json::json;

use crate::client::Client;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Point an alias at a version: `gust alias set todo live 3 --split 4=10`.
    Set {
        /// The function's name.
        function: String,
        /// The alias's name, e.g. live.
        name: String,
        /// The version it points to.
        version: u32,
        /// Send PERCENT of the requests to VERSION instead (a canary): `4=10`.
        #[arg(long, value_name = "VERSION=PERCENT")]
        split: Option<String>,
    },
    /// List a function's aliases.
    Ls {
        /// The function's name.
        function: String,
    },
    /// Remove an alias.
    Rm {
        /// The function's name.
        function: String,
        /// The alias's name.
        name: String,
    },
}

/// `gust rollback FN [--alias NAME]`.
#[derive(Args)]
pub struct RollbackArgs {
    /// The function's name.
    function: String,
    /// The alias to move back.
    #[arg(long, default_value = "live")]
    alias: String,
}

fn path(function: &str, name: &str) -> String {
    format!("/v1/functions/{function}/aliases/{name}")
}

fn describe(alias: &Alias) -> String {
    let mut text = format!(
        "{}@{} → version {}",
        alias.function, alias.name, alias.version
    );
    if let Some(split) = alias.split {
        let stays = 100 - split.percent;
        text += &format!(
            " ({stays}%), version {} ({}%)",
            split.version, split.percent
        );
    }
    text
}

pub async fn run(client: &Client, command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Set {
            function,
            name,
            version,
            split,
        } => {
            let split = split.as_deref().map(Split::parse).transpose()?;
            let body = json!({"version": version, "split": split});
            let request = client
                .request(reqwest::Method::PUT, &path(&function, &name))
                .json(&body);
            let alias: Alias = client.send(request).await?.json().await?;
            println!("{}", describe(&alias));
        }
        AliasCommand::Ls { function } => {
            let aliases: Vec<Alias> = client
                .get_json(&format!("/v1/functions/{function}/aliases"))
                .await?;
            let rows = aliases
                .into_iter()
                .map(|a| {
                    let split = a.split.map(|s| format!("{}={}%", s.version, s.percent));
                    let previous = a.previous.map(|p| p.to_string());
                    vec![
                        a.name,
                        a.version.to_string(),
                        split.unwrap_or_default(),
                        previous.unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["ALIAS", "VERSION", "SPLIT", "PREVIOUS"], rows);
        }
        AliasCommand::Rm { function, name } => {
            client.delete(&path(&function, &name)).await?;
            println!("removed alias {function}@{name}");
        }
    }
    Ok(())
}

pub async fn rollback(client: &Client, args: RollbackArgs) -> anyhow::Result<()> {
    let url = format!("{}/rollback", path(&args.function, &args.alias));
    let request = client.request(reqwest::Method::POST, &url);
    let alias: Alias = client.send(request).await?.json().await?;
    println!("rolled back: {}", describe(&alias));
    Ok(())
}
