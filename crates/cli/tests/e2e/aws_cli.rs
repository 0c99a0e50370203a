//! The AWS CLI as a test's S3 client, pointed at a server's endpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Server, stderr, stdout};

/// The AWS CLI pointed at a server's S3 endpoint, with its root key or another.
pub struct Aws {
    endpoint: String,
    credentials: PathBuf,
}

impl Aws {
    pub fn root(server: &Server) -> Aws {
        Aws {
            endpoint: server.s3_url(),
            credentials: server.data_dir.join("s3-credentials"),
        }
    }

    /// The same endpoint with another key pair, written to a file of its own in `dir`.
    pub fn with_key(server: &Server, dir: &Path, access_key: &str, secret: &str) -> Aws {
        let credentials = dir.join(format!("credentials-{access_key}"));
        let text = format!(
            "[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret}\n"
        );
        std::fs::write(&credentials, text).unwrap();
        Aws {
            endpoint: server.s3_url(),
            credentials,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("aws")
            .args(["--endpoint-url", &self.endpoint, "--region", "us-east-1"])
            .args(args)
            .env("AWS_SHARED_CREDENTIALS_FILE", &self.credentials)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .expect("run the AWS CLI (scripts/setup installs it)")
    }

    /// The JSON a successful `s3api` call prints.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "aws {args:?}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }
}
