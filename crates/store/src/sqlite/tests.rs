//! The embedded store passes every concern's conformance suite; and what only it does.

use gust_core::{ErrorKind, Origin, StoredRequest};
use rusqlite::Connection;

use super::SqliteStore;
use crate::conformance::{self, Fresh};
use crate::{BacklogLimits, Lease, NewAsync, WorkQueue};

async fn fresh() -> Fresh<SqliteStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("gust.db")).unwrap();
    Fresh {
        store,
        keep: Box::new(dir),
    }
}

#[tokio::test]
async fn is_a_catalog() {
    conformance::catalog::run(fresh).await;
}

#[tokio::test]
async fn keeps_key_values() {
    conformance::key_value::run(async || {
        let Fresh { store, keep } = fresh().await;
        Fresh {
            store: std::sync::Arc::new(store),
            keep,
        }
    })
    .await;
}

#[tokio::test]
async fn keeps_tokens_and_secrets() {
    conformance::access::run(fresh).await;
}

#[tokio::test]
async fn keeps_aliases_and_routes() {
    conformance::pointers::run(fresh).await;
}

#[tokio::test]
async fn keeps_records() {
    conformance::records::run(fresh).await;
}

#[tokio::test]
async fn is_a_work_queue() {
    conformance::work_queue::run(fresh).await;
}

#[tokio::test]
async fn claims_each_firing_once() {
    conformance::schedules::run(fresh).await;
}

#[tokio::test]
async fn work_running_in_a_database_from_before_leases_is_due_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gust.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .enqueue(queued("old", BacklogLimits::default()))
        .await
        .unwrap();
    let lease = Lease {
        node: "n".into(),
        until_ms: i64::MAX,
    };
    assert_eq!(store.claim_due(0, &lease, 1, 1).await.unwrap().len(), 1);
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "ALTER TABLE async_invocations DROP COLUMN lease_node;
             ALTER TABLE async_invocations DROP COLUMN lease_until_ms;",
        )
        .unwrap();
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.expire_leases(1, "n").await.unwrap(), 1);
    assert_eq!(reopened.claim_due(1, &lease, 1, 1).await.unwrap().len(), 1);
}

fn queued(id: &str, limits: BacklogLimits) -> NewAsync {
    NewAsync {
        id: id.into(),
        function: "hello".into(),
        origin: Origin::ASYNC,
        request: StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers: Vec::new(),
            body: b"x".to_vec(),
        },
        callback_url: None,
        max_retries: 0,
        enqueued_at_ms: 0,
        expires_at_ms: i64::MAX,
        limits,
    }
}

#[tokio::test]
async fn a_database_from_before_the_backlog_table_gets_it_counted_from_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gust.db");
    let limits = BacklogLimits {
        per_function: 1,
        ..Default::default()
    };
    SqliteStore::open(&path)
        .unwrap()
        .enqueue(queued("a", limits))
        .await
        .unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE async_backlog")
        .unwrap();
    let reopened = SqliteStore::open(&path).unwrap();
    let refused = reopened.enqueue(queued("b", limits)).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Throttled);
}
