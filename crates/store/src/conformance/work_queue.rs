//! The work queue: due work claimed once, oldest first and within each function's share;
//! leases that keep claimed work from other nodes until they run out; retries when due, dead
//! letters and their replay, cancelling, the backlog's caps, and callbacks delivered until
//! done.

use gust_core::{
    AsyncInvocation, AsyncResult, AsyncState, AttemptError, ErrorKind, Origin, StoredRequest,
};

use super::{Fresh, each_on_a_fresh_store};
use crate::{AttemptUpdate, BacklogLimits, Lease, NewAsync, WorkQueue};

pub async fn run<S: WorkQueue>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [
            due_work_is_claimed_once_oldest_first_within_each_functions_share,
            a_failed_attempt_runs_again_when_due_and_a_dead_letter_can_be_replayed,
            an_event_given_up_in_place_is_a_dead_letter,
            cancelled_work_never_runs,
            claimed_work_is_another_nodes_only_once_its_lease_runs_out,
            a_restarted_node_releases_what_it_held,
            a_callback_is_delivered_until_it_is_done,
            the_backlog_caps_hold_on_every_path_a_row_takes,
            invocations_are_listed_newest_first,
        ]
    );
}

const NOW: i64 = 1_000_000;
/// The node most checks claim as, and how long its leases last.
const NODE: &str = "node-a";
const LEASE_MS: i64 = 10_000;

fn lease(node: &str, until_ms: i64) -> Lease {
    Lease {
        node: node.into(),
        until_ms,
    }
}

/// Claims as `NODE`, leased from `now_ms`.
async fn claim(
    store: &impl WorkQueue,
    now_ms: i64,
    limit: u32,
    per_function: u32,
) -> Vec<AsyncInvocation> {
    let lease = lease(NODE, now_ms + LEASE_MS);
    store
        .claim_due(now_ms, &lease, limit, per_function)
        .await
        .unwrap()
}

/// Ends `NODE`'s attempt, which must still be its own.
async fn finish(store: &impl WorkQueue, id: &str, update: AttemptUpdate) {
    assert!(
        store.finish_attempt(id, NODE, update).await.unwrap(),
        "{id} is {NODE}'s"
    );
}

fn new_async(id: &str, function: &str, enqueued_at_ms: i64) -> NewAsync {
    NewAsync {
        id: id.into(),
        function: function.into(),
        origin: Origin::ASYNC,
        request: StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: id.as_bytes().to_vec(),
        },
        callback_url: None,
        max_retries: 2,
        enqueued_at_ms,
        expires_at_ms: i64::MAX,
        limits: BacklogLimits::default(),
    }
}

fn ended(state: AsyncState, now_ms: i64) -> AttemptUpdate {
    AttemptUpdate {
        state,
        now_ms,
        next_attempt_at_ms: 0,
        error: None,
        result: None,
    }
}

fn failure(attempt: u32, at_ms: i64) -> AttemptError {
    AttemptError {
        attempt,
        at_ms,
        http_status: Some(500),
        message: format!("attempt {attempt} failed"),
    }
}

fn ids(claimed: &[AsyncInvocation]) -> Vec<&str> {
    claimed.iter().map(|c| c.id.as_str()).collect()
}

async fn state_of(store: &impl WorkQueue, id: &str) -> AsyncState {
    store
        .async_invocation(id)
        .await
        .unwrap()
        .expect("stored")
        .state
}

async fn due_work_is_claimed_once_oldest_first_within_each_functions_share(store: &impl WorkQueue) {
    for (id, function, at) in [
        ("a1", "a", 1),
        ("a2", "a", 2),
        ("a3", "a", 3),
        ("b1", "b", 4),
    ] {
        store.enqueue(new_async(id, function, at)).await.unwrap();
    }
    let claimed = claim(store, NOW, 10, 2).await;
    assert_eq!(
        ids(&claimed),
        ["a1", "b1", "a2"],
        "functions take turns, oldest first"
    );
    assert!(
        claimed
            .iter()
            .all(|c| c.state == AsyncState::Running && c.attempts == 1)
    );
    assert_eq!(
        claimed[0].request.body, b"a1",
        "the request comes back whole"
    );
    assert_eq!(claimed[0].request.headers[0].0, "content-type");
    assert_eq!(claim(store, NOW, 10, 2).await, [], "a3 waits for a's share");

    finish(store, "a1", ended(AsyncState::Succeeded, NOW)).await;
    assert_eq!(state_of(store, "a1").await, AsyncState::Succeeded);
    assert_eq!(ids(&claim(store, NOW, 10, 2).await), ["a3"]);
    assert_eq!(claim(store, NOW, 10, 2).await, []);
    assert_eq!(
        store.queue_depth().await.unwrap(),
        (0, None),
        "nothing waits"
    );
}

