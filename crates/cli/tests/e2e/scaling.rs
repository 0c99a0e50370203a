//! Autoscaling: instances started on demand up to a maximum, kept warm down to a minimum,
//! stopped after an idle timeout (to zero), and requests over a function's limit queued or
//! refused with 429.

use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Server, fixture_dir, wait_until};

fn is_cold(server: &Server, path: &str) -> bool {
    let response = server.get(path).send().unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.headers().get("x-gust-cold-start").is_some()
}

#[test]
fn idle_processes_scale_to_zero_and_come_back_cold() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let flags = ["--public", "--idle-timeout", "1s"];
    server.deploy_process("probe", &dir, "python3 probe.py", &flags);
    assert_eq!(
        server.instances("probe"),
        (0, 0),
        "nothing runs before the first request"
    );
    assert!(is_cold(&server, "/fn/probe/"));
    assert!(!is_cold(&server, "/fn/probe/"));
    assert_eq!(server.instances("probe"), (1, 0));
    assert!(server.child_processes() > 0);

    assert_eq!(
        server.wait_for_instances("probe", |(warm, _)| warm == 0),
        (0, 0)
    );
    wait_until(
        || server.child_processes() == 0,
        "the processes to be stopped",
    );
    assert!(
        is_cold(&server, "/fn/probe/"),
        "the first request after zero is cold"
    );
}

#[test]
fn idle_wasm_versions_are_unloaded_and_reloaded_from_the_cache() {
    let server = Server::start();
    server.deploy(
        "hello",
        "hello",
        json!({"public": true, "idle_timeout_ms": 1000}),
    );
    assert!(is_cold(&server, "/fn/hello"));
    assert!(!is_cold(&server, "/fn/hello"));
    assert_eq!(server.instances("hello"), (1, 0));
    server.wait_for_instances("hello", |(warm, _)| warm == 0);
    assert!(is_cold(&server, "/fn/hello"));
    let records = server.invocations("hello", 3);
    let cold: Vec<bool> = records
        .iter()
        .map(|r| r["cold"].as_bool().unwrap())
        .collect();
    assert_eq!(cold, [true, false, true]);
}

#[test]
fn min_instances_are_started_at_deploy_and_kept() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let flags = ["--public", "--min-instances", "2", "--idle-timeout", "1s"];
    server.deploy_process("warm", &dir, "python3 probe.py", &flags);
    assert_eq!(
        server.wait_for_instances("warm", |(warm, _)| warm == 2),
        (2, 0)
    );
    thread::sleep(Duration::from_millis(2500));
    assert!(
        !is_cold(&server, "/fn/warm/"),
        "provisioned instances serve warm"
    );
    assert_eq!(
        server.instances("warm"),
        (2, 0),
        "kept past the idle timeout"
    );
}

#[test]
fn min_instances_are_started_again_when_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--public", "--min-instances", "1"];
    {
        let server = Server::start_in(dir.path(), &[]);
        server.deploy_process("warm", &fixture_dir("probe"), "python3 probe.py", &flags);
        server.wait_for_instances("warm", |(warm, _)| warm == 1);
    }
    let server = Server::start_in(dir.path(), &[]);
    let instances = server.wait_for_instances("warm", |(warm, _)| warm == 1);
    assert_eq!(
        instances,
        (1, 0),
        "started with the server, before any request"
    );
    assert!(!is_cold(&server, "/fn/warm/"));
}

#[test]
fn functions_still_in_use_are_loaded_again_when_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = Server::start_in(dir.path(), &[]);
        server.deploy("recent", "hello", json!({"public": true}));
        server.deploy(
            "stale",
            "hello",
            json!({"public": true, "idle_timeout_ms": 1000}),
        );
        server.deploy("unused", "hello", json!({"public": true}));
        for name in ["recent", "stale"] {
            assert!(is_cold(&server, &format!("/fn/{name}")));
            server.invocations(name, 1);
        }
        thread::sleep(Duration::from_millis(1200));
    }
    let server = Server::start_in(dir.path(), &[]);
    let loaded = (1, 0);
    assert_eq!(server.instances("recent"), loaded, "before any request");
    assert_eq!(server.instances("stale"), (0, 0), "idle past its timeout");
    assert_eq!(server.instances("unused"), (0, 0), "never invoked");
    drop(server);
    let server = Server::start_in(dir.path(), &["--reload-recent", "0"]);
    assert_eq!(server.instances("recent"), (0, 0), "reloading turned off");
}

#[test]
fn instances_scale_up_to_the_maximum_under_concurrent_load() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let flags = ["--public", "--max-instances", "3"];
    server.deploy_process("probe", &dir, "python3 probe.py", &flags);
    let statuses = concurrently(&server, 6, "/fn/probe/sleep?s=0.5");
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(server.instances("probe"), (3, 0), "three started, no more");
}

#[test]
fn requests_over_the_limit_wait_then_get_429_and_are_not_billed() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let flags = [
        "--public",
        "--max-concurrency",
        "1",
        "--queue-size",
        "1",
        "--queue-timeout",
        "300ms",
    ];
    server.deploy_process("one", &dir, "python3 probe.py", &flags);
    assert!(is_cold(&server, "/fn/one/"));
    let mut statuses = concurrently(&server, 3, "/fn/one/sleep?s=1");
    statuses.sort();
    assert_eq!(statuses, [200, 429, 429]);
    let records = server.invocations("one", 2);
    assert_eq!(records.len(), 2, "429s are not recorded or billed");
    let metrics = server.get("/metrics").send().unwrap().text().unwrap();
    assert!(
        metrics.contains(r#"gust_throttled_total{function="one",version="1"} 2"#),
        "{metrics}"
    );
}

#[test]
fn a_429_says_when_to_retry() {
    let server = Server::start();
    let config = json!({"public": true, "max_concurrency": 1, "queue_size": 0});
    server.deploy("busy", "busy", config);
    let slow = {
        let url = format!("{}/fn/busy?sleep_ms=1000", server.url);
        thread::spawn(move || reqwest::blocking::get(url).unwrap().status().as_u16())
    };
    thread::sleep(Duration::from_millis(300));
    let refused = server.get("/fn/busy?sleep_ms=1").send().unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().unwrap();
    assert_eq!(body["error"]["code"], "throttled");
    assert_eq!(slow.join().unwrap(), 200);
}

/// Sends `count` requests at once; returns their statuses.
fn concurrently(server: &Server, count: usize, path: &str) -> Vec<u16> {
    let url = format!("{}{path}", server.url);
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let url = url.clone();
            thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                client.get(&url).send().unwrap().status().as_u16()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn warm_instances_serve_only_their_own_version() {
    let server = Server::start();
    for (name, greeting) in [("a", "from a"), ("b", "from b")] {
        let config = json!({"public": true, "env": {"GREETING": greeting}});
        server.deploy(name, "env", config);
    }
    // Alternating requests reuse warm instances; each must still see its own version's env.
    for round in 0..20 {
        for (name, greeting) in [("a", "from a"), ("b", "from b")] {
            let vars: serde_json::Value = server
                .get(&format!("/fn/{name}"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            assert_eq!(vars["GREETING"], greeting, "round {round}");
        }
    }
    let patch = json!({"env": {"GREETING": "a, version 2"}});
    let response = server
        .admin(reqwest::Method::PATCH, "/v1/functions/a")
        .json(&patch)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    let vars: serde_json::Value = server.get("/fn/a").send().unwrap().json().unwrap();
    assert_eq!(
        vars["GREETING"], "a, version 2",
        "a new version never gets an old instance"
    );
}
