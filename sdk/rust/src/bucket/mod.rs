//! Buckets of Gust's S3 endpoint, for a function deployed with `--bucket NAME[:access]`: Gust
//! gives it the endpoint and a key of its own in the AWS variables, and this signs with them.
//!
//! ```ignore
//! let photos = gust_sdk::bucket::Bucket::open("photos")?;
//! let bytes = photos.get("cat.jpg")?;
//! ```

mod event;
mod listing;
mod sigv4;

use std::time::{SystemTime, UNIX_EPOCH};

pub use event::{ObjectEvent, object_events};
pub use sigv4::Credentials;

use crate::fetch::{FetchError, Fetched, fetch_with};

/// A bucket, reached with the credentials Gust gave the function.
#[derive(Debug, Clone)]
pub struct Bucket {
    name: String,
    /// `host:port` of the S3 endpoint.
    host: String,
    credentials: Credentials,
}

/// Why a bucket call failed.
#[derive(Debug, Clone)]
pub enum BucketError {
    /// The function has no bucket grant: deploy it with `--bucket NAME`.
    NotConfigured(String),
    NotFound,
    /// The key may not do this (a read-only grant asked to write, another bucket).
    AccessDenied,
    /// Any other answer of the endpoint: its status and body.
    Status(u16, String),
    Fetch(FetchError),
}

impl std::fmt::Display for BucketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BucketError::NotConfigured(why) => f.write_str(why),
            BucketError::NotFound => f.write_str("no such object"),
            BucketError::AccessDenied => f.write_str("access denied by the bucket grant"),
            BucketError::Status(status, body) => write!(f, "S3 answered {status}: {body}"),
            BucketError::Fetch(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BucketError {}

impl Bucket {
    /// The bucket `name`, through `AWS_ENDPOINT_URL` and the key in `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`.
    pub fn open(name: &str) -> Result<Bucket, BucketError> {
        let var = |key: &str| {
            std::env::var(key).map_err(|_| {
                BucketError::NotConfigured(format!(
                    "{key} is not set: deploy the function with --bucket {name}"
                ))
            })
        };
        let endpoint = var("AWS_ENDPOINT_URL")?;
        let host = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| {
                BucketError::NotConfigured(format!("AWS_ENDPOINT_URL `{endpoint}` is not http://"))
            })?
            .trim_end_matches('/')
            .to_string();
        Ok(Bucket {
            name: name.to_string(),
            host,
            credentials: Credentials {
                access_key: var("AWS_ACCESS_KEY_ID")?,
                secret_key: var("AWS_SECRET_ACCESS_KEY")?,
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            },
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole object.
    pub fn get(&self, key: &str) -> Result<Vec<u8>, BucketError> {
        Ok(self.call("GET", key, &[], &[], &[])?.body)
    }

    /// Writes the object, replacing any of that key.
    pub fn put(&self, key: &str, body: &[u8], content_type: &str) -> Result<(), BucketError> {
        let headers = [("content-type", content_type)];
        self.call("PUT", key, &[], &headers, body).map(drop)
    }

    /// Removes the object; removing one that is not there succeeds too.
    pub fn delete(&self, key: &str) -> Result<(), BucketError> {
        self.call("DELETE", key, &[], &[], &[]).map(drop)
    }

    /// The keys that start with `prefix`, in order, over as many pages as it takes.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, BucketError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let page = self.call("GET", "", &query, &[], &[])?;
            let page = listing::Page::read(&String::from_utf8_lossy(&page.body));
            keys.extend(page.keys);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    fn call(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Fetched, BucketError> {
        let path = format!("/{}/{}", self.name, sigv4::uri_encode(key, false));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signed = sigv4::sign(
            &self.credentials,
            &sigv4::Unsigned {
                method,
                host: &self.host,
                path: &path,
                query,
                body,
                now,
            },
        );
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // wasi:http streams a body without a length; S3 wants to know it for a PUT.
        let length = body.len().to_string();
        if method == "PUT" {
            all.push(("content-length", &length));
        }
        let query = sigv4::canonical_query(query);
        let url = match query.is_empty() {
            true => format!("http://{}{path}", self.host),
            false => format!("http://{}{path}?{query}", self.host),
        };
        let fetched = fetch_with(method, &url, &all, body).map_err(BucketError::Fetch)?;
        match fetched.status {
            200..=299 => Ok(fetched),
            404 => Err(BucketError::NotFound),
            403 => Err(BucketError::AccessDenied),
            status => Err(BucketError::Status(
                status,
                String::from_utf8_lossy(&fetched.body).into_owned(),
            )),
        }
    }
}