async fn a_failed_attempt_runs_again_when_due_and_a_dead_letter_can_be_replayed(
    store: &impl WorkQueue,
) {
    store.enqueue(new_async("x", "f", 5)).await.unwrap();
    claim(store, NOW, 10, 10).await;
    let retry = AttemptUpdate {
        next_attempt_at_ms: NOW + 1_000,
        error: Some(failure(1, NOW)),
        ..ended(AsyncState::Failed, NOW)
    };
    finish(store, "x", retry).await;
    assert_eq!(claim(store, NOW, 10, 10).await, [], "not due yet");
    assert_eq!(store.next_retry_at().await.unwrap(), Some(NOW + 1_000));
    assert_eq!(store.queue_depth().await.unwrap(), (1, Some(5)));

    let again = claim(store, NOW + 1_000, 10, 10).await;
    assert_eq!(ids(&again), ["x"]);
    assert_eq!((again[0].attempts, again[0].errors.len()), (2, 1));
    let dead = AttemptUpdate {
        error: Some(failure(2, NOW + 1_000)),
        ..ended(AsyncState::Dead, NOW + 1_000)
    };
    finish(store, "x", dead).await;
    let buried = store.async_invocation("x").await.unwrap().unwrap();
    assert_eq!(buried.state, AsyncState::Dead);
    assert_eq!(buried.errors, [failure(1, NOW), failure(2, NOW + 1_000)]);
    assert_eq!(buried.finished_at_ms, Some(NOW + 1_000));
    assert_eq!(store.next_retry_at().await.unwrap(), None);

    assert_eq!(
        store
            .replay_dead("f", vec!["y".into()], i64::MAX)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.replay_dead("f", Vec::new(), i64::MAX).await.unwrap(),
        1
    );
    let replayed = claim(store, NOW + 2_000, 10, 10).await;
    assert_eq!(ids(&replayed), ["x"]);
    assert_eq!(
        replayed[0].attempts, 1,
        "a replay starts its attempts afresh"
    );
}

async fn an_event_given_up_in_place_is_a_dead_letter(store: &impl WorkQueue) {
    let errors = vec![failure(1, 10), failure(2, 20)];
    store
        .bury(new_async("e", "f", 5), errors.clone())
        .await
        .unwrap();
    let dead = store.async_invocation("e").await.unwrap().unwrap();
    assert_eq!((dead.state, dead.attempts), (AsyncState::Dead, 2));
    assert_eq!(dead.errors, errors);
    assert_eq!(claim(store, NOW, 10, 10).await, []);
    assert_eq!(
        store
            .replay_dead("f", vec!["e".into()], i64::MAX)
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids(&claim(store, NOW, 10, 10).await), ["e"]);
}

async fn cancelled_work_never_runs(store: &impl WorkQueue) {
    store.enqueue(new_async("c", "f", 1)).await.unwrap();
    store.enqueue(new_async("r", "f", 2)).await.unwrap();
    assert_eq!(
        store.cancel_async("c").await.unwrap(),
        Some(AsyncState::Cancelled)
    );
    assert_eq!(ids(&claim(store, NOW, 10, 10).await), ["r"]);
    assert_eq!(
        store.cancel_async("r").await.unwrap(),
        Some(AsyncState::Running),
        "a running attempt is not cancelled"
    );
    assert_eq!(store.cancel_async("unknown").await.unwrap(), None);
}

