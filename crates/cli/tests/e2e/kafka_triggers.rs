//! Kafka triggers against a real Kafka-protocol broker (tansu), with records produced by
//! confluent-kafka: each partition's records run in order and are committed after, failures are
//! retried then dead-lettered, batches come in Lambda's shape, a kill -9 loses nothing, a second
//! member joining the group neither loses nor repeats a record, and bad settings are refused at
//! `trigger add`.

use std::collections::{BTreeMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use tempfile::TempDir;

use crate::broker::Broker;
use crate::harness::{Server, fixture_dir, running_as_root, stderr};
use crate::subject_log::{bodies, consume, events_delivered, free_port, one_dead_letter, subjects};

pub fn tool(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(fixture_dir("kafka-tool").join("kafka_tool.py"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run python3 (scripts/setup installs confluent-kafka)");
    assert!(
        output.status.success(),
        "kafka_tool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// tansu, keeping its topics in memory.
pub struct Kafka {
    broker: Broker,
}

impl Kafka {
    pub fn start() -> Kafka {
        let binary = tool(&["server-path"]);
        let broker = Broker::start("tansu", |port, _| {
            let url = format!("tcp://127.0.0.1:{port}");
            let mut command = Command::new(binary.trim());
            command.args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ]);
            command.args(["--storage-engine", "memory://tansu/"]);
            command
        });
        Kafka { broker }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.broker.port)
    }

    pub fn create(&self, topic: &str, partitions: u32) {
        tool(&["create", &self.address(), topic, &partitions.to_string()]);
    }

    /// Produces `count` records `n=N fine` round robin over the partitions; `failing` says "fail".
    pub fn produce(&self, topic: &str, count: usize, failing: Option<usize>) {
        let count = count.to_string();
        let address = self.address();
        let mut args = vec!["produce", &address, topic, &count];
        let failing = failing.map(|n| n.to_string());
        args.extend(failing.as_deref());
        tool(&args);
    }

    /// Waits until the group has committed `count` records of the topic.
    fn await_committed(&self, topic: &str, group: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let committed = tool(&["committed", &self.address(), topic, group]);
            if committed.trim() == count.to_string() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "committed {committed}, not {count}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn source(&self, topic: &str, extra: &[&str]) -> Vec<String> {
        let address = self.address();
        let mut source = vec!["--kafka", &address, "--topic", topic, "--group", "gust"];
        source.extend_from_slice(&["--start", "earliest"]);
        source.extend_from_slice(extra);
        source.into_iter().map(String::from).collect()
    }
}

fn as_strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// The offsets of each partition, in the order the function saw them, from `TOPIC-P@OFFSET`.
fn by_partition(subjects: &[String]) -> BTreeMap<String, Vec<i64>> {
    let mut partitions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for subject in subjects {
        let (partition, offset) = subject.rsplit_once('@').expect("TOPIC-P@OFFSET");
        let offsets = partitions.entry(partition.to_string()).or_default();
        offsets.push(offset.parse().unwrap());
    }
    partitions
}

#[test]
fn records_run_in_order_per_partition_and_failures_are_dead_lettered() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let kafka = Kafka::start();
    kafka.create("readings", 2);
    let server = Server::start();
    consume(
        &server,
        &["--max-retries", "1"],
        &as_strs(&kafka.source("readings", &[])),
    );
    kafka.produce("readings", 20, Some(7));
    let seen = subjects(&server, 21);
    assert_eq!(seen.len(), 21, "{seen:?}");
    let partitions = by_partition(&seen);
    // n=7 is offset 3 of partition 1: tried twice, then the partition went on in order.
    assert_eq!(partitions["readings-0"], (0..10).collect::<Vec<_>>());
    let mut expected: Vec<i64> = (0..10).collect();
    expected.insert(4, 3);
    assert_eq!(partitions["readings-1"], expected);
    kafka.await_committed("readings", "gust", 20);
    assert_eq!(one_dead_letter(&server, "kafka")["attempts"], 2);
    assert_eq!(events_delivered(&server, "kafka"), 20);
}

#[test]
fn batches_come_in_lambdas_shape_one_partition_each() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let kafka = Kafka::start();
    kafka.create("batched", 3);
    let server = Server::start();
    let batching = ["--batch-size", "100", "--batch-window", "200ms"];
    consume(&server, &[], &as_strs(&kafka.source("batched", &batching)));
    kafka.produce("batched", 600, None);
    let mut values = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while values.len() < 600 && Instant::now() < deadline {
        values.clear();
        for body in bodies(&server, 1) {
            let event: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(event["eventSource"], "SelfManagedKafka");
            let records = event["records"].as_object().unwrap();
            assert_eq!(records.len(), 1, "one partition per batch: {body}");
            let (name, list) = records.iter().next().unwrap();
            let list = list.as_array().unwrap();
            assert!(list.len() <= 100);
            let offsets: Vec<i64> = list.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
            let first = offsets[0];
            assert_eq!(
                offsets,
                (first..first + list.len() as i64).collect::<Vec<_>>()
            );
            for record in list {
                assert_eq!(format!("batched-{}", record["partition"]), *name);
                let value = base64::engine::general_purpose::STANDARD
                    .decode(record["value"].as_str().unwrap())
                    .unwrap();
                values.insert(String::from_utf8(value).unwrap());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(values.len(), 600);
    kafka.await_committed("batched", "gust", 600);
}

#[test]
fn records_in_flight_at_kill_9_are_delivered_after_restart() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let kafka = Kafka::start();
    kafka.create("slow", 2);
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    let flags = ["--env", "SLEEP_S=0.05"];
    consume(&server, &flags, &as_strs(&kafka.source("slow", &[])));
    kafka.produce("slow", 60, None);
    subjects(&server, 10);
    server.signal_and_wait("KILL");
    let server = Server::start_in(data.path(), &[]);
    kafka.await_committed("slow", "gust", 60);
    let seen: HashSet<String> = bodies(&server, 60).into_iter().collect();
    // The logs of both runs are in the data folder: every record ran at least once.
    for n in 0..60 {
        assert!(seen.contains(&format!("n={n} fine")), "n={n} is missing");
    }
}

#[test]
fn a_member_joining_the_group_neither_loses_nor_repeats_a_record() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let kafka = Kafka::start();
    kafka.create("shared", 4);
    let flags = ["--env", "SLEEP_S=0.05"];
    let first = Server::start();
    consume(&first, &flags, &as_strs(&kafka.source("shared", &[])));
    kafka.produce("shared", 200, None);
    subjects(&first, 20);
    let second = Server::start();
    consume(&second, &flags, &as_strs(&kafka.source("shared", &[])));
    // Records keep coming while the group rebalances, until the second member runs some.
    let mut produced = 200;
    let deadline = Instant::now() + Duration::from_secs(60);
    while subjects(&second, 0).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the second member got no partition"
        );
        kafka.produce("shared", 40, None);
        produced += 40;
        std::thread::sleep(Duration::from_millis(500));
    }
    kafka.await_committed("shared", "gust", produced);
    // Each record is told apart by its partition and offset.
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let mut all = subjects(&first, 0);
        all.extend(subjects(&second, 0));
        if all.len() >= produced || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), produced, "every record ran");
    assert_eq!(all.len(), produced, "and none ran twice");
}

#[test]
fn unknown_topics_and_unreachable_brokers_are_refused() {
    let kafka = Kafka::start();
    let server = Server::start();
    server.deploy("hello", "hello", crate::harness::public());
    let add = |brokers: &str, topic: &str| {
        let source = ["--kafka", brokers, "--topic", topic, "--group", "g"];
        let mut args = vec!["trigger", "add", "hello"];
        args.extend_from_slice(&source);
        stderr(&server.cli(&args))
    };
    let unknown = add(&kafka.address(), "nope");
    assert!(
        unknown.contains("the topic `nope` does not exist"),
        "{unknown}"
    );
    let nowhere = format!("127.0.0.1:{}", free_port());
    let refused = add(&nowhere, "nope");
    assert!(refused.contains("cannot reach Kafka"), "{refused}");
}
