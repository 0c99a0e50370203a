//! Buckets for functions: a function deployed with `--bucket NAME[:access]` gets a key scoped
//! to its grants and the variables the AWS SDKs and CLI read, and may reach the S3 endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use gust_core::{Capability, Error, FunctionConfig, Provision};

use crate::keys::KeyRing;

/// The region the variables name: Gust has one, and SigV4 needs some name.
pub const REGION: &str = "us-east-1";

pub struct BucketAccessGrants {
    keys: Arc<KeyRing>,
    /// Where functions reach the S3 endpoint (`host:port`); `None` with `--s3-listen off`.
    endpoint: Option<String>,
}

impl BucketAccessGrants {
    /// `listening` is the S3 endpoint's bound address: a wildcard address is reached on
    /// loopback.
    pub fn new(keys: Arc<KeyRing>, listening: Option<SocketAddr>) -> Arc<BucketAccessGrants> {
        let endpoint = listening.map(|mut address| {
            if address.ip().is_unspecified() {
                address.set_ip(match address {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            address.to_string()
        });
        Arc::new(BucketAccessGrants { keys, endpoint })
    }
}

impl Capability for BucketAccessGrants {
    fn provide(&self, function: &str, config: &FunctionConfig) -> Result<Provision, Error> {
        if config.buckets.is_empty() {
            return Ok(Provision::default());
        }
        let Some(endpoint) = &self.endpoint else {
            return Err(Error::invalid(format!(
                "function `{function}` is granted buckets, but this node's S3 endpoint is off \
                 (gust serve --s3-listen off)"
            )));
        };
        let key = self.keys.for_function(function, &config.buckets);
        let env = [
            ("AWS_ENDPOINT_URL", format!("http://{endpoint}")),
            ("AWS_ACCESS_KEY_ID", key.access_key),
            ("AWS_SECRET_ACCESS_KEY", key.secret_key),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
        ];
        Ok(Provision {
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            allow_hosts: vec![endpoint.clone()],
        })
    }

    fn revoke(&self, function: &str) {
        self.keys.revoke_function(function);
    }
}
