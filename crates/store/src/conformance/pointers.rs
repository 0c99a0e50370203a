//! Aliases and routes: what a call's name or path leads to, set on one node and read on all.

use gust_core::{Alias, Route, Split};

use super::catalog::new_version;
use super::{Fresh, each_on_a_fresh_store};
use crate::{AliasStore, Catalog, RouteStore};

pub async fn run<S: Catalog + AliasStore + RouteStore>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [
            an_alias_is_set_moved_and_removed,
            aliases_go_with_their_function,
            routes_are_listed_oldest_first_and_removed
        ]
    );
}

fn alias(function: &str, name: &str, version: u32, split: Option<Split>) -> Alias {
    Alias {
        function: function.into(),
        name: name.into(),
        version,
        split,
        previous: None,
        updated_at_ms: 1,
    }
}

fn route(id: &str, path: &str, created_at_ms: i64) -> Route {
    Route {
        id: id.into(),
        method: "GET".into(),
        path: path.into(),
        host: Some("api.example.com".into()),
        function: "hello".into(),
        cors_origins: vec!["*".into()],
        created_at_ms,
    }
}

async fn an_alias_is_set_moved_and_removed<S: Catalog + AliasStore>(store: &S) {
    store.deploy(new_version("hello", "a", 128)).await.unwrap();
    store.deploy(new_version("hello", "b", 128)).await.unwrap();
    store
        .put_alias(alias("hello", "live", 1, None))
        .await
        .unwrap();
    store
        .put_alias(alias("hello", "beta", 2, None))
        .await
        .unwrap();
    let split = Some(Split {
        version: 1,
        percent: 10,
    });
    let moved = Alias {
        previous: Some(1),
        ..alias("hello", "live", 2, split)
    };
    store.put_alias(moved.clone()).await.unwrap();
    let aliases = store.aliases("hello").await.unwrap();
    assert_eq!(aliases, vec![alias("hello", "beta", 2, None), moved]);

    assert!(store.delete_alias("hello", "beta").await.unwrap());
    assert!(!store.delete_alias("hello", "beta").await.unwrap());
    assert_eq!(store.aliases("hello").await.unwrap().len(), 1);
    assert!(store.aliases("other").await.unwrap().is_empty());
}

async fn aliases_go_with_their_function<S: Catalog + AliasStore>(store: &S) {
    store.deploy(new_version("hello", "a", 128)).await.unwrap();
    store
        .put_alias(alias("hello", "live", 1, None))
        .await
        .unwrap();
    assert!(store.delete_function("hello").await.unwrap());
    store.deploy(new_version("hello", "a", 128)).await.unwrap();
    assert!(
        store.aliases("hello").await.unwrap().is_empty(),
        "a function made again starts without its old aliases"
    );
}

async fn routes_are_listed_oldest_first_and_removed<S: RouteStore>(store: &S) {
    store.create_route(route("r2", "/b", 20)).await.unwrap();
    store.create_route(route("r1", "/a", 10)).await.unwrap();
    let routes = store.routes().await.unwrap();
    assert_eq!(routes, vec![route("r1", "/a", 10), route("r2", "/b", 20)]);
    assert!(store.delete_route("r1").await.unwrap());
    assert!(!store.delete_route("r1").await.unwrap());
    assert_eq!(store.routes().await.unwrap(), vec![route("r2", "/b", 20)]);
}
