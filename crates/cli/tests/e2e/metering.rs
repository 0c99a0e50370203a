use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{Server, public, stdout};

const PER_MILLION: f64 = 0.20;
const PER_GB_SECOND: f64 = 0.000_016_666_7;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Deploys three functions with different memory sizes and runs a mix of quick, slow and
/// failing invocations; returns how many of each function ran.
fn run_mix(server: &Server) -> HashMap<&'static str, usize> {
    server.deploy("hello", "hello", public());
    server.deploy(
        "busy",
        "busy",
        json!({"public": true, "memory_mb": 512, "timeout_ms": 300}),
    );
    server.deploy("memhog", "memhog", json!({"public": true, "memory_mb": 64}));
    for i in 0..5 {
        server.get(&format!("/fn/hello?name=n{i}")).send().unwrap();
        server
            .get(&format!("/fn/busy?spin_ms={}", 5 * i))
            .send()
            .unwrap();
    }
    server.get("/fn/busy?spin_ms=forever").send().unwrap();
    for mb in [1, 100, 2] {
        server.get(&format!("/fn/memhog?mb={mb}")).send().unwrap();
    }
    HashMap::from([("hello", 5), ("busy", 6), ("memhog", 3)])
}

#[test]
fn usage_totals_equal_the_sum_of_the_records() {
    let server = Server::start();
    let counts = run_mix(&server);
    let mut all_records = Vec::new();
    for (function, count) in &counts {
        let records = server.invocations(function, *count);
        assert_eq!(records.len(), *count, "{function}");
        all_records.extend(records);
    }
    let report = server.admin_json("/v1/usage?group_by=function");
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for line in lines {
        let function = line["key"].as_str().unwrap();
        let records: Vec<&Value> = all_records
            .iter()
            .filter(|r| r["function"] == function)
            .collect();
        let billed_ms: u64 = records
            .iter()
            .map(|r| r["billed_ms"].as_u64().unwrap())
            .sum();
        let gb_s: f64 = records
            .iter()
            .map(|r| {
                r["billed_ms"].as_f64().unwrap() / 1000.0 * r["memory_mb"].as_f64().unwrap()
                    / 1024.0
            })
            .sum();
        let errors = records.iter().filter(|r| r["status"] != "ok").count();
        assert_eq!(line["invocations"], records.len(), "{function}");
        assert_eq!(line["errors"], errors, "{function}");
        assert!(close(
            line["billed_seconds"].as_f64().unwrap(),
            billed_ms as f64 / 1000.0
        ));
        assert!(
            close(line["gb_seconds"].as_f64().unwrap(), gb_s),
            "{function}: {line} vs {gb_s}"
        );
        let price = records.len() as f64 * PER_MILLION / 1e6 + gb_s * PER_GB_SECOND;
        assert!(
            close(line["price_usd"].as_f64().unwrap(), price),
            "{line} vs {price}"
        );
        for record in &records {
            let expected = record["billed_ms"].as_f64().unwrap()
                * record["memory_mb"].as_f64().unwrap()
                / 1024.0
                / 1000.0;
            assert!(
                close(record["gb_seconds"].as_f64().unwrap(), expected),
                "{record}"
            );
        }
    }
    let busy = lines.iter().find(|l| l["key"] == "busy").unwrap();
    assert_eq!(busy["errors"], 1, "the timeout counts as an error");
    let memhog = lines.iter().find(|l| l["key"] == "memhog").unwrap();
    assert_eq!(
        memhog["errors"], 1,
        "the memory_exceeded run counts as an error"
    );

    // Every grouping adds up to the same total.
    let total = &report["total"];
    assert_eq!(total["invocations"], 14);
    for group_by in ["day", "hour"] {
        let other = server.admin_json(&format!("/v1/usage?group_by={group_by}"));
        assert_eq!(other["total"], *total, "{group_by}");
        let sum: u64 = other["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["invocations"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 14);
        assert!(
            other["lines"][0]["key"]
                .as_str()
                .unwrap()
                .ends_with(":00:00Z")
        );
    }
    let only_hello = server.admin_json("/v1/usage?function=hello");
    assert_eq!(only_hello["total"]["invocations"], 5);
    let future = server.admin_json("/v1/usage?from=2999-01-01");
    assert_eq!(future["total"]["invocations"], 0);
    let bad = server
        .admin(reqwest::Method::GET, "/v1/usage?from=yesterday")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = server
        .admin(reqwest::Method::GET, "/v1/usage?group_by=week")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);

    // The CLI prints the same numbers as a table, JSON or CSV.
    let csv = stdout(&server.cli(&["usage", "--output", "csv"]));
    let last = csv.lines().last().unwrap();
    assert!(last.starts_with("total,14,2,"), "{csv}");
    let json_out: Value =
        serde_json::from_slice(&server.cli(&["usage", "--output", "json"]).stdout).unwrap();
    assert_eq!(json_out["total"], *total);
    let table = stdout(&server.cli(&["usage", "--group-by", "hour"]));
    assert!(table.contains("amount due (USD)"), "{table}");
}

