//! NATS triggers against a real nats-server 2.14 with JetStream: a durable consumer's messages
//! run in order and are acknowledged after, failures are retried then dead-lettered, a kill -9
//! loses nothing; core NATS subjects are delivered at most once; an unreachable server or an
//! unknown stream is refused at `trigger add`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::broker::Broker;
use crate::harness::{Server, fixture_dir, running_as_root, stderr, stdout};
use crate::subject_log::{consume, events_delivered, free_port, one_dead_letter, subjects};

/// nats-server with JetStream, storing in the broker's folder.
pub struct Nats {
    broker: Broker,
}

pub fn tool(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(fixture_dir("nats-tool").join("nats_tool.py"))
        .args(args)
        .output()
        .expect("run python3 (scripts/setup installs nats-py)");
    assert!(
        output.status.success(),
        "nats_tool {args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn server_command(port: u16, dir: &Path) -> Command {
    let mut command = Command::new(tool(&["server-path"]).trim());
    command.args(["-js", "-sd", dir.to_str().unwrap()]).args([
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    command
}

impl Nats {
    pub fn start() -> Nats {
        Nats {
            broker: Broker::start("nats-server", server_command),
        }
    }

    /// Stops the server, runs `while_down`, and starts it again with what it stored.
    pub fn restart(&mut self, while_down: impl FnOnce()) {
        self.broker
            .restart("nats-server", server_command, while_down);
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.broker.port)
    }

    /// The consumer's (pending, ack pending, acknowledged floor).
    fn info(&self, stream: &str, consumer: &str) -> String {
        tool(&["info", &self.url(), stream, consumer])
            .trim()
            .to_string()
    }
}

fn jetstream_source(nats: &Nats, stream: &str) -> Vec<String> {
    let url = nats.url();
    tool(&["add-stream", &url, stream, &format!("{stream}.>")]);
    ["--nats", &url, "--stream", stream, "--consumer", "gust"]
        .map(String::from)
        .to_vec()
}

#[test]
fn jetstream_messages_run_in_order_and_failures_are_dead_lettered() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let nats = Nats::start();
    let server = Server::start();
    let source = jetstream_source(&nats, "readings");
    let source: Vec<&str> = source.iter().map(String::as_str).collect();
    consume(&server, &["--max-retries", "1"], &source);
    let published = tool(&["publish", &nats.url(), "readings.a", "20", "7"]);
    let sequences: Vec<String> = published.lines().map(String::from).collect();
    let mut expected = sequences.clone();
    expected.insert(8, sequences[7].clone());
    assert_eq!(
        subjects(&server, 21),
        expected,
        "in order, the failing one tried twice"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while nats.info("readings", "gust") != "0 0 20" {
        assert!(
            Instant::now() < deadline,
            "left: {}",
            nats.info("readings", "gust")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(one_dead_letter(&server, "nats")["attempts"], 2);
    assert_eq!(events_delivered(&server, "nats"), 20);
}

#[test]
fn jetstream_messages_in_flight_at_kill_9_are_delivered_after_restart() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let nats = Nats::start();
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    let source = jetstream_source(&nats, "slow");
    let source: Vec<&str> = source.iter().map(String::as_str).collect();
    consume(&server, &["--env", "SLEEP_S=0.05"], &source);
    tool(&["publish", &nats.url(), "slow.a", "60"]);
    subjects(&server, 10);
    server.signal_and_wait("KILL");
    let _server = Server::start_in(data.path(), &[]);
    // JetStream's own ledger: all 60 acknowledged (Gust acks only after delivery).
    let deadline = Instant::now() + Duration::from_secs(90);
    while nats.info("slow", "gust") != "0 0 60" {
        assert!(
            Instant::now() < deadline,
            "left: {}",
            nats.info("slow", "gust")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn core_nats_subjects_are_delivered_and_bad_settings_refused() {
    let nats = Nats::start();
    let server = Server::start();
    server.deploy("hello", "hello", crate::harness::public());
    let url = nats.url();
    let added = server.cli(&[
        "trigger",
        "add",
        "hello",
        "--nats",
        &url,
        "--subject",
        "pings",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    // The subscription is made as the trigger starts: publish once it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stdout(&server.cli(&["trigger", "ls", "hello"])).contains("status=running") {
        assert!(Instant::now() < deadline, "the trigger did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    tool(&["publish-core", &url, "pings", "5"]);
    let records = server.invocations("hello", 5);
    assert_eq!(records.len(), 5);
    assert!(
        records.iter().all(|r| r["trigger"] == "nats"),
        "{records:?}"
    );

    let unknown = server.cli(&[
        "trigger",
        "add",
        "hello",
        "--nats",
        &url,
        "--stream",
        "nope",
        "--consumer",
        "c",
    ]);
    assert!(
        stderr(&unknown).contains("no JetStream stream `nope`"),
        "{}",
        stderr(&unknown)
    );
    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    let refused = server.cli(&[
        "trigger",
        "add",
        "hello",
        "--nats",
        &nowhere,
        "--subject",
        "x",
    ]);
    assert!(
        stderr(&refused).contains("cannot reach NATS"),
        "{}",
        stderr(&refused)
    );
}
