//! Versions and aliases: several versions of one function serve side by side, an alias splits
//! traffic by weight, a deploy leaves an alias where it was, rollback moves it back, and
//! records and metrics name the version that ran.

use std::collections::HashMap;

use serde_json::json;
use tempfile::TempDir;

use crate::harness::{Server, error_of, stderr};

fn version_of(response: &reqwest::blocking::Response) -> u32 {
    let header = response
        .headers()
        .get("x-gust-version")
        .expect("x-gust-version");
    header.to_str().unwrap().parse().unwrap()
}

/// Three versions of `hello`, told apart by an env value.
fn three_versions(server: &Server) {
    for n in 1..=3 {
        server.deploy(
            "hello",
            "hello",
            json!({"public": true, "env": {"N": n.to_string()}}),
        );
    }
}

#[test]
fn an_alias_splits_traffic_and_rolls_back() {
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    three_versions(&server);

    // Any version by number; the bare name is the latest.
    for (target, expected) in [("hello", 3), ("hello@1", 1), ("hello@2", 2)] {
        let response = server.get(&format!("/fn/{target}")).send().unwrap();
        assert_eq!(response.status(), 200, "{target}");
        assert_eq!(version_of(&response), expected, "{target}");
    }

    let set = server.cli_ok(&["alias", "set", "hello", "live", "1", "--split", "2=10"]);
    assert!(set.contains("version 1 (90%), version 2 (10%)"), "{set}");
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for _ in 0..1000 {
        let response = server.get("/fn/hello@live").send().unwrap();
        assert_eq!(response.status(), 200);
        *counts.entry(version_of(&response)).or_default() += 1;
    }
    let canary = counts.get(&2).copied().unwrap_or(0);
    assert_eq!(
        counts.get(&1).copied().unwrap_or(0) + canary,
        1000,
        "{counts:?}"
    );
    assert!((50..=150).contains(&canary), "canary got {canary} of 1000");

    // A deploy leaves the alias where it was.
    server.deploy("hello", "hello", json!({"public": true, "env": {"N": "4"}}));
    let pinned = server.get("/fn/hello@live").send().unwrap();
    assert!([1, 2].contains(&version_of(&pinned)));
    assert_eq!(version_of(&server.get("/fn/hello").send().unwrap()), 4);

    // Promote, then roll back to where it was.
    server.cli_ok(&["alias", "set", "hello", "live", "2"]);
    for _ in 0..20 {
        assert_eq!(version_of(&server.get("/fn/hello@live").send().unwrap()), 2);
    }
    let rolled = server.cli_ok(&["rollback", "hello"]);
    assert!(rolled.contains("hello@live → version 1"), "{rolled}");
    assert_eq!(version_of(&server.get("/fn/hello@live").send().unwrap()), 1);
    let listed = server.cli_ok(&["alias", "ls", "hello"]);
    assert!(listed.contains("live"), "{listed}");

    // Aliases and their previous versions outlast a restart.
    drop(server);
    server = Server::start_in(data.path(), &[]);
    assert_eq!(version_of(&server.get("/fn/hello@live").send().unwrap()), 1);
    server.cli_ok(&["rollback", "hello"]);
    assert_eq!(version_of(&server.get("/fn/hello@live").send().unwrap()), 2);

    // Records, usage and metrics are per version.
    let records = server.admin_json("/v1/functions/hello/invocations?limit=5");
    assert_eq!(records[0]["version"], 2, "{records}");
    let usage = server.admin_json("/v1/usage?group_by=version");
    let count = |key: &str| {
        let lines = usage["lines"].as_array().unwrap();
        let line = lines.iter().find(|l| l["key"] == key);
        line.map_or(0, |l| l["invocations"].as_u64().unwrap())
    };
    // Version 2: `hello@2`, its share of the split, 20 after the promotion, one after the
    // last rollback, and maybe the one call while pinned.
    let expected = canary as u64 + 22;
    assert!(
        (expected..=expected + 1).contains(&count("hello@2")),
        "{usage}"
    );
    assert!(count("hello@1") >= 1000 - canary as u64, "{usage}");
    assert_eq!(count("hello@4"), 1, "{usage}");
    let metrics = server.get("/metrics").send().unwrap().text().unwrap();
    assert!(
        metrics.contains(r#"gust_invocations_total{function="hello",status="ok",version="1"}"#),
        "{metrics}"
    );
}

#[test]
fn aliases_and_versions_are_checked() {
    let server = Server::start();
    three_versions(&server);
    server.deploy("private", "hello", json!({}));
    let set = |alias: &str, body| {
        server
            .admin(
                reqwest::Method::PUT,
                &format!("/v1/functions/hello/aliases/{alias}"),
            )
            .json(&body)
            .send()
            .unwrap()
    };
    for (alias, body, status, says) in [
        ("live", json!({"version": 9}), 404, "no version 9"),
        (
            "live",
            json!({"version": 1, "split": {"version": 1, "percent": 5}}),
            400,
            "already",
        ),
        (
            "live",
            json!({"version": 1, "split": {"version": 2, "percent": 100}}),
            400,
            "1 to 99",
        ),
        ("Live", json!({"version": 1}), 400, "invalid alias name"),
        ("7", json!({"version": 1}), 400, "invalid alias name"),
    ] {
        let (got, _, message) = error_of(set(alias, body.clone()));
        assert_eq!(got, status, "{alias} {body}: {message}");
        assert!(message.contains(says), "{message}");
    }
    let (status, _, message) = error_of(server.get("/fn/hello@nope").send().unwrap());
    assert_eq!(
        (status, message.contains("no alias `nope`")),
        (404, true),
        "{message}"
    );
    let (status, _, message) = error_of(server.get("/fn/hello@9").send().unwrap());
    assert_eq!(
        (status, message.contains("no version 9")),
        (404, true),
        "{message}"
    );
    // A private function's aliases are as absent as the function to a caller without a token.
    let (status, _, message) = error_of(server.get("/fn/private@live").send().unwrap());
    assert_eq!(
        (status, message.contains("no function named")),
        (404, true),
        "{message}"
    );

    // Rollback needs somewhere to go back to; a route holds its alias.
    assert_eq!(set("live", json!({"version": 1})).status(), 200);
    let rollback = server.admin(
        reqwest::Method::POST,
        "/v1/functions/hello/aliases/live/rollback",
    );
    let (status, _, message) = error_of(rollback.send().unwrap());
    assert_eq!(status, 409, "{message}");
    server.cli_ok(&["route", "add", "GET /hello", "hello@live"]);
    let routed = server.get("/hello").send().unwrap();
    assert_eq!((routed.status().as_u16(), version_of(&routed)), (200, 1));
    let removed = server.cli(&["alias", "rm", "hello", "live"]);
    assert!(!removed.status.success());
    assert!(
        stderr(&removed).contains("calls hello@live"),
        "{}",
        stderr(&removed)
    );
    let bad_route = server.cli(&["route", "add", "GET /other", "hello@nope"]);
    assert!(
        stderr(&bad_route).contains("no alias `nope`"),
        "{}",
        stderr(&bad_route)
    );

    // Asynchronous invocations run the latest version.
    let (status, _, message) = error_of(server.post("/async/hello@live").send().unwrap());
    assert_eq!(
        (status, message.contains("latest version")),
        (400, true),
        "{message}"
    );
}

#[test]
fn a_pinned_version_keeps_its_warm_instances_across_deploys() {
    let server = Server::start();
    let config = json!({"public": true, "min_instances": 1});
    server.deploy("warm", "hello", config.clone());
    server.cli_ok(&["alias", "set", "warm", "live", "1"]);
    server.deploy(
        "warm",
        "hello",
        json!({"public": true, "min_instances": 1, "env": {"A": "b"}}),
    );
    let (warm, _) = server.wait_for_instances("warm", |(warm, _)| warm == 2);
    assert_eq!(
        warm, 2,
        "version 1 (aliased) and version 2 (latest) keep one each"
    );
    let response = server.get("/fn/warm@live").send().unwrap();
    assert_eq!(version_of(&response), 1);
    // Moving the alias to the latest releases version 1: one warm version is left.
    server.cli_ok(&["alias", "set", "warm", "live", "2"]);
    let (warm, _) = server.wait_for_instances("warm", |(warm, _)| warm == 1);
    assert_eq!(warm, 1);
}
