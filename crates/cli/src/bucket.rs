use clap::Subcommand;
use gust_core::{BucketInfo, S3Key};

use crate::client::Client;
use crate::inspect::timestamp;
use crate::table::print_table;

#[derive(Subcommand)]
pub enum BucketCommand {
    /// Create a bucket of the S3 endpoint.
    Create {
        /// The bucket's name: 3 to 63 lowercase letters, digits, `-` or `.`.
        name: String,
    },
    /// List buckets.
    Ls,
    /// Remove a bucket (an empty one, unless --force).
    Rm {
        /// The bucket's name.
        name: String,
        /// Remove its objects too; they raise no events.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make a key pair of the S3 endpoint; its secret is printed once.
    Create {
        /// Limit it to a bucket: NAME (read and write), NAME:read, NAME:write or NAME:rw
        /// (repeatable); a root key when absent.
        #[arg(long = "bucket", value_name = "NAME[:ACCESS]")]
        buckets: Vec<String>,
    },
    /// List key pairs (without secrets).
    Ls,
    /// Remove a key pair by its access key id.
    Rm {
        /// The key's id (`gust key ls`).
        id: String,
    },
}

pub async fn run(client: &Client, command: BucketCommand) -> anyhow::Result<()> {
    match command {
        BucketCommand::Create { name } => {
            let request = client
                .request(reqwest::Method::POST, "/v1/buckets")
                .json(&serde_json::json!({"name": name}));
            client.send(request).await?;
            println!("created bucket {name}");
        }
        BucketCommand::Ls => {
            let buckets: Vec<BucketInfo> = client.get_json("/v1/buckets").await?;
            let rows = buckets
                .into_iter()
                .map(|b| vec![b.name, timestamp(b.created_at_ms)])
                .collect();
            print_table(&["NAME", "CREATED"], rows);
        }
        BucketCommand::Rm { name, force } => {
            client
                .delete(&format!("/v1/buckets/{name}?force={force}"))
                .await?;
            println!("removed bucket {name}");
        }
    }
    Ok(())
}

pub async fn run_key(client: &Client, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { buckets } => {
            let request = client
                .request(reqwest::Method::POST, "/v1/s3-keys")
                .json(&serde_json::json!({"buckets": buckets}));
            let key: S3Key = client.send(request).await?.json().await?;
            println!("aws_access_key_id = {}", key.access_key);
            println!("aws_secret_access_key = {}", key.secret_key);
            eprintln!("keep the secret now: it is not shown again");
        }
        KeyCommand::Ls => {
            let keys: Vec<S3Key> = client.get_json("/v1/s3-keys").await?;
            let rows = keys
                .into_iter()
                .map(|key| {
                    let grants: Vec<String> = key
                        .grants
                        .iter()
                        .map(|g| format!("{}:{}", g.bucket, g.access.as_str()))
                        .collect();
                    vec![
                        key.access_key,
                        if grants.is_empty() {
                            "*".into()
                        } else {
                            grants.join(",")
                        },
                        key.function.unwrap_or_else(|| "-".into()),
                        timestamp(key.created_at_ms),
                    ]
                })
                .collect();
            print_table(&["ACCESS KEY", "BUCKETS", "FUNCTION", "CREATED"], rows);
        }
        KeyCommand::Rm { id } => {
            client.delete(&format!("/v1/s3-keys/{id}")).await?;
            println!("removed key {id}");
        }
    }
    Ok(())
}
