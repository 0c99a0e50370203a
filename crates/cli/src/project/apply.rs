//! Makes a function's routes and triggers those of its manifest: what is missing is added,
//! what the manifest no longer has is removed, and what is already there is left alone (so a
//! second deploy changes nothing).

use gust_core::{Route, Trigger};
use serde_json::{Map, Value};

use super::Manifest;
use super::manifest::RouteSpec;
use crate::client::Client;
use crate::route;

pub async fn routes(client: &Client, manifest: &Manifest) -> anyhow::Result<()> {
    let all: Vec<Route> = client.get_json("/v1/routes").await?;
    let owned: Vec<Route> = all
        .into_iter()
        .filter(|r| function_of(&r.function) == manifest.name)
        .collect();
    let (missing, stale) = reconcile(&manifest.routes, &owned, |wanted, route| {
        same_route(manifest, wanted, route)
    });
    // Stale ones first: a route whose settings changed is removed before it is added again.
    for route in &stale {
        client.delete(&format!("/v1/routes/{}", route.id)).await?;
    }
    for wanted in &missing {
        let body = route::body(
            &wanted.route,
            &manifest.route_target(wanted),
            wanted.host.as_deref(),
            &wanted.cors_origins,
        )?;
        let request = client
            .request(reqwest::Method::POST, "/v1/routes")
            .json(&body);
        client.send(request).await?;
    }
    report("routes", missing.len(), stale.len(), manifest.routes.len());
    Ok(())
}

pub async fn triggers(client: &Client, manifest: &Manifest) -> anyhow::Result<()> {
    let name = &manifest.name;
    let owned: Vec<Trigger> = client
        .get_json(&format!("/v1/triggers?function={name}"))
        .await?;
    let (missing, stale) = reconcile(&manifest.triggers, &owned, same_trigger);
    for trigger in &stale {
        client
            .delete(&format!("/v1/triggers/{}", trigger.id))
            .await?;
    }
    for wanted in &missing {
        let path = format!("/v1/functions/{name}/triggers");
        client
            .send(client.request(reqwest::Method::POST, &path).json(wanted))
            .await?;
    }
    report(
        "triggers",
        missing.len(),
        stale.len(),
        manifest.triggers.len(),
    );
    Ok(())
}

fn report(what: &str, added: usize, removed: usize, wanted: usize) {
    if added + removed > 0 || wanted > 0 {
        let kept = wanted - added;
        println!("{what}: {added} added, {removed} removed, {kept} unchanged");
    }
}

/// Which of `wanted` nothing in `existing` matches, and which of `existing` nothing wanted.
fn reconcile<'a, W, E>(
    wanted: &'a [W],
    existing: &'a [E],
    same: impl Fn(&W, &E) -> bool,
) -> (Vec<&'a W>, Vec<&'a E>) {
    let missing = wanted
        .iter()
        .filter(|w| !existing.iter().any(|e| same(w, e)))
        .collect();
    let stale = existing
        .iter()
        .filter(|e| !wanted.iter().any(|w| same(w, e)))
        .collect();
    (missing, stale)
}

/// `NAME` of a target `NAME`, `NAME@ALIAS` or `NAME@3`.
fn function_of(target: &str) -> &str {
    target.split('@').next().unwrap_or(target)
}

fn same_route(manifest: &Manifest, wanted: &RouteSpec, route: &Route) -> bool {
    let Some((method, path)) = route::split_spec(&wanted.route).ok() else {
        return false;
    };
    method.eq_ignore_ascii_case(&route.method)
        && path == route.path
        && wanted.host == route.host
        && wanted.cors_origins == route.cors_origins
        && manifest.route_target(wanted) == route.function
}

/// A trigger is the wanted one when it has its kind and every setting it names (its source
/// may have added defaults; a webhook's secret is never shown, so it cannot be compared).
fn same_trigger(wanted: &Map<String, Value>, trigger: &Trigger) -> bool {
    wanted.get("kind").and_then(Value::as_str) == Some(trigger.kind.as_str())
        && wanted
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "kind" | "secret"))
            .all(|(key, value)| trigger.config.get(key) == Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reconcile_adds_what_is_missing_and_removes_what_is_not_wanted() {
        let wanted = [1, 2, 3];
        let existing = [2, 3, 4];
        let (missing, stale) = reconcile(&wanted, &existing, |w, e| w == e);
        assert_eq!(missing, [&1]);
        assert_eq!(stale, [&4]);
    }

    #[test]
    fn a_trigger_matches_on_its_kind_and_the_settings_it_names() {
        let trigger = Trigger {
            id: "t1".into(),
            function: "f".into(),
            kind: "cron".into(),
            created_at_ms: 0,
            config: json!({"cron": "0 * * * *", "timezone": "UTC"})
                .as_object()
                .unwrap()
                .clone(),
            state: Map::new(),
        };
        let wanted = |v: Value| v.as_object().unwrap().clone();
        assert!(same_trigger(
            &wanted(json!({"kind": "cron", "cron": "0 * * * *"})),
            &trigger
        ));
        assert!(!same_trigger(
            &wanted(json!({"kind": "cron", "cron": "5 * * * *"})),
            &trigger
        ));
        assert!(!same_trigger(&wanted(json!({"kind": "webhook"})), &trigger));
    }

    #[test]
    fn targets_name_their_function() {
        assert_eq!(function_of("todo@live"), "todo");
        assert_eq!(function_of("todo"), "todo");
    }
}
