use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use gust_core::{KeyPage, KvStoreInfo};

use crate::client::Client;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum KvCommand {
    /// List the stores, or a store's keys.
    Ls {
        /// The store whose keys to list [default: list the stores].
        store: Option<String>,
        /// Only keys that start with it.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Print a key's value.
    Get {
        /// The store.
        store: String,
        /// The key.
        key: String,
    },
    /// Set a key to VALUE, or to what --from-file or stdin holds.
    Set {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// The value [default: what --from-file or stdin holds].
        value: Option<String>,
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
    /// Delete a key.
    Rm {
        /// The store.
        store: String,
        /// The key.
        key: String,
    },
}

fn key_path(store: &str, key: &str) -> String {
    format!("/v1/kv/{store}/{}", urlencoding::encode(key))
}

pub async fn run(client: &Client, command: KvCommand) -> anyhow::Result<()> {
    match command {
        KvCommand::Ls {
            store: None,
            prefix: _,
        } => {
            let stores: Vec<KvStoreInfo> = client.get_json("/v1/kv").await?;
            let rows = stores
                .into_iter()
                .map(|s| vec![s.name, s.keys.to_string(), s.bytes.to_string()])
                .collect();
            print_table(&["STORE", "KEYS", "BYTES"], rows);
        }
        KvCommand::Ls {
            store: Some(store),
            prefix,
        } => {
            let mut after: Option<String> = None;
            loop {
                let mut path = format!("/v1/kv/{store}?prefix={}", urlencoding::encode(&prefix));
                if let Some(after) = &after {
                    path += &format!("&after={}", urlencoding::encode(after));
                }
                let page: KeyPage = client.get_json(&path).await?;
                for key in &page.keys {
                    println!("{key}");
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        KvCommand::Get { store, key } => {
            let request = client.request(reqwest::Method::GET, &key_path(&store, &key));
            let value = client.send(request).await?.bytes().await?;
            std::io::stdout().write_all(&value)?;
        }
        KvCommand::Set {
            store,
            key,
            value,
            from_file,
        } => {
            let value = match (value, from_file) {
                (Some(value), _) => value.into_bytes(),
                (None, Some(path)) => std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                (None, None) => {
                    let mut value = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut value)
                        .context("cannot read the value from stdin")?;
                    value
                }
            };
            let request = client
                .request(reqwest::Method::PUT, &key_path(&store, &key))
                .body(value);
            client.send(request).await?;
            println!("set {store}/{key}");
        }
        KvCommand::Rm { store, key } => {
            client.delete(&key_path(&store, &key)).await?;
            println!("deleted {store}/{key}");
        }
    }
    Ok(())
}
