use clap::Subcommand;
use gust_core::TokenInfo;

use crate::client::Client;
use crate::inspect::timestamp;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a scoped token; it is printed once, and only its hash is kept.
    Create {
        /// admin, deployer (deploy, configure, read and call), invoker (call, and follow
        /// asynchronous invocations) or reader (list, logs, usage).
        #[arg(long, value_parser = ["admin", "deployer", "invoker", "reader"])]
        role: String,
        /// Limit it to this function (repeatable); all functions when absent.
        #[arg(long = "function", value_name = "NAME")]
        functions: Vec<String>,
        /// How long it lasts, e.g. 30d or 12h; for ever when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens: id, prefix, role, functions, expiry, last use.
    Ls,
    /// Revoke a token by id (or prefix): it stops working at once.
    Revoke { id: String },
}

pub async fn run(client: &Client, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            role,
            functions,
            expires,
        } => {
            let body = serde_json::json!({
                "role": role, "functions": functions, "expires_in": expires,
            });
            let request = client
                .request(reqwest::Method::POST, "/v1/tokens")
                .json(&body);
            let created: serde_json::Value = client.send(request).await?.json().await?;
            println!("{}", created["token"].as_str().unwrap_or_default());
            eprintln!("keep it now: it is not shown again (id {})", created["id"]);
            Ok(())
        }
        TokenCommand::Ls => {
            let tokens: Vec<TokenInfo> = client.get_json("/v1/tokens").await?;
            let rows = tokens
                .into_iter()
                .map(|t| {
                    let functions = if t.functions.is_empty() {
                        "*".to_string()
                    } else {
                        t.functions.join(",")
                    };
                    vec![
                        t.id,
                        t.prefix,
                        t.role.as_str().to_string(),
                        functions,
                        t.expires_at_ms.map_or("never".into(), timestamp),
                        t.last_used_at_ms.map_or("-".into(), timestamp),
                    ]
                })
                .collect();
            print_table(
                &["ID", "PREFIX", "ROLE", "FUNCTIONS", "EXPIRES", "LAST USED"],
                rows,
            );
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            client.delete(&format!("/v1/tokens/{id}")).await?;
            println!("revoked token {id}");
            Ok(())
        }
    }
}
