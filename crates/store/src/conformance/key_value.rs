//! Key-value stores: values kept per store and listed in pages, increments and
//! compare-and-swaps that lose no update, and bad input refused.

use std::sync::Arc;

use gust_core::{ErrorKind, KeyValue, MAX_KV_BATCH};

use super::{Fresh, each_on_a_fresh_store};

pub async fn run<K: KeyValue>(fresh: impl AsyncFn() -> Fresh<Arc<K>>) {
    each_on_a_fresh_store!(
        fresh,
        [
            values_are_kept_per_store_and_listed_in_pages,
            increments_from_many_tasks_are_all_counted,
            compare_and_swap_writes_only_over_what_was_expected,
            bad_names_keys_and_values_are_refused,
        ]
    );
}

async fn values_are_kept_per_store_and_listed_in_pages<K: KeyValue>(kv: &Arc<K>) {
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

async fn increments_from_many_tasks_are_all_counted<K: KeyValue>(kv: &Arc<K>) {
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

async fn compare_and_swap_writes_only_over_what_was_expected<K: KeyValue>(kv: &Arc<K>) {
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

async fn bad_names_keys_and_values_are_refused<K: KeyValue>(kv: &Arc<K>) {
    let too_big = vec![0; gust_core::MAX_KV_VALUE_BYTES + 1];
    let err = kv.set("s", "k", too_big).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLarge);
    assert!(kv.set("S!", "k", vec![]).await.is_err());
    assert!(kv.get("s", "").await.is_err());
    let many = (0..=MAX_KV_BATCH).map(|i| i.to_string()).collect();
    assert!(kv.get_many("s", many).await.is_err());
}
