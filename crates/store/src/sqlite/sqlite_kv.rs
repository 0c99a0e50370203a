//! The embedded store as the key-value stores' home: checks, then SQL (kv_sql.rs).

use async_trait::async_trait;
use gust_core::{
    Error, KeyPage, KeyValue, KvStoreInfo, MAX_KV_BATCH, validate_kv_key, validate_kv_store_name,
    validate_kv_value,
};

use super::{SqliteStore, kv_sql};

fn check_key(store: &str, key: &str) -> Result<(), Error> {
    validate_kv_store_name(store)?;
    validate_kv_key(key)
}

fn check_batch(store: &str, keys: &[&str]) -> Result<(), Error> {
    if keys.len() > MAX_KV_BATCH {
        return Err(Error::invalid(format!(
            "a batch holds at most {MAX_KV_BATCH} keys, not {}",
            keys.len()
        )));
    }
    keys.iter().try_for_each(|key| check_key(store, key))
}

#[async_trait]
impl KeyValue for SqliteStore {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_key(store, key)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::get(conn, &store, &key)).await
    }

    async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        check_key(store, key)?;
        validate_kv_value(&value)?;
        let (store, key) = (store.to_string(), key.to_string());
        self.with(move |conn| kv_sql::set(conn, &store, &key, &value))
            .await?
    }

    async fn delete(&self, store: &str, key: &str) -> Result<bool, Error> {
        check_key(store, key)?;
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
        check_key(store, key)?;
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
        check_key(store, key)?;
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
        check_batch(store, &keys.iter().map(String::as_str).collect::<Vec<_>>())?;
        let store = store.to_string();
        self.with(move |conn| {
            keys.iter()
                .map(|key| kv_sql::get(conn, &store, key))
                .collect()
        })
        .await
    }

    async fn set_many(&self, store: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        check_batch(
            store,
            &pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        )?;
        pairs
            .iter()
            .try_for_each(|(_, value)| validate_kv_value(value))?;
        let store = store.to_string();
        self.with(move |conn| kv_sql::set_many(conn, &store, &pairs))
            .await?
    }

    async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), Error> {
        check_batch(store, &keys.iter().map(String::as_str).collect::<Vec<_>>())?;
        let store = store.to_string();
        self.with(move |conn| kv_sql::delete_many(conn, &store, &keys))
            .await
    }

    async fn stores(&self) -> Result<Vec<KvStoreInfo>, Error> {
        self.with(|conn| kv_sql::stores(conn)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gust_core::ErrorKind;

    use super::*;

    fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        (dir, Arc::new(store))
    }

    #[tokio::test]
    async fn values_are_kept_per_store_and_listed_in_pages() {
        let (_dir, kv) = open();
        for i in 0..5 {
            kv.set("todos", &format!("todo:{i}"), vec![i])
                .await
                .unwrap();
        }
        kv.set("todos", "other", b"x".to_vec()).await.unwrap();
        kv.set("elsewhere", "todo:0", b"y".to_vec()).await.unwrap();
        assert_eq!(kv.get("todos", "todo:3").await.unwrap(), Some(vec![3]));
        assert_eq!(
            kv.get("elsewhere", "todo:0").await.unwrap(),
            Some(b"y".to_vec())
        );
        let first = kv.keys("todos", "todo:", None, 3).await.unwrap();
        assert_eq!(first.keys, ["todo:0", "todo:1", "todo:2"]);
        let next = first.next.as_deref();
        let second = kv.keys("todos", "todo:", next, 3).await.unwrap();
        assert_eq!(second.keys, ["todo:3", "todo:4"]);
        assert_eq!(second.next, None);
        assert!(kv.delete("todos", "todo:0").await.unwrap());
        assert!(!kv.exists("todos", "todo:0").await.unwrap());
        let stores = kv.stores().await.unwrap();
        assert_eq!((stores[1].name.as_str(), stores[1].keys), ("todos", 5));
    }

    #[tokio::test]
    async fn increments_from_many_tasks_are_all_counted() {
        let (_dir, kv) = open();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let kv = kv.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        kv.increment("counters", "hits", 1).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            kv.get("counters", "hits").await.unwrap(),
            Some(b"800".to_vec())
        );
        kv.set("counters", "name", b"abc".to_vec()).await.unwrap();
        let err = kv.increment("counters", "name", 1).await.unwrap_err();
        assert!(err.message.contains("not a decimal integer"), "{err}");
    }

    #[tokio::test]
    async fn compare_and_swap_writes_only_over_what_was_expected() {
        let (_dir, kv) = open();
        assert!(
            kv.compare_and_swap("s", "k", None, b"1".to_vec())
                .await
                .unwrap()
        );
        assert!(
            !kv.compare_and_swap("s", "k", None, b"2".to_vec())
                .await
                .unwrap()
        );
        let stale = Some(b"0".to_vec());
        assert!(
            !kv.compare_and_swap("s", "k", stale, b"2".to_vec())
                .await
                .unwrap()
        );
        let current = Some(b"1".to_vec());
        assert!(
            kv.compare_and_swap("s", "k", current, b"2".to_vec())
                .await
                .unwrap()
        );
        assert_eq!(kv.get("s", "k").await.unwrap(), Some(b"2".to_vec()));
    }

    #[tokio::test]
    async fn bad_names_keys_and_values_are_refused() {
        let (_dir, kv) = open();
        let too_big = vec![0; gust_core::MAX_KV_VALUE_BYTES + 1];
        let err = kv.set("s", "k", too_big).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooLarge);
        assert!(kv.set("S!", "k", vec![]).await.is_err());
        assert!(kv.get("s", "").await.is_err());
        let many = (0..=MAX_KV_BATCH).map(|i| i.to_string()).collect();
        assert!(kv.get_many("s", many).await.is_err());
    }
}
