use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::harness::{Server, public, stdout};

#[test]
fn guest_output_becomes_log_lines_of_its_invocation() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    let response = server.get("/fn/hello?name=logger").send().unwrap();
    let id = response.headers()["x-gust-invocation-id"]
        .to_str()
        .unwrap()
        .to_string();
    // Read at once: what a request printed is in the logs by the time it is answered.
    let api = server
        .admin(reqwest::Method::GET, "/v1/functions/hello/logs")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(api.contains("greeting logger"), "{api}");
    let logs = server.cli(&["logs", "hello"]);
    let text = stdout(&logs);
    let line = text
        .lines()
        .find(|l| l.contains("greeting logger"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&id), "{line}");
    assert!(line.contains("stdout"), "{line}");

    server.deploy("panic", "panic", public());
    server.get("/fn/panic").send().unwrap();
    let logs = stdout(&server.cli(&["logs", "panic"]));
    assert!(logs.contains("stderr about to fail on /"), "{logs}");
    assert!(logs.contains("boom: this function always fails"), "{logs}");
}

#[test]
fn logs_follow_streams_new_lines() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    let mut follower = Command::new(env!("CARGO_BIN_EXE_gust"))
        .args(["logs", "hello", "--follow"])
        .env("GUST_SERVER", &server.url)
        .env("GUST_TOKEN", &server.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    // The follower may connect after the first call: keep calling until a line shows up.
    let reader = std::thread::spawn(move || lines.next().unwrap().unwrap());
    let mut n = 0;
    while !reader.is_finished() && n < 200 {
        server
            .get(&format!("/fn/hello?name=follow{n}"))
            .send()
            .unwrap();
        n += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let line = reader.join().unwrap();
    assert!(line.contains("greeting follow"), "{line}");
    // When the server goes, the follower says so and fails.
    drop(server);
    let ended = follower.wait_with_output().unwrap();
    assert!(!ended.status.success());
    let said = String::from_utf8_lossy(&ended.stderr);
    assert!(said.contains("the server closed the log stream"), "{said}");
}

#[test]
fn an_invocations_log_stops_at_its_budget_and_says_so() {
    let server = Server::start_with(&["--max-log-kb", "64"]);
    let dir = crate::harness::fixture_dir("probe");
    server.deploy_process("loud", &dir, "python3 probe.py", &["--public"]);
    let response = server.get("/fn/loud/shout?kb=512").send().unwrap();
    assert_eq!(response.status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let logs = server
        .admin(reqwest::Method::GET, "/v1/functions/loud/logs?limit=10000")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let shouted = logs.lines().filter(|l| l.contains("yyyy")).count();
    assert!(
        (32..=64).contains(&shouted),
        "64 KiB of 1 KiB lines: {shouted}"
    );
    assert!(
        logs.contains("log truncated"),
        "the log says where it stopped"
    );
    let metrics = server.get("/metrics").send().unwrap().text().unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gust_log_lines_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(dropped >= 400, "{dropped}");
}