#[test]
fn each_response_carries_what_it_cost() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    server.deploy("busy", "busy", json!({"public": true, "timeout_ms": 200}));
    let response = server.get("/fn/hello?name=x").send().unwrap();
    let id = response.headers()["x-gust-invocation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let billed: u64 = response.headers()["x-gust-billed-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let records = server.invocations("hello", 1);
    let record = records.iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(record["billed_ms"], billed);

    let timeout = server.get("/fn/busy?spin_ms=forever").send().unwrap();
    assert_eq!(timeout.status(), 504);
    assert_eq!(
        timeout.headers()["x-gust-billed-ms"],
        "200",
        "a timeout is billed to the limit"
    );
}

#[test]
fn usage_and_the_invocation_list_include_every_answered_request() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    // No waiting between a request and the reads: they must not lag behind the answers.
    for answered in 1..=3u64 {
        server.get("/fn/hello").send().unwrap();
        let report = server.admin_json("/v1/usage");
        assert_eq!(report["total"]["invocations"], answered);
        let records = server.admin_json("/v1/functions/hello/invocations");
        assert_eq!(records.as_array().unwrap().len() as u64, answered);
    }
}

/// A server started with `gust.toml` in its data dir, after `calls` calls of a public hello.
fn hello_with_config(config: &str, calls: usize) -> (tempfile::TempDir, Server) {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("gust.toml"), config).unwrap();
    let server = Server::start_in(dir.path(), &[]);
    server.deploy("hello", "hello", public());
    for _ in 0..calls {
        server.get("/fn/hello").send().unwrap();
    }
    (dir, server)
}

#[test]
fn prices_and_the_free_tier_come_from_the_config_file() {
    let (_dir, server) = hello_with_config(
        "[pricing]\nper_million_requests = 1000000.0\nper_gb_second = 0.0\nfree_requests = 2\n",
        5,
    );
    server.invocations("hello", 5);
    let report = server.admin_json("/v1/usage");
    assert!(close(report["total"]["price_usd"].as_f64().unwrap(), 5.0));
    assert!(close(report["free_tier_usd"].as_f64().unwrap(), 2.0));
    assert!(close(report["amount_due_usd"].as_f64().unwrap(), 3.0));
}

#[test]
fn old_records_become_hourly_usage_without_changing_totals() {
    let (_dir, server) =
        hello_with_config("[retention]\nrecords = \"1s\"\nroll_up_every = \"1s\"\n", 4);
    let records = server.invocations("hello", 4);
    let billed: u64 = records
        .iter()
        .map(|r| r["billed_ms"].as_u64().unwrap())
        .sum();
    // Wait (bounded) for the roll-up to take the records.
    let mut rolled = false;
    for _ in 0..100 {
        if server.admin_json("/v1/functions/hello/invocations") == json!([]) {
            rolled = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(rolled, "records past retention were rolled up");
    let report = server.admin_json("/v1/usage");
    assert_eq!(report["total"]["invocations"], 4);
    assert!(close(
        report["total"]["billed_seconds"].as_f64().unwrap(),
        billed as f64 / 1000.0
    ));
}

#[test]
fn metrics_parse_with_promtool_and_count_invocations() {
    let server = Server::start();
    let counts = run_mix(&server);
    server.invocations("memhog", counts["memhog"]);
    let text = server.get("/metrics").send().unwrap().text().unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/setup");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        stdout(&checked),
        String::from_utf8_lossy(&checked.stderr)
    );
    for expected in [
        r#"gust_invocations_total{function="hello",status="ok",version="1"} 5"#,
        r#"gust_invocations_total{function="busy",status="timeout",version="1"} 1"#,
        r#"gust_invocations_total{function="memhog",status="memory_exceeded",version="1"} 1"#,
        r#"gust_cold_starts_total{function="busy",version="1"} 1"#,
        r#"gust_invocation_duration_seconds_count{function="busy",version="1"} 6"#,
        r#"gust_instances{function="hello",state="warm",version="1"} 1"#,
        r#"gust_instances{function="hello",state="busy",version="1"} 0"#,
        "gust_concurrency_in_use 0",
        "gust_async_queue_depth 0",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    assert!(text.contains("process_resident_memory_bytes "), "{text}");

    assert_eq!(server.get("/healthz").send().unwrap().status(), 200);
    let ready: Value = server.get("/readyz").send().unwrap().json().unwrap();
    assert_eq!(ready["status"], "ready");
}

#[test]
fn a_metrics_token_guards_the_metrics() {
    let server = Server::start_with(&["--metrics-token", "scrape-me"]);
    assert_eq!(server.get("/metrics").send().unwrap().status(), 401);
    let wrong = server.get("/metrics").bearer_auth("nope").send().unwrap();
    assert_eq!(wrong.status(), 401);
    let scraped = server
        .get("/metrics")
        .bearer_auth("scrape-me")
        .send()
        .unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().unwrap().contains("gust_concurrency_in_use"));
    let admin = server
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(server.get("/healthz").send().unwrap().status(), 200);
}
