use serde_json::json;

use crate::harness::{Server, error_of, public};

#[test]
fn a_function_over_its_timeout_gets_504_and_the_server_goes_on() {
    let server = Server::start();
    server.deploy("busy", "busy", json!({"public": true, "timeout_ms": 500}));
    for query in ["spin_ms=forever", "sleep_ms=60000"] {
        let response = server.get(&format!("/fn/busy?{query}")).send().unwrap();
        let id = response.headers()["x-gust-invocation-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{query}: {body}");
        assert_eq!(body["error"]["invocation_id"], id.as_str());
    }
    let quick = server.get("/fn/busy?spin_ms=1").send().unwrap();
    assert_eq!(quick.status(), 200);
    let records = server.invocations("busy", 3);
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "timeout", "timeout"]);
    for record in &records[1..] {
        assert_eq!(record["http_status"], 504);
        assert!(record["duration_us"].as_u64().unwrap() >= 500_000);
    }
}

#[test]
fn a_guest_over_its_memory_limit_fails_alone() {
    let server = Server::start();
    server.deploy("memhog", "memhog", json!({"public": true, "memory_mb": 32}));
    server.deploy("hello", "hello", public());
    let (status, code, message) = error_of(server.get("/fn/memhog?mb=64").send().unwrap());
    assert_eq!((status, code.as_str()), (500, "memory_exceeded"));
    assert!(message.contains("32 MB"), "{message}");
    let small = server.get("/fn/memhog?mb=8").send().unwrap();
    assert_eq!(small.text().unwrap(), "allocated 8 MiB\n");
    assert_eq!(server.get("/fn/hello").send().unwrap().status(), 200);
    let records = server.invocations("memhog", 2);
    assert_eq!(records[1]["status"], "memory_exceeded");
    assert_eq!(records[1]["memory_mb"], 32);
    assert_eq!(records[0]["status"], "ok");
}

#[test]
fn a_panic_answers_500_with_the_invocation_id_and_the_server_keeps_serving() {
    let server = Server::start();
    server.deploy("panic", "panic", public());
    server.deploy("hello", "hello", public());
    for _ in 0..3 {
        let response = server.get("/fn/panic").send().unwrap();
        let id = response.headers()["x-gust-invocation-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["error"]["code"], "error");
        assert_eq!(body["error"]["invocation_id"], id.as_str());
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("trapped"),
            "{body}"
        );
    }
    assert_eq!(
        server.get("/fn/hello").send().unwrap().text().unwrap(),
        "Hello, world!\n"
    );
}

#[test]
fn records_say_how_each_invocation_ended_and_what_it_bills() {
    let server = Server::start();
    server.deploy("busy", "busy", json!({"public": true, "memory_mb": 64}));
    server.get("/fn/busy?spin_ms=20").send().unwrap();
    server.get("/fn/busy?spin_ms=1").send().unwrap();
    let records = server.invocations("busy", 2);
    let (newest, oldest) = (&records[0], &records[1]);
    assert_eq!(oldest["cold"], true);
    assert_eq!(newest["cold"], false);
    for record in &records {
        assert_eq!(record["function"], "busy");
        assert_eq!(record["version"], 1);
        assert_eq!(record["trigger"], "http");
        assert_eq!(record["status"], "ok");
        assert_eq!(record["memory_mb"], 64);
        assert_eq!(record["http_status"], 200);
        assert!(record["started_at_ms"].as_i64().unwrap() > 1_700_000_000_000);
        let duration_us = record["duration_us"].as_u64().unwrap();
        assert_eq!(
            record["billed_ms"].as_u64().unwrap(),
            duration_us.div_ceil(1000).max(1)
        );
    }
    assert!(oldest["duration_us"].as_u64().unwrap() >= 20_000);
}

#[test]
fn instances_that_grew_large_are_not_kept_warm() {
    let server = Server::start();
    server.deploy(
        "memhog",
        "memhog",
        json!({"public": true, "memory_mb": 512}),
    );
    assert_eq!(server.get("/fn/memhog?mb=1").send().unwrap().status(), 200);
    let before = resident_mib(server.pid());
    assert_eq!(
        server.get("/fn/memhog?mb=300").send().unwrap().status(),
        200
    );
    server.wait_for_instances("memhog", |(_, busy)| busy == 0);
    // A kept instance would hold its 300 MiB; a dropped one gives them back.
    let after = resident_mib(server.pid());
    assert!(
        after < before + 150,
        "the server holds {after} MiB after the request, {before} MiB before it"
    );
}

#[test]
fn wasm_instances_share_the_nodes_memory_budget() {
    let server = Server::start_with(&["--wasm-memory-mb", "100"]);
    server.deploy(
        "memhog",
        "memhog",
        json!({"public": true, "memory_mb": 512}),
    );
    let (status, code, message) = error_of(server.get("/fn/memhog?mb=150").send().unwrap());
    assert_eq!((status, code.as_str()), (500, "memory_exceeded"));
    assert!(message.contains("--wasm-memory-mb"), "{message}");
    // What a failed or dropped instance held is given back (once it is gone: the answer goes
    // out first), so each of these fits on its own.
    for _ in 0..3 {
        server.wait_for_instances("memhog", |(_, busy)| busy == 0);
        let fits = server.get("/fn/memhog?mb=80").send().unwrap();
        assert_eq!(fits.text().unwrap(), "allocated 80 MiB\n");
    }
}

/// Resident memory of a process, in MiB.
fn resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}
