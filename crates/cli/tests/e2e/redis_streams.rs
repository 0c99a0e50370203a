//! Redis stream triggers against a real redis-server: entries run in order and are
//! acknowledged after, failures are retried then dead-lettered, a kill -9 loses nothing, and a
//! broker that cannot be reached is refused at `trigger add`.

use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::broker::Broker;
use crate::harness::{Server, running_as_root, stderr, stdout};
use crate::subject_log::{consume, events_delivered, free_port, one_dead_letter, subjects};

/// A redis-server of the test's own, without persistence.
struct Redis {
    broker: Broker,
}

impl Redis {
    fn start() -> Redis {
        let broker = Broker::start("redis-server", |port, dir| {
            let mut command = Command::new("redis-server");
            command
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args(["--appendonly", "no", "--dir", dir.to_str().unwrap()]);
            command
        });
        Redis { broker }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.broker.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.broker.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        stdout(&output)
    }

    /// Adds entries `n=0..count` (the one numbered `failing` says "fail"); returns their ids.
    fn add(&self, stream: &str, count: usize, failing: Option<usize>) -> Vec<String> {
        (0..count)
            .map(|n| {
                let word = if Some(n) == failing { "fail" } else { "fine" };
                let id = self.cli(&["xadd", stream, "*", "n", &n.to_string(), "word", word]);
                id.trim().to_string()
            })
            .collect()
    }
}

fn pending(redis: &Redis, stream: &str) -> String {
    let summary = redis.cli(&["xpending", stream, "g"]);
    summary
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn entries_run_in_order_and_failures_are_retried_then_dead_lettered() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let redis = Redis::start();
    let server = Server::start();
    let url = redis.url();
    let source = ["--redis", &url, "--stream", "readings", "--group", "g"];
    consume(&server, &["--max-retries", "1"], &source);
    let ids = redis.add("readings", 20, Some(7));
    // The failing entry is tried twice (one retry) in place before the next one starts.
    let mut expected = ids.clone();
    expected.insert(8, ids[7].clone());
    assert_eq!(subjects(&server, 21), expected);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending(&redis, "readings") != "0" {
        assert!(Instant::now() < deadline, "entries left unacknowledged");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(one_dead_letter(&server, "redis")["attempts"], 2);
    assert_eq!(
        events_delivered(&server, "redis"),
        20,
        "delivered and acknowledged"
    );
    let listed = stdout(&server.cli(&["trigger", "ls", "log"]));
    assert!(
        listed.contains("redis") && listed.contains("status=running"),
        "{listed}"
    );
}

#[test]
fn entries_in_flight_at_kill_9_are_delivered_after_restart() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let redis = Redis::start();
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    let url = redis.url();
    let source = ["--redis", &url, "--stream", "slow", "--group", "g"];
    consume(&server, &["--env", "SLEEP_S=0.05"], &source);
    redis.add("slow", 60, None);
    subjects(&server, 10);
    server.signal_and_wait("KILL");
    let _server = Server::start_in(data.path(), &[]);
    // The broker's own ledger: every entry read by the group and acknowledged, which Gust
    // does only after the function succeeded with it. (The function's log lines are written
    // in batches, so a kill -9 may lose a few: they are not the ledger.)
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let groups = redis.cli(&["xinfo", "groups", "slow"]);
        let field = |name: &str| {
            let mut lines = groups.lines().map(str::trim);
            lines
                .find(|l| *l == name)
                .and(lines.next())
                .map(String::from)
        };
        let done = field("entries-read").as_deref() == Some("60")
            && field("lag").as_deref() == Some("0")
            && pending(&redis, "slow") == "0";
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all delivered after restart: {groups}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_unreachable_broker_is_refused_at_trigger_add() {
    let server = Server::start();
    server.deploy("hello", "hello", crate::harness::public());
    let url = format!("redis://127.0.0.1:{}", free_port());
    let args = [
        "trigger", "add", "hello", "--redis", &url, "--stream", "s", "--group", "g",
    ];
    let refused = server.cli(&args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot reach Redis"),
        "{}",
        stderr(&refused)
    );
}
