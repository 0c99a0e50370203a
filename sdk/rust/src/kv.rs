//! Key-value stores, for a function deployed with `--kv STORE`: named, persistent, shared by
//! every instance of every function granted the same store (wasi:keyvalue underneath).
//!
//! ```ignore
//! let todos = gust_sdk::kv::Store::open("todos")?;
//! todos.set_json("todo:1", &todo)?;
//! let visits = todos.increment("visits", 1)?;
//! ```

mod bindings {
    wit_bindgen::generate!({ path: "wit/keyvalue.wit", world: "wasi:keyvalue/imports" });
}

use bindings::wasi::keyvalue::{atomics, batch, store};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The function was not granted this store (`gust deploy --kv STORE`).
    AccessDenied,
    NoSuchStore,
    /// What Gust said: a key or value too large, the store full, a value that is not a number.
    Other(String),
    /// A value that does not read as the type asked for.
    Decode(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::AccessDenied => f.write_str("this function was not granted the store"),
            KvError::NoSuchStore => f.write_str("no such store"),
            KvError::Other(message) | KvError::Decode(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for KvError {}

impl From<store::Error> for KvError {
    fn from(err: store::Error) -> Self {
        match err {
            store::Error::AccessDenied => KvError::AccessDenied,
            store::Error::NoSuchStore => KvError::NoSuchStore,
            store::Error::Other(message) => KvError::Other(message),
        }
    }
}

/// One opened store.
pub struct Store(store::Bucket);

impl Store {
    pub fn open(name: &str) -> Result<Store, KvError> {
        Ok(Store(store::open(name)?))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.0.get(key)?)
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        Ok(self.0.set(key, value)?)
    }

    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        Ok(self.0.delete(key)?)
    }

    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.0.exists(key)?)
    }

    /// Every key, in order (read a page at a time).
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref())?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// Adds `delta` to the number the key holds (0 when absent) in one atomic step, and
    /// returns the sum.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        Ok(atomics::increment(&self.0, key, delta)?)
    }

    /// Sets `key` to `new` only if it still holds `expected` (`None`: absent). False when
    /// another writer got there first.
    pub fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError> {
        let cas = atomics::Cas::new(&self.0, key)?;
        if cas.current()?.as_deref() != expected {
            return Ok(false);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(e)) => Err(e.into()),
        }
    }

    /// Reads a key's value, then writes what `change` makes of it, again until no other
    /// writer came in between. Returns what was written.
    pub fn update(
        &self,
        key: &str,
        change: impl Fn(Option<&[u8]>) -> Vec<u8>,
    ) -> Result<Vec<u8>, KvError> {
        let mut cas = atomics::Cas::new(&self.0, key)?;
        loop {
            let new = change(cas.current()?.as_deref());
            match atomics::swap(cas, &new) {
                Ok(()) => return Ok(new),
                Err(atomics::CasError::CasFailed(fresh)) => cas = fresh,
                Err(atomics::CasError::StoreError(e)) => return Err(e.into()),
            }
        }
    }

    /// The values of several keys, in their order.
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let found = batch::get_many(&self.0, keys)?;
        Ok(found.into_iter().map(|pair| pair.map(|(_, v)| v)).collect())
    }

    pub fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        Ok(batch::set_many(&self.0, pairs)?)
    }

    pub fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        Ok(batch::delete_many(&self.0, keys)?)
    }

    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        let Some(bytes) = self.get(key)? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| KvError::Decode(format!("`{key}` is not the JSON expected: {e}")))?;
        Ok(Some(value))
    }

    pub fn set_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), KvError> {
        let bytes = serde_json::to_vec(value).map_err(|e| KvError::Decode(e.to_string()))?;
        self.set(key, &bytes)
    }
}
