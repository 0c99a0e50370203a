//! The IoT use case end to end: 100,000 readings of 100 devices on a Kafka topic, analysed by
//! examples/iot-aggregate in batches, its figures per device and 10 s window sent to
//! `sensor-stats` and its alerts to `alerts` through success destinations. Every window's
//! figures and every alert equal a computation of the fixture's own, also when Gust is killed
//! with -9 in the middle.

use std::process::{Child, Command};

use serde_json::json;
use tempfile::TempDir;

use crate::harness::{Server, fixture_dir, stderr, stdout};
use crate::kafka_triggers::{Kafka, tool as kafka_tool};

const READINGS: &str = "100000";
const DEVICES: &str = "100";
const ALERT_ABOVE: &str = "38";

fn iot(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(fixture_dir("iot").join("iot.py"))
        .args(args)
        .output()
        .expect("run python3 (scripts/setup installs confluent-kafka)")
}

/// Deploys the stats and alerts functions, each with its own group on `sensors`.
fn deploy_pipeline(server: &Server, kafka: &Kafka) {
    let stats = json!({"on_success": "kafka:sensor-stats"});
    server.deploy("iot-stats", "iot-aggregate", stats);
    let alerts = json!({
        "on_success": "kafka:alerts",
        "env": {"EMIT": "alerts", "ALERT_ABOVE": ALERT_ABOVE},
    });
    server.deploy("iot-alerts", "iot-aggregate", alerts);
    for (function, group) in [("iot-stats", "stats"), ("iot-alerts", "alerts")] {
        let added = server.cli(&[
            "trigger",
            "add",
            function,
            "--kafka",
            &kafka.address(),
            "--topic",
            "sensors",
            "--group",
            group,
            "--batch-size",
            "100",
            "--batch-window",
            "50ms",
            "--start",
            "earliest",
        ]);
        assert!(added.status.success(), "{}", stderr(&added));
    }
}

fn start_kafka() -> Kafka {
    let kafka = Kafka::start();
    kafka.create("sensors", 4);
    kafka.create("sensor-stats", 1);
    kafka.create("alerts", 1);
    kafka
}

/// Starts producing the readings; the producer is waited for with `produced`.
fn produce(kafka: &Kafka) -> Child {
    Command::new("python3")
        .arg(fixture_dir("iot").join("iot.py"))
        .args(["produce", &kafka.address(), "sensors", READINGS, DEVICES])
        .spawn()
        .expect("run python3 (scripts/setup installs confluent-kafka)")
}

fn produced(mut producer: Child) {
    assert!(
        producer.wait().unwrap().success(),
        "producing the readings failed"
    );
}

fn assert_exact(kafka: &Kafka) {
    let checked = iot(&[
        "check",
        &kafka.address(),
        "sensors",
        "sensor-stats",
        "alerts",
        READINGS,
        DEVICES,
        ALERT_ABOVE,
    ]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(
        stdout(&checked).starts_with("exact: "),
        "{}",
        stdout(&checked)
    );
}

#[test]
fn every_windows_figures_are_exact() {
    let kafka = start_kafka();
    let server = Server::start_with(&["--destination-kafka", &kafka.address()]);
    deploy_pipeline(&server, &kafka);
    produced(produce(&kafka));
    assert_exact(&kafka);
}

#[test]
fn the_figures_stay_exact_through_a_kill_9() {
    let kafka = start_kafka();
    let data = TempDir::new().unwrap();
    let destination = ["--destination-kafka", &kafka.address()];
    let mut server = Server::start_in(data.path(), &destination);
    deploy_pipeline(&server, &kafka);
    let producer = produce(&kafka);
    // Kill it once a good part of the readings is analysed, and the rest is still to come.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let committed = kafka_tool(&["committed", &kafka.address(), "sensors", "stats"]);
        let committed: u64 = committed.trim().parse().unwrap();
        if committed >= 20_000 {
            assert!(committed < 100_000, "all analysed before the kill");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "too slow: {committed}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.signal_and_wait("KILL");
    let _server = Server::start_in(data.path(), &destination);
    produced(producer);
    assert_exact(&kafka);
}
