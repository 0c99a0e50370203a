//! Key-value stores: named, persistent maps of text keys to bytes that functions are granted
//! (`--kv STORE`), shared by every function granted the same store.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, ErrorKind};

/// Bytes of one key at most.
pub const MAX_KV_KEY_BYTES: usize = 1024;
/// Bytes of one value at most.
pub const MAX_KV_VALUE_BYTES: usize = 1024 * 1024;
/// Keys one store holds at most.
pub const MAX_KV_KEYS: u64 = 100_000;
/// Keys one listing or batch call handles at most.
pub const MAX_KV_BATCH: usize = 1000;

/// A store's name: like a function's, 1 to 63 of `a-z 0-9 -`, starting with a letter.
pub fn validate_kv_store_name(name: &str) -> Result<(), Error> {
    crate::validate_function_name(name).map_err(|_| {
        Error::invalid(format!(
            "invalid key-value store name `{name}`: use 1 to 63 characters of a-z, 0-9 and `-`, starting with a letter"
        ))
    })
}

pub fn validate_kv_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::invalid("a key cannot be empty"));
    }
    if key.len() > MAX_KV_KEY_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the key is {} bytes; keys hold at most {MAX_KV_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(())
}

pub fn validate_kv_value(value: &[u8]) -> Result<(), Error> {
    if value.len() > MAX_KV_VALUE_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the value is {} bytes; values hold at most {} KiB",
                value.len(),
                MAX_KV_VALUE_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

/// Checks a store's name and a key.
pub fn check_kv_key(store: &str, key: &str) -> Result<(), Error> {
    validate_kv_store_name(store)?;
    validate_kv_key(key)
}

/// Checks a batch call's store and keys.
pub fn check_kv_batch<'a>(
    store: &str,
    keys: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), Error> {
    if keys.len() > MAX_KV_BATCH {
        return Err(Error::invalid(format!(
            "a batch holds at most {MAX_KV_BATCH} keys, not {}",
            keys.len()
        )));
    }
    keys.into_iter()
        .try_for_each(|key| check_kv_key(store, key))
}

/// The error a write past a store's key limit gets.
pub fn kv_store_full(store: &str) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("key-value store `{store}` holds {MAX_KV_KEYS} keys, its limit: delete some first"),
    )
}

/// What `increment` makes of the value a key holds (`None`: absent, which counts as 0).
pub fn incremented(key: &str, current: Option<&[u8]>, delta: i64) -> Result<i64, Error> {
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "`{key}` holds a value that is not a decimal integer: it cannot be incremented"
                ))
            })?,
    };
    i64::checked_add(current, delta).ok_or_else(|| {
        Error::invalid(format!(
            "incrementing `{key}` ({current}) by {delta} overflows a 64-bit integer"
        ))
    })
}

/// One page of a store's keys, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Where the next page starts (pass it as `after`); absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl KeyPage {
    /// The page of `keys` (in order, up to one more than `limit`): the extra one, when there
    /// is one, says that another page follows.
    pub fn of(mut keys: Vec<String>, limit: usize) -> KeyPage {
        let next = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            keys[limit - 1].clone()
        });
        KeyPage { keys, next }
    }
}

/// A store's name and size, as operators list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KvStoreInfo {
    pub name: String,
    pub keys: u64,
    pub bytes: u64,
}

/// Where key-value stores are kept. Every write is atomic; `increment` and
/// `compare_and_swap` read and write in one step, so concurrent callers never lose an update.
/// Implementations check keys, values and the key limit.
#[async_trait]
pub trait KeyValue: Send + Sync + 'static {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error>;
    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), Error>;
    /// Deletes a key; false when there was none.
    async fn delete(&self, store: &str, key: &str) -> Result<bool, Error>;
    async fn exists(&self, store: &str, key: &str) -> Result<bool, Error>;
    /// Keys starting with `prefix`, after `after`, at most `limit` (capped at
    /// `MAX_KV_BATCH`).
    async fn keys(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage, Error>;
    /// Adds `delta` to the number the key holds as decimal text (0 when absent) and returns
    /// the sum.
    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, Error>;
    /// Sets the key to `new` if it holds `expected` now (`None`: it is absent); false when
    /// it did not.
    async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, Error>;
    async fn get_many(&self, store: &str, keys: Vec<String>)
    -> Result<Vec<Option<Vec<u8>>>, Error>;
    /// Sets several keys in one transaction.
    async fn set_many(&self, store: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error>;
    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), Error>;
    /// Every store that holds a key.
    async fn stores(&self) -> Result<Vec<KvStoreInfo>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_have_limits() {
        assert!(validate_kv_key("todo:1").is_ok());
        assert!(validate_kv_key("").is_err());
        let long = "k".repeat(MAX_KV_KEY_BYTES + 1);
        assert_eq!(
            validate_kv_key(&long).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        assert!(validate_kv_value(&vec![0; MAX_KV_VALUE_BYTES]).is_ok());
        let big = vec![0; MAX_KV_VALUE_BYTES + 1];
        assert_eq!(
            validate_kv_value(&big).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        assert!(validate_kv_store_name("todos").is_ok());
        assert!(validate_kv_store_name("Todos").is_err());
    }
}
