//! The catalog: versions made only by a change, functions deleted with what hangs on them,
//! triggers listed and kept with their state.

use gust_core::{FunctionConfig, Runtime, Trigger};
use serde_json::{Map, Value, json};

use super::{Fresh, each_on_a_fresh_store};
use crate::{Catalog, NewVersion};

pub async fn run<S: Catalog>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [
            a_deploy_makes_a_version_only_when_something_changed,
            a_deleted_function_takes_its_versions_and_triggers,
            triggers_are_listed_by_function_and_kind_and_keep_their_state,
        ]
    );
}

pub fn new_version(function: &str, sha: &str, memory_mb: u32) -> NewVersion {
    NewVersion {
        function: function.into(),
        runtime: Runtime::Wasm,
        artifact_sha256: sha.into(),
        artifact_size: 3,
        config: FunctionConfig {
            memory_mb,
            ..Default::default()
        },
    }
}

fn trigger(id: &str, function: &str, kind: &str) -> Trigger {
    Trigger {
        id: id.into(),
        function: function.into(),
        kind: kind.into(),
        created_at_ms: 1,
        config: as_map(json!({"topic": id})),
        state: Map::new(),
    }
}

fn as_map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

async fn a_deploy_makes_a_version_only_when_something_changed(store: &impl Catalog) {
    store.ping().await.expect("ping");
    let first = store.deploy(new_version("hello", "aa", 128)).await.unwrap();
    assert!(first.created);
    assert_eq!(first.version.number, 1);
    let again = store.deploy(new_version("hello", "aa", 128)).await.unwrap();
    assert!(
        !again.created,
        "the same artifact and settings make no version"
    );
    assert_eq!(again.version.number, 1);
    let resized = store.deploy(new_version("hello", "aa", 256)).await.unwrap();
    assert!(resized.created);
    assert_eq!(resized.version.number, 2);
    let recoded = store.deploy(new_version("hello", "bb", 256)).await.unwrap();
    assert_eq!(recoded.version.number, 3);

    let info = store.function("hello").await.unwrap().expect("deployed");
    assert_eq!(info.latest.number, 3);
    assert_eq!(info.latest.config.memory_mb, 256);
    let numbers: Vec<u32> = store
        .versions("hello")
        .await
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    store.deploy(new_version("echo", "cc", 128)).await.unwrap();
    let names: Vec<String> = store
        .functions()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["echo", "hello"], "functions are listed by name");
    assert!(store.function("nobody").await.unwrap().is_none());
    for impossible in ["", "a b", ".", "hello."] {
        let found = store.function(impossible).await;
        assert!(found.unwrap().is_none(), "{impossible:?} names no function");
    }
}

async fn a_deleted_function_takes_its_versions_and_triggers(store: &impl Catalog) {
    store.deploy(new_version("hello", "aa", 128)).await.unwrap();
    store.deploy(new_version("other", "bb", 128)).await.unwrap();
    store
        .add_trigger(trigger("t1", "hello", "cron"))
        .await
        .unwrap();
    store
        .add_trigger(trigger("t2", "other", "cron"))
        .await
        .unwrap();
    assert!(store.artifact_in_use("aa").await.unwrap());

    assert!(store.delete_function("hello").await.unwrap());
    assert!(store.function("hello").await.unwrap().is_none());
    assert!(store.versions("hello").await.unwrap().is_empty());
    assert!(
        store
            .triggers(Some("hello"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.artifact_in_use("aa").await.unwrap());
    assert!(!store.delete_function("hello").await.unwrap(), "it is gone");

    assert!(
        store.artifact_in_use("bb").await.unwrap(),
        "others keep theirs"
    );
    assert_eq!(store.triggers(None, None).await.unwrap().len(), 1);
}

async fn triggers_are_listed_by_function_and_kind_and_keep_their_state(store: &impl Catalog) {
    for (id, function, kind) in [
        ("t1", "a", "cron"),
        ("t2", "a", "kafka"),
        ("t3", "b", "cron"),
    ] {
        store
            .add_trigger(trigger(id, function, kind))
            .await
            .unwrap();
    }
    let ids = |triggers: Vec<Trigger>| triggers.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.triggers(None, None).await.unwrap()),
        ["t1", "t2", "t3"]
    );
    assert_eq!(
        ids(store.triggers(Some("a"), None).await.unwrap()),
        ["t1", "t2"]
    );
    assert_eq!(
        ids(store.triggers(None, Some("cron")).await.unwrap()),
        ["t1", "t3"]
    );
    assert_eq!(
        ids(store.triggers(Some("a"), Some("cron")).await.unwrap()),
        ["t1"]
    );

    let state = as_map(json!({"next_fire_at_ms": 60_000, "offsets": [1, 2]}));
    store.set_trigger_state("t2", state.clone()).await.unwrap();
    let stored = store.triggers(Some("a"), Some("kafka")).await.unwrap();
    assert_eq!(stored[0].state, state);
    assert_eq!(stored[0].config, as_map(json!({"topic": "t2"})));

    assert!(store.delete_trigger("t2").await.unwrap());
    assert!(!store.delete_trigger("t2").await.unwrap());
    assert_eq!(ids(store.triggers(None, None).await.unwrap()), ["t1", "t3"]);
}
