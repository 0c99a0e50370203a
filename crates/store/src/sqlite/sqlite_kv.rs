//! The embedded store as the key-value stores' home: checks, then SQL (kv_sql.rs).

use async_trait::async_trait;
use gust_core::{
    Error, KeyPage, KeyValue, KvStoreInfo, check_kv_batch, check_kv_key, validate_kv_store_name,
    validate_kv_value,
};

use super::{SqliteStore, kv_sql};

#[async_trait]
impl KeyValue for SqliteStore {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_kv_key(store, key)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::get(conn, &store, &key)).await
    }

    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        check_kv_key(store, key)?;
        validate_kv_value(&value)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::set(conn, &store, &key, &value))
            .await?
    }

    async fn delete(&self, store: &str, key: &str) -> Result<bool, Error> {
        check_kv_key(store, key)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::delete(conn, &store, &key))
            .await
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
        let (store, prefix) = (store.to_string(), prefix.to_string());
        let after = after.map(str::to_string);
        self.with(move |conn| kv_sql::keys(conn, &store, &prefix, after.as_deref(), limit))
            .await
    }

    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, Error> {
        check_kv_key(store, key)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::increment(conn, &store, &key, delta))
            .await?
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
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| {
            kv_sql::compare_and_swap(conn, &store, &key, expected.as_deref(), &new)
        })
        .await?
    }

    async fn get_many(
        &self,
        store: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        check_kv_batch(store, keys.iter().map(String::as_str))?;
        let store = store.to_string();
        self.with(move |conn| {
            keys.iter()
                .map(|key| kv_sql::get(conn, &store, key))
                .collect()
        })
        .await
    }

    async fn set_many(&self, store: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        check_kv_batch(store, pairs.iter().map(|(k, _)| k.as_str()))?;
        pairs
            .iter()
            .try_for_each(|(_, value)| validate_kv_value(value))?;
        let store = store.to_string();
        self.with(move |conn| kv_sql::set_many(conn, &store, &pairs))
            .await?
    }

    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), Error> {
        check_kv_batch(store, keys.iter().map(String::as_str))?;
        let store = store.to_string();
        self.with(move |conn| kv_sql::delete_many(conn, &store, &keys))
            .await
    }

    async fn stores(&self) -> Result<Vec<KvStoreInfo>, Error> {
        self.with(|conn| kv_sql::stores(conn)).await
    }
}
