//! Schedules: of the nodes that see one firing due, exactly one claims it.

use gust_core::Trigger;
use serde_json::{Map, Value, json};

use super::{Fresh, each_on_a_fresh_store};
use crate::{Catalog, Schedules};

pub async fn run<S: Catalog + Schedules>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [a_firing_is_claimed_once, of_many_claims_at_once_one_wins]
    );
}

fn state(next_fire_at_ms: i64) -> Map<String, Value> {
    let state = json!({"next_fire_at_ms": next_fire_at_ms});
    state.as_object().cloned().expect("an object")
}

async fn schedule(store: &impl Catalog, id: &str) {
    let trigger = Trigger {
        id: id.into(),
        function: "tick".into(),
        kind: "cron".into(),
        created_at_ms: 1,
        config: Map::new(),
        state: state(60_000),
    };
    store.add_trigger(trigger).await.unwrap();
}

async fn a_firing_is_claimed_once<S: Catalog + Schedules>(store: &S) {
    schedule(store, "t1").await;
    assert!(
        store
            .claim_firing("t1", &state(60_000), state(120_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_firing("t1", &state(60_000), state(120_000))
            .await
            .unwrap(),
        "the firing was claimed already"
    );
    let stored = store.triggers(None, Some("cron")).await.unwrap();
    assert_eq!(stored[0].state, state(120_000));
    assert!(
        store
            .claim_firing("t1", &state(120_000), state(180_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_firing("gone", &state(0), state(1))
            .await
            .unwrap()
    );
}

async fn of_many_claims_at_once_one_wins<S: Catalog + Schedules>(store: &S) {
    schedule(store, "t2").await;
    let seen = state(60_000);
    let claims = (0..16).map(|n| store.claim_firing("t2", &seen, state(60_001 + n)));
    let won = futures::future::try_join_all(claims).await.unwrap();
    assert_eq!(won.iter().filter(|claimed| **claimed).count(), 1);
}
