//! Destinations: the outcome of an asynchronous invocation reaches a function, a Kafka topic, a
//! NATS subject, an MQTT topic and a webhook, with where it came from; failures go to the
//! failure destination; a destination the node cannot send to is refused at deploy.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::async_queue::wait_final;
use crate::callbacks::{header, receiver};
use crate::harness::{Server, error_of, fixture_dir, result_header};
use crate::kafka_triggers::{Kafka, tool as kafka_tool};
use crate::mqtt_triggers::Mosquitto;
use crate::nats_triggers::Nats;

fn enqueue(server: &Server, function: &str, body: &str) -> String {
    let response = server
        .admin(reqwest::Method::POST, &format!("/async/{function}"))
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().unwrap();
    accepted["id"].as_str().unwrap().to_string()
}

/// A subscriber that has subscribed once this returns; its output has what it received.
fn subscriber(mut command: Command, ready: bool) -> Child {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    if ready {
        let mut line = String::new();
        let stdout = child.stdout.as_mut().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    } else {
        std::thread::sleep(Duration::from_millis(500));
    }
    child
}

fn received(child: Child) -> String {
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// The asynchronous invocation a destination made of `function`, once it is done.
fn delivered_to(server: &Server, function: &str) -> Value {
    for _ in 0..200 {
        let listed = server.admin_json(&format!("/v1/functions/{function}/async"));
        if let Some(first) = listed.as_array().and_then(|l| l.first()) {
            return wait_final(server, first["id"].as_str().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{function} got nothing");
}

#[test]
fn outcomes_reach_functions_and_brokers_with_their_origin() {
    let kafka = Kafka::start();
    kafka.create("stats", 1);
    let nats = Nats::start();
    let mqtt = Mosquitto::start();
    let server = Server::start_with(&[
        "--destination-kafka",
        &kafka.address(),
        "--destination-nats",
        &nats.url(),
        "--destination-mqtt",
        &mqtt.url(),
    ]);
    server.deploy("sink", "echo", json!({}));
    server.deploy(
        "to-function",
        "echo",
        json!({"on_success": "function:sink"}),
    );
    server.deploy("to-kafka", "echo", json!({"on_success": "kafka:stats"}));
    server.deploy("to-nats", "echo", json!({"on_success": "nats:iot.stats"}));
    server.deploy("to-mqtt", "echo", json!({"on_success": "mqtt:plant/stats"}));

    let id = enqueue(&server, "to-function", "reading 1");
    let passed_on = delivered_to(&server, "sink");
    assert_eq!(passed_on["result"]["body"], "reading 1");
    let header = |name: &str| result_header(&passed_on["result"], &format!("x-echo-h-{name}"));
    assert_eq!(header("gust-invocation-id"), Some(id));
    assert_eq!(header("gust-origin").as_deref(), Some("async"));
    assert_eq!(header("gust-condition").as_deref(), Some("success"));
    assert_eq!(passed_on["trigger"], "destination");

    enqueue(&server, "to-kafka", "reading 2");
    assert_eq!(
        kafka_tool(&["read", &kafka.address(), "stats", "1"]).trim(),
        "reading 2"
    );

    let nats_tool = fixture_dir("nats-tool").join("nats_tool.py");
    let mut command = Command::new("python3");
    command
        .arg(nats_tool)
        .args(["subscribe", &nats.url(), "iot.stats", "1"]);
    let listening = subscriber(command, true);
    enqueue(&server, "to-nats", "reading 3");
    assert_eq!(received(listening).trim(), "success reading 3");

    let mut command = Command::new("mosquitto_sub");
    let port = mqtt.broker.port.to_string();
    command.args(["-p", &port, "-t", "plant/stats", "-C", "1", "-W", "30"]);
    let listening = subscriber(command, false);
    let id = enqueue(&server, "to-mqtt", "reading 4");
    let event: Value = serde_json::from_str(&received(listening)).unwrap();
    assert_eq!(event["id"], json!(id));
    assert_eq!(event["type"], "dev.gust.invocation.success");
    assert_eq!(event["data_base64"], "cmVhZGluZyA0");
}

#[test]
fn webhook_destinations_are_signed_as_callbacks() {
    let server = Server::start_with(&["--allow-private-callbacks"]);
    let (url, received) = receiver(vec![(200, "")]);
    let destination = format!("webhook:{url}");
    server.deploy("to-webhook", "echo", json!({ "on_success": destination }));
    let id = enqueue(&server, "to-webhook", "reading 5");
    let (head, body) = received.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(body, "reading 5");
    assert_eq!(header(&head, "gust-invocation-id"), Some(id.as_str()));
    assert_eq!(header(&head, "gust-function"), Some("to-webhook"));
    assert!(header(&head, "x-gust-signature").is_some_and(|s| s.contains(",v1=")));
}

#[test]
fn failures_go_to_the_failure_destination() {
    let server = Server::start();
    server.deploy("sink", "echo", json!({}));
    let config = json!({"on_failure": "function:sink", "max_retries": 0});
    server.deploy("broken", "panic", config);
    let id = enqueue(&server, "broken", "");
    assert_eq!(wait_final(&server, &id)["state"], "dead");
    let report = delivered_to(&server, "sink");
    let report: Value = serde_json::from_str(report["result"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(report["invocation_id"], json!(id));
    assert_eq!(report["function"], "broken");
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn destinations_the_node_cannot_reach_are_refused_at_deploy() {
    let server = Server::start();
    let refused = [
        (
            "kafka:stats",
            "start it with `gust serve --destination-kafka",
        ),
        ("function:itself", "cannot be its own destination"),
        (
            "webhook:http://127.0.0.1:9/x",
            "loopback, private or link-local",
        ),
        ("sqs:queue", "unknown kind"),
    ];
    for (destination, says) in refused {
        let response = server.deploy_raw(
            "itself",
            std::fs::read(crate::harness::guest("echo")).unwrap(),
            json!({ "on_success": destination }),
        );
        let (status, _, message) = error_of(response);
        assert_eq!(status, 400, "{destination}: {message}");
        assert!(message.contains(says), "{destination}: {message}");
    }
}
