//! Keys of the S3 endpoint: what a key pair may do with which buckets.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Error;

/// What a key may do with a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketAccess {
    Read,
    Write,
    #[serde(rename = "rw")]
    ReadWrite,
}

string_enum!(BucketAccess {
    Read => "read",
    Write => "write",
    ReadWrite => "rw",
});

impl BucketAccess {
    pub fn allows(self, wanted: BucketAccess) -> bool {
        self == BucketAccess::ReadWrite || self == wanted
    }
}

/// One bucket a key may use, and how.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct BucketGrant {
    pub bucket: String,
    pub access: BucketAccess,
}

impl BucketGrant {
    /// `NAME`, `NAME:read`, `NAME:write` or `NAME:rw` (read and write, as a bare `NAME`).
    pub fn parse(text: &str) -> Result<BucketGrant, Error> {
        let (bucket, access) = text.split_once(':').unwrap_or((text, "rw"));
        crate::validate_bucket_name(bucket)?;
        let access = match access {
            "read" => BucketAccess::Read,
            "write" => BucketAccess::Write,
            "rw" => BucketAccess::ReadWrite,
            other => {
                return Err(Error::invalid(format!(
                    "`{other}` in `{text}` is not an access: use read, write or rw"
                )));
            }
        };
        Ok(BucketGrant {
            bucket: bucket.to_string(),
            access,
        })
    }
}

/// A key pair of the S3 endpoint. Its secret is kept as is: SigV4 checks a request by signing
/// it again with the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct S3Key {
    pub access_key: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub secret_key: String,
    /// Empty for a root key, which may do everything.
    pub grants: Vec<BucketGrant>,
    /// The function it was issued to, for keys Gust hands to functions.
    pub function: Option<String>,
    pub created_at_ms: i64,
}

impl S3Key {
    /// Whether the key may use `bucket` that way; bucket-wide operations (list, create,
    /// delete buckets) need a root key.
    pub fn allows(&self, bucket: Option<&str>, wanted: BucketAccess) -> bool {
        if self.grants.is_empty() {
            return true;
        }
        let Some(bucket) = bucket else { return false };
        self.grants
            .iter()
            .any(|grant| grant.bucket == bucket && grant.access.allows(wanted))
    }

    /// Whether the key may read or write `bucket`.
    pub fn may_use(&self, bucket: &str) -> bool {
        self.allows(Some(bucket), BucketAccess::Read)
            || self.allows(Some(bucket), BucketAccess::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_and_limit() {
        let key = S3Key {
            access_key: "GK1".into(),
            secret_key: String::new(),
            grants: vec![
                BucketGrant::parse("photos:read").unwrap(),
                BucketGrant::parse("thumbs").unwrap(),
            ],
            function: None,
            created_at_ms: 0,
        };
        assert!(key.allows(Some("photos"), BucketAccess::Read));
        assert!(!key.allows(Some("photos"), BucketAccess::Write));
        assert!(key.allows(Some("thumbs"), BucketAccess::Write));
        assert!(!key.allows(Some("other"), BucketAccess::Read));
        assert!(!key.allows(None, BucketAccess::Read));
        assert!(BucketGrant::parse("photos:all").is_err());
        assert!(BucketGrant::parse("Bad:read").is_err());
    }
}
