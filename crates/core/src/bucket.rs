//! Buckets and their objects, as Gust's S3-compatible storage keeps them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Error;

/// Longest object key, in bytes, as S3 has it.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketInfo {
    pub name: String,
    pub created_at_ms: i64,
}

/// A stored object. Its bytes are the files of `parts`, in order: one for an object put whole,
/// one per part for an object uploaded in parts (never copied into one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// As S3 clients check it: the MD5 of the bytes in hex, or for an object uploaded in parts
    /// the MD5 of the parts' MD5s followed by `-` and the number of parts.
    pub etag: String,
    pub content_type: Option<String>,
    /// The `x-amz-meta-*` headers it was put with, names without the prefix.
    pub metadata: Vec<(String, String)>,
    pub parts: Vec<StoredPart>,
    pub modified_at_ms: i64,
}

/// One file of an object's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    /// The file's name in the object folder: a fresh id, never derived from the key.
    pub blob: String,
    pub size: u64,
}

/// Bucket names as S3 takes them: 3 to 63 lowercase letters, digits, `-` and `.`, starting and
/// ending with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok = (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && edge(bytes.first())
        && edge(bytes.last())
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid bucket name `{name}`: use 3 to 63 characters of a-z, 0-9, `-` and `.`, \
             starting and ending with a letter or digit"
        )))
    }
}

/// An object key: 1 to 1024 bytes of UTF-8 without NUL. Keys are names in the catalog, never
/// paths on disk, so `../` or a leading `/` are plain characters of a key.
pub fn validate_object_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "an object key has 1 to {MAX_KEY_BYTES} bytes; this one has {}",
            key.len()
        )));
    }
    if key.contains('\0') {
        return Err(Error::invalid("an object key cannot contain NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3() {
        for ok in ["photos", "photos-thumbs", "a.b.c", "abc", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Photos",
            "-photos",
            "photos-",
            "a..b",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_names_not_paths() {
        for ok in ["a.jpg", "../../etc/passwd", "/absolute", "dir/é.png"] {
            assert!(validate_object_key(ok).is_ok(), "{ok}");
        }
        assert!(validate_object_key("").is_err());
        assert!(validate_object_key("a\0b").is_err());
        assert!(validate_object_key(&"k".repeat(1025)).is_err());
    }
}
