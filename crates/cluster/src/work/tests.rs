//! The cluster's work queue against a nats-server of its own.

use gust_store::conformance::{self, Fresh};
use gust_store::{AttemptUpdate, NewAsync, WorkQueue};

use super::*;
use crate::test_server::NatsServer;

async fn fresh() -> Fresh<JetStreamWorkQueue> {
    let server = NatsServer::start();
    let client = server.connect().await;
    let max_payload = client.server_info().max_payload;
    let queue = JetStreamWorkQueue::open(&jetstream::new(client), "node-a", max_payload)
        .await
        .unwrap();
    Fresh {
        store: queue,
        keep: Box::new(server),
    }
}

fn new_async(id: &str, body: Vec<u8>) -> NewAsync {
    NewAsync {
        id: id.into(),
        function: "f".into(),
        origin: gust_core::Origin::ASYNC,
        request: gust_core::StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers: Vec::new(),
            body,
        },
        callback_url: None,
        max_retries: 0,
        enqueued_at_ms: 1,
        expires_at_ms: i64::MAX,
        limits: gust_store::BacklogLimits::default(),
    }
}

#[tokio::test]
async fn an_id_that_cannot_be_a_key_is_unknown() {
    let queue = fresh().await;
    for id in ["a b", "x.", "", "../etc"] {
        assert!(queue.store.async_invocation(id).await.unwrap().is_none());
        assert!(queue.store.cancel_async(id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn is_a_work_queue() {
    conformance::work_queue::run(fresh).await;
}

#[tokio::test]
async fn bodies_kept_with_the_state_or_apart_come_back_whole() {
    let queue = fresh().await;
    let (small, large) = (vec![7; 10], vec![8; INLINE_BODY as usize + 1]);
    for (id, body) in [("small", &small), ("large", &large)] {
        queue
            .store
            .enqueue(new_async(id, body.clone()))
            .await
            .unwrap();
    }
    let lease = Lease {
        node: "node-a".into(),
        until_ms: 10_000,
    };
    let claimed = queue.store.claim_due(1, &lease, 10, 10).await.unwrap();
    let body_of = |id: &str| {
        let found = claimed.iter().find(|c| c.id == id);
        found.map(|c| c.request.body.clone())
    };
    assert_eq!(body_of("small"), Some(small));
    assert_eq!(body_of("large"), Some(large.clone()));
    let read = queue.store.async_invocation("large").await.unwrap();
    assert_eq!(read.unwrap().request.body, large);
}

const NODE: &str = "node-a";

/// Enqueues `ids` and claims them as `NODE`.
async fn running(queue: &JetStreamWorkQueue, ids: &[&str]) {
    for id in ids {
        queue.enqueue(new_async(id, Vec::new())).await.unwrap();
    }
    queue.claim_due(1, &lease(), 10, 10).await.unwrap();
}

fn lease() -> Lease {
    Lease {
        node: NODE.into(),
        until_ms: i64::MAX,
    }
}

fn succeeded(now_ms: i64, result: Option<AsyncResult>) -> AttemptUpdate {
    AttemptUpdate {
        state: AsyncState::Succeeded,
        now_ms,
        next_attempt_at_ms: 0,
        error: None,
        result,
    }
}

#[tokio::test]
async fn what_a_node_finished_over_an_hour_ago_is_removed_as_it_renews() {
    let queue = fresh().await;
    running(&queue.store, &["old", "recent"]).await;
    for (id, ago_ms) in [("old", 2 * KEEP_FINISHED_MS), ("recent", 1_000)] {
        let done = succeeded(now_ms() - ago_ms, None);
        assert!(queue.store.finish_attempt(id, NODE, done).await.unwrap());
    }
    queue.store.renew_leases(&lease()).await.unwrap();
    let read = async |id| queue.store.async_invocation(id).await.unwrap();
    assert!(read("old").await.is_none());
    assert!(read("recent").await.is_some());
}

#[tokio::test]
async fn a_large_result_is_kept_apart_and_one_past_a_message_is_cut() {
    let queue = fresh().await;
    running(&queue.store, &["large", "huge"]).await;
    for (id, bytes) in [("large", 10_000), ("huge", 2 << 20)] {
        let result = AsyncResult {
            http_status: 200,
            headers: Vec::new(),
            body: "é".repeat(bytes / 2),
            body_base64: false,
            truncated: false,
        };
        let done = succeeded(2, Some(result));
        assert!(queue.store.finish_attempt(id, NODE, done).await.unwrap());
    }
    let result_of = async |id| {
        let read = queue.store.async_invocation(id).await.unwrap();
        read.unwrap().result.unwrap()
    };
    let large = result_of("large").await;
    assert_eq!((large.body.len(), large.truncated), (10_000, false));
    let huge = result_of("huge").await;
    assert!(huge.truncated && huge.body.len() < 1 << 20 && huge.body.len() > 900_000);
}