async fn claimed_work_is_another_nodes_only_once_its_lease_runs_out(store: &impl WorkQueue) {
    store.enqueue(new_async("w", "f", 1)).await.unwrap();
    let until = NOW + LEASE_MS;
    assert_eq!(ids(&claim(store, NOW, 10, 10).await), ["w"]);
    let other = lease("node-b", until);
    assert_eq!(store.claim_due(NOW, &other, 10, 10).await.unwrap(), []);

    // Renewed, the lease outlives its first end; not renewed, it runs out.
    assert_eq!(
        store
            .renew_leases(&lease(NODE, until + 5_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.renew_leases(&lease("node-c", until)).await.unwrap(),
        0
    );
    assert_eq!(store.expire_leases(until + 1, "node-b").await.unwrap(), 0);
    assert_eq!(
        store.expire_leases(until + 5_001, NODE).await.unwrap(),
        0,
        "a node never expires its own leases"
    );
    assert_eq!(
        store.expire_leases(until + 5_001, "node-b").await.unwrap(),
        1
    );

    let later = lease("node-b", until + 20_000);
    let taken = store
        .claim_due(until + 5_001, &later, 10, 10)
        .await
        .unwrap();
    assert_eq!(ids(&taken), ["w"]);
    assert_eq!(taken[0].attempts, 2, "the lost attempt counts");
    let too_late = ended(AsyncState::Succeeded, until + 6_000);
    assert!(
        !store.finish_attempt("w", NODE, too_late).await.unwrap(),
        "a node cannot finish work another took over"
    );
    assert_eq!(state_of(store, "w").await, AsyncState::Running);
    let done = ended(AsyncState::Succeeded, until + 7_000);
    assert!(store.finish_attempt("w", "node-b", done).await.unwrap());
    assert_eq!(state_of(store, "w").await, AsyncState::Succeeded);
}

async fn a_restarted_node_releases_what_it_held(store: &impl WorkQueue) {
    store.enqueue(new_async("mine", "f", 1)).await.unwrap();
    store.enqueue(new_async("theirs", "f", 2)).await.unwrap();
    assert_eq!(ids(&claim(store, NOW, 1, 10).await), ["mine"]);
    let other = lease("node-b", NOW + LEASE_MS);
    store.claim_due(NOW, &other, 1, 10).await.unwrap();

    assert_eq!(store.release_leases(NODE).await.unwrap(), 1);
    assert_eq!(state_of(store, "theirs").await, AsyncState::Running);
    let again = claim(store, NOW, 10, 10).await;
    assert_eq!(
        ids(&again),
        ["mine"],
        "due again at once, before its lease ran out"
    );
    assert_eq!(again[0].attempts, 2);
}

async fn a_callback_is_delivered_until_it_is_done(store: &impl WorkQueue) {
    let with_callback = NewAsync {
        callback_url: Some("http://127.0.0.1:9/done".into()),
        ..new_async("cb", "f", 1)
    };
    store.enqueue(with_callback).await.unwrap();
    store.enqueue(new_async("plain", "f", 2)).await.unwrap();
    claim(store, NOW, 10, 10).await;
    assert_eq!(store.due_callbacks(NOW, 10).await.unwrap(), []);
    let result = AsyncResult {
        http_status: 200,
        headers: Vec::new(),
        body: "ok".into(),
        body_base64: false,
        truncated: false,
    };
    for id in ["cb", "plain"] {
        let succeeded = AttemptUpdate {
            result: Some(result.clone()),
            ..ended(AsyncState::Succeeded, NOW)
        };
        finish(store, id, succeeded).await;
    }
    let due = store.due_callbacks(NOW, 10).await.unwrap();
    assert_eq!(
        ids(&due),
        ["cb"],
        "only an invocation with a callback has one due"
    );
    assert_eq!(due[0].result.as_ref(), Some(&result));
    assert_eq!(store.next_callback_at().await.unwrap(), Some(NOW));

    store.callback_tried("cb", Some(NOW + 500)).await.unwrap();
    assert_eq!(store.due_callbacks(NOW, 10).await.unwrap(), []);
    assert_eq!(store.next_callback_at().await.unwrap(), Some(NOW + 500));
    assert_eq!(
        ids(&store.due_callbacks(NOW + 500, 10).await.unwrap()),
        ["cb"]
    );
    store.callback_tried("cb", None).await.unwrap();
    assert_eq!(store.next_callback_at().await.unwrap(), None);
    let delivered = store.async_invocation("cb").await.unwrap().unwrap();
    assert_eq!(delivered.callback_attempts, 2);
}

async fn the_backlog_caps_hold_on_every_path_a_row_takes(store: &impl WorkQueue) {
    let limits = BacklogLimits {
        per_function: 3,
        per_function_bytes: 100,
        node_bytes: 1000,
    };
    let sized = |id: &str, bytes: usize, limits: BacklogLimits| NewAsync {
        request: StoredRequest {
            body: vec![b'x'; bytes],
            ..new_async(id, "hello", 0).request
        },
        max_retries: 0,
        limits,
        ..new_async(id, "hello", 0)
    };
    for id in ["a", "b", "c"] {
        store.enqueue(sized(id, 10, limits)).await.unwrap();
    }
    let refused = store.enqueue(sized("d", 10, limits)).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Throttled);
    assert!(
        refused
            .message
            .contains("3 asynchronous invocations waiting"),
        "{}",
        refused.message
    );
    assert!(
        store.async_invocation("d").await.unwrap().is_none(),
        "nothing is stored"
    );

    // Cancelling one frees its place; running ones still count.
    store.cancel_async("a").await.unwrap();
    store.enqueue(sized("d", 10, limits)).await.unwrap();
    assert_eq!(claim(store, NOW, 10, 10).await.len(), 3);
    assert!(store.enqueue(sized("e", 10, limits)).await.is_err());
    finish(store, "b", ended(AsyncState::Dead, NOW)).await;
    store.enqueue(sized("e", 10, limits)).await.unwrap();
    // A replayed dead letter waits again, and counts again.
    assert_eq!(
        store
            .replay_dead("hello", Vec::new(), i64::MAX)
            .await
            .unwrap(),
        1
    );
    assert!(store.enqueue(sized("f", 10, limits)).await.is_err());

    let roomy = BacklogLimits {
        per_function: 100,
        ..limits
    };
    let over_bytes = store.enqueue(sized("g", 80, roomy)).await.unwrap_err();
    assert!(over_bytes.message.contains("MiB"), "{}", over_bytes.message);
}

async fn invocations_are_listed_newest_first(store: &impl WorkQueue) {
    for (id, at) in [("l1", 1), ("l2", 2), ("l3", 3)] {
        store.enqueue(new_async(id, "f", at)).await.unwrap();
    }
    store.enqueue(new_async("other", "g", 4)).await.unwrap();
    store.cancel_async("l2").await.unwrap();
    let listed = store.async_invocations("f", None, 10).await.unwrap();
    assert_eq!(ids(&listed), ["l3", "l2", "l1"]);
    let queued = store
        .async_invocations("f", Some(AsyncState::Queued), 1)
        .await
        .unwrap();
    assert_eq!(ids(&queued), ["l3"]);
}
