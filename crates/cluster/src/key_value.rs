//! Key-value stores in a cluster: a JetStream key-value bucket per store (`gust-kv-STORE`,
//! made by its first write), each key written in hex (which keeps the keys' order and takes any
//! text). `increment` and `compare_and_swap` are compare-and-sets on the key's revision, so
//! concurrent callers on any nodes lose no update. `set_many` writes key by key: another node
//! may read a batch half written.

use std::collections::HashMap;
use std::sync::Mutex;

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use futures::TryStreamExt;
use futures::future::join_all;
use gust_core::{
    Error, KeyPage, KeyValue, KvStoreInfo, MAX_KV_BATCH, MAX_KV_KEYS, check_kv_batch, check_kv_key,
    incremented, kv_store_full, validate_kv_store_name, validate_kv_value,
};

use crate::nats_error;

const BUCKET_PREFIX: &str = "gust-kv-";

pub struct JetStreamKeyValue {
    jetstream: jetstream::Context,
    /// The buckets opened so far, by store.
    buckets: Mutex<HashMap<String, kv::Store>>,
}

/// How a key of a store is written as a bucket's key.
fn encoded(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decoded(key: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(key.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl JetStreamKeyValue {
    pub fn new(jetstream: jetstream::Context) -> JetStreamKeyValue {
        JetStreamKeyValue {
            jetstream,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The store's bucket; none when nothing was ever written to it and `make` is false.
    async fn bucket(&self, store: &str, make: bool) -> Result<Option<kv::Store>, Error> {
        if let Some(bucket) = self.known(store) {
            return Ok(Some(bucket));
        }
        let name = format!("{BUCKET_PREFIX}{store}");
        let bucket = match self.jetstream.get_key_value(&name).await {
            Ok(bucket) => bucket,
            Err(_) if !make => return Ok(None),
            Err(_) => self
                .jetstream
                .create_key_value(kv::Config {
                    bucket: name,
                    description: format!("Gust's key-value store {store}"),
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error(&format!("cannot make key-value store {store}"), e))?,
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.insert(store.to_string(), bucket.clone());
        Ok(Some(bucket))
    }

    fn known(&self, store: &str) -> Option<kv::Store> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.get(store).cloned()
    }

    /// A key's value and revision.
    async fn entry(&self, store: &str, key: &str) -> Result<Option<(Vec<u8>, u64)>, Error> {
        let Some(bucket) = self.bucket(store, false).await? else {
            return Ok(None);
        };
        let entry = bucket
            .entry(encoded(key))
            .await
            .map_err(|e| nats_error(&format!("cannot read `{key}` of {store}"), e))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| (e.value.to_vec(), e.revision)))
    }

    /// Every key of a store, in order.
    async fn all_keys(&self, store: &str) -> Result<Vec<String>, Error> {
        let Some(bucket) = self.bucket(store, false).await? else {
            return Ok(Vec::new());
        };
        let what = format!("cannot list the keys of {store}");
        let mut keys: Vec<String> = bucket
            .keys()
            .await
            .map_err(|e| nats_error(&what, e))?
            .map_err(|e| nats_error(&what, e))
            .try_filter_map(|key: String| std::future::ready(Ok(decoded(&key))))
            .try_collect()
            .await?;
        keys.sort_unstable();
        Ok(keys)
    }

    /// Refuses a new key in a store that holds its limit. The bucket's message count is a
    /// quick upper bound (it counts removed keys' markers too); only past it are keys counted.
    async fn check_room(&self, store: &str, bucket: &kv::Store, key: &str) -> Result<(), Error> {
        let status = bucket
            .status()
            .await
            .map_err(|e| nats_error(&format!("cannot read {store}'s size"), e))?;
        if status.values() < MAX_KV_KEYS || self.entry(store, key).await?.is_some() {
            return Ok(());
        }
        match (self.all_keys(store).await?.len() as u64) < MAX_KV_KEYS {
            true => Ok(()),
            false => Err(kv_store_full(store)),
        }
    }

    /// Writes `value` over what the key holds at `revision` (None: absent); false when
    /// another write came first.
    async fn swap(
        &self,
        store: &str,
        key: &str,
        revision: Option<u64>,
        value: Vec<u8>,
    ) -> Result<bool, Error> {
        let bucket = self.bucket(store, true).await?.expect("made");
        let what = || format!("cannot write `{key}` of {store}");
        match revision {
            Some(revision) => match bucket.update(encoded(key), value.into(), revision).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
                Err(e) => Err(nats_error(&what(), e)),
            },
            None => {
                self.check_room(store, &bucket, key).await?;
                match bucket.create(encoded(key), value.into()).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(nats_error(&what(), e)),
                }
            }
        }
    }
}

#[async_trait]
impl KeyValue for JetStreamKeyValue {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_kv_key(store, key)?;
        Ok(self.entry(store, key).await?.map(|(value, _)| value))
    }

    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        check_kv_key(store, key)?;
        validate_kv_value(&value)?;
        let bucket = self.bucket(store, true).await?.expect("made");
        self.check_room(store, &bucket, key).await?;
        bucket
            .put(encoded(key), value.into())
            .await
            .map(drop)
            .map_err(|e| nats_error(&format!("cannot write `{key}` of {store}"), e))
    }

    async fn delete(&self, store: &str, key: &str) -> Result<bool, Error> {
        check_kv_key(store, key)?;
        if self.entry(store, key).await?.is_none() {
            return Ok(false);
        }
        let bucket = self.bucket(store, false).await?.expect("it holds the key");
        bucket
            .purge(encoded(key))
            .await
            .map_err(|e| nats_error(&format!("cannot delete `{key}` of {store}"), e))?;
        Ok(true)
    }

    async fn exists(&self, store: &str, key: &str) -> Result<bool, Error> {
        Ok(self.get(store, key).await?.is_some())
    }

    async fn keys(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage, Error> {
        validate_kv_store_name(store)?;
        let limit = limit.clamp(1, MAX_KV_BATCH);
        let keys: Vec<String> = self
            .all_keys(store)
            .await?
            .into_iter()
            .filter(|key| key.starts_with(prefix) && after.is_none_or(|after| key.as_str() > after))
            .take(limit + 1)
            .collect();
        Ok(KeyPage::of(keys, limit))
    }

    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, Error> {
        check_kv_key(store, key)?;
        loop {
            let current = self.entry(store, key).await?;
            let sum = incremented(key, current.as_ref().map(|(v, _)| v.as_slice()), delta)?;
            let revision = current.map(|(_, revision)| revision);
            if self
                .swap(store, key, revision, sum.to_string().into_bytes())
                .await?
            {
                return Ok(sum);
            }
        }
    }

    async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, Error> {
        check_kv_key(store, key)?;
        validate_kv_value(&new)?;
        let current = self.entry(store, key).await?;
        let (held, revision) = match current {
            Some((value, revision)) => (Some(value), Some(revision)),
            None => (None, None),
        };
        if held != expected {
            return Ok(false);
        }
        self.swap(store, key, revision, new).await
    }

    async fn get_many(
        &self,
        store: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        check_kv_batch(store, keys.iter().map(String::as_str))?;
        let reads = keys.iter().map(|key| self.entry(store, key));
        join_all(reads)
            .await
            .into_iter()
            .map(|read| read.map(|entry| entry.map(|(value, _)| value)))
            .collect()
    }

    async fn set_many(&self, store: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        check_kv_batch(store, pairs.iter().map(|(key, _)| key.as_str()))?;
        pairs
            .iter()
            .try_for_each(|(_, value)| validate_kv_value(value))?;
        for (key, value) in pairs {
            self.set(store, &key, value).await?;
        }
        Ok(())
    }

    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), Error> {
        check_kv_batch(store, keys.iter().map(String::as_str))?;
        for key in keys {
            self.delete(store, &key).await?;
        }
        Ok(())
    }

    async fn stores(&self) -> Result<Vec<KvStoreInfo>, Error> {
        let mut names: Vec<String> = self
            .jetstream
            .stream_names()
            .map_err(|e| nats_error("cannot list the key-value stores", e))
            .try_filter_map(|stream| {
                let store = stream
                    .strip_prefix(&format!("KV_{BUCKET_PREFIX}"))
                    .map(str::to_string);
                std::future::ready(Ok(store))
            })
            .try_collect()
            .await?;
        names.sort_unstable();
        let mut stores = Vec::with_capacity(names.len());
        for name in names {
            // A store removed since the listing is passed over.
            let Some(bucket) = self.bucket(&name, false).await? else {
                continue;
            };
            let keys = self.all_keys(&name).await?.len() as u64;
            let status = bucket
                .status()
                .await
                .map_err(|e| nats_error(&format!("cannot read {name}'s size"), e))?;
            if keys > 0 {
                stores.push(KvStoreInfo {
                    name,
                    keys,
                    bytes: status.info.state.bytes,
                });
            }
        }
        Ok(stores)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gust_store::conformance::{self, Fresh};

    use super::*;
    use crate::test_server::NatsServer;

    #[test]
    fn keys_written_in_hex_read_back_and_keep_their_order() {
        for key in ["todo:1", "é/ü ?", "a.b>*"] {
            assert_eq!(decoded(&encoded(key)).as_deref(), Some(key));
        }
        assert!(encoded("todo:1") < encoded("todo:2") && encoded("a") < encoded("ab"));
    }

    #[tokio::test]
    async fn is_a_key_value_store() {
        conformance::key_value::run(async || {
            let server = NatsServer::start();
            let store = JetStreamKeyValue::new(jetstream::new(server.connect().await));
            Fresh {
                store: Arc::new(store),
                keep: Box::new(server),
            }
        })
        .await;
    }
}
