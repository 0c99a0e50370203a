//! Three `gust serve` nodes joined over one nats-server with JetStream: a function deployed,
//! an alias moved, a route added or a schedule set on one node takes effect on all of them.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::async_queue::enqueue;
use crate::aws_cli::Aws;
use crate::harness::{Server, error_of, guest, public, wait_until, wait_within};
use crate::mqtt_triggers::{Mosquitto, wait_running};
use crate::nats_triggers::Nats;
use crate::schedules::{firings, scheduled_ms};

struct Cluster {
    nodes: Vec<Server>,
    _dirs: Vec<TempDir>,
    nats: Nats,
}

impl Cluster {
    /// Nodes `a`, `b` and `c`, sharing the first one's admin token and secrets' key.
    fn start() -> Cluster {
        let nats = Nats::start();
        let url = nats.url();
        let dirs: Vec<TempDir> = (0..3).map(|_| TempDir::new().unwrap()).collect();
        let mut nodes: Vec<Server> = Vec::new();
        for (dir, name) in dirs.iter().zip(["a", "b", "c"]) {
            if let Some(first) = nodes.first() {
                std::fs::write(dir.path().join("admin.token"), &first.token).unwrap();
                let key = first.data_dir.join("secret.key");
                std::fs::copy(key, dir.path().join("secret.key")).unwrap();
            }
            let args = ["--cluster", &url, "--node-name", name];
            nodes.push(Server::start_in(dir.path(), &args));
        }
        Cluster {
            nodes,
            _dirs: dirs,
            nats,
        }
    }
}

/// The version that answers `path` on `node`, with the answer's status.
fn answer(node: &Server, path: &str) -> (u16, Option<String>) {
    let response = node.get(path).send().unwrap();
    let version = response
        .headers()
        .get("x-gust-version")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), version)
}

#[test]
fn a_function_deployed_on_one_node_answers_on_every_node() {
    let cluster = Cluster::start();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    a.deploy("hello", "hello", public());
    for node in [b, c] {
        let greeting = node.get("/fn/hello?name=node").send().unwrap().text();
        assert_eq!(greeting.unwrap(), "Hello, node!\n");
    }

    b.deploy("hello", "hello", json!({"public": true, "memory_mb": 256}));
    wait_until(
        || answer(c, "/fn/hello") == (200, Some("2".into())),
        "c to serve the version deployed on b",
    );
    assert_eq!(c.admin_json("/v1/functions/hello")["latest"]["number"], 2);

    let deleted = c.cli(&["rm", "hello"]);
    assert!(deleted.status.success());
    wait_until(
        || answer(a, "/fn/hello").0 == 404,
        "a to forget the function deleted on c",
    );
}

#[test]
fn an_alias_and_a_route_set_on_one_node_take_effect_on_another() {
    let cluster = Cluster::start();
    let [a, b, _] = &cluster.nodes[..] else {
        unreachable!()
    };
    a.deploy("hello", "hello", public());
    a.deploy("hello", "hello", json!({"public": true, "memory_mb": 256}));
    b.cli_ok(&["alias", "set", "hello", "live", "1"]);
    wait_until(
        || answer(a, "/fn/hello@live") == (200, Some("1".into())),
        "a to send hello@live to version 1",
    );
    b.cli_ok(&["alias", "set", "hello", "live", "2"]);
    wait_until(
        || answer(a, "/fn/hello@live") == (200, Some("2".into())),
        "a to follow the alias moved on b",
    );

    b.cli_ok(&["route", "add", "GET /greet", "hello"]);
    wait_until(
        || answer(a, "/greet") == (200, Some("2".into())),
        "a to route the path added on b",
    );
}

#[test]
fn a_schedule_fires_once_per_tick_over_the_cluster() {
    let cluster = Cluster::start();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    a.deploy("echo", "echo", public());
    b.cli_ok(&["trigger", "add", "echo", "--cron", "* * * * * *"]);
    let scheduled = |node: &Server| {
        let fired: Vec<u128> = firings(node).iter().map(scheduled_ms).collect();
        fired
    };
    // Thirty seconds of a schedule that fires every second.
    let thirty = || scheduled(a).len() >= 30;
    wait_within(Duration::from_secs(60), thirty, "thirty firings");
    let fired = scheduled(a);
    let ticks: BTreeSet<u128> = fired.iter().copied().collect();
    assert_eq!(ticks.len(), fired.len(), "each tick fired once: {fired:?}");
    for node in [b, c] {
        let seen: BTreeSet<u128> = scheduled(node).into_iter().collect();
        assert!(seen.is_superset(&ticks), "every node sees the one queue");
    }
}

/// How many invocations of `function` are in `state`, up to 1,000.
fn in_state(node: &Server, function: &str, state: &str) -> usize {
    let path = format!("/v1/functions/{function}/async?state={state}&limit=1000");
    node.admin_json(&path).as_array().unwrap().len()
}

#[test]
fn no_accepted_invocation_is_lost_when_a_node_is_killed() {
    const TOTAL: usize = 10_000;
    let mut cluster = Cluster::start();
    cluster.nodes[0].deploy("busy", "busy", public());
    let ids: Vec<String> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..TOTAL / 1000)
            .map(|batch| {
                let node = &cluster.nodes[batch % 3];
                scope.spawn(move || {
                    (0..1000)
                        .map(|_| enqueue(node, "/async/busy?sleep_ms=2", ""))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|sender| sender.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), TOTAL);

    // Killed in the middle of the run, holding leases on what it was running.
    let a = &cluster.nodes[0];
    wait_until(
        || a.admin_json("/v1/usage")["total"]["invocations"].as_u64() > Some(1000),
        "a thousand invocations to run",
    );
    cluster.nodes[2].signal_and_wait("KILL");
    let [a, b, _] = &cluster.nodes[..] else {
        unreachable!()
    };
    wait_until_drained(a, "busy");
    for state in ["queued", "running", "failed", "dead", "cancelled"] {
        assert_eq!(in_state(b, "busy", state), 0, "{state}");
    }
    all_succeeded(a, &ids);
}

/// Waits until no invocation of `function` waits or runs, as `node` sees the queue.
fn wait_until_drained(node: &Server, function: &str) {
    for _ in 0..1200 {
        let left = ["queued", "running", "failed"].map(|state| in_state(node, function, state));
        if left == [0, 0, 0] {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{function}'s invocations did not all finish");
}

/// Asserts that every one of `ids` succeeded, as `node` sees them.
fn all_succeeded(node: &Server, ids: &[String]) {
    std::thread::scope(|scope| {
        for part in ids.chunks(ids.len().div_ceil(4)) {
            scope.spawn(move || {
                for id in part {
                    let view = node.admin_json(&format!("/v1/invocations/{id}"));
                    assert_eq!(view["state"], "succeeded", "{id}: {view}");
                }
            });
        }
    });
}

#[test]
fn a_nats_restart_loses_no_accepted_invocation() {
    let mut cluster = Cluster::start();
    let Cluster { nodes, nats, .. } = &mut cluster;
    nodes[0].deploy("busy", "busy", public());
    let ids: Vec<String> = (0..300)
        .map(|i| enqueue(&nodes[i % 3], "/async/busy?sleep_ms=20", ""))
        .collect();
    nats.restart(|| {
        let refused = nodes[1].post("/async/busy").send().unwrap();
        let (status, _, message) = error_of(refused);
        assert_eq!(status, 503, "{message}");
        std::thread::sleep(Duration::from_secs(2));
    });
    wait_until_drained(&nodes[0], "busy");
    all_succeeded(&nodes[2], &ids);
}

#[test]
fn an_mqtt_trigger_spreads_its_messages_over_the_nodes_once_each() {
    let broker = Mosquitto::start();
    let cluster = Cluster::start();
    let [a, b, _] = &cluster.nodes[..] else {
        unreachable!()
    };
    a.deploy("hello", "hello", public());
    b.cli_ok(&[
        "trigger",
        "add",
        "hello",
        "--mqtt",
        &broker.url(),
        "--topic",
        "t",
    ]);
    wait_running(a, "hello");
    // Every node subscribes; a message published before all have goes to those that have.
    std::thread::sleep(Duration::from_secs(1));
    broker.publish("t", 0..30);
    let invocations = || a.admin_json("/v1/usage")["total"]["invocations"].as_u64();
    wait_until(|| invocations() >= Some(30), "30 invocations");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(invocations(), Some(30), "each message ran once");
}

#[test]
fn a_secret_and_a_token_made_on_one_node_work_on_the_others() {
    let cluster = Cluster::start();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let set = b.admin(reqwest::Method::PUT, "/v1/secrets/db-password");
    assert_eq!(set.body("s3cr3t").send().unwrap().status(), 200);
    let listed = || {
        a.admin_json("/v1/secrets")
            .to_string()
            .contains("db-password")
    };
    wait_until(listed, "a to know the secret set on b");
    let config = json!({"public": true, "secrets": {"DB_PASSWORD": "db-password"}});
    a.deploy("env", "env", config);
    let seen: serde_json::Value = c.get("/fn/env").send().unwrap().json().unwrap();
    assert_eq!(seen["DB_PASSWORD"], "s3cr3t");

    let token = c.cli_ok(&["token", "create", "--role", "deployer"]);
    let used = a
        .request(reqwest::Method::GET, "/v1/functions")
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(used.status(), 200, "a token made on c works on a");
}

#[test]
fn a_counter_incremented_on_every_node_loses_no_increment() {
    let cluster = Cluster::start();
    let config = json!({"public": true, "kv": ["counters"]});
    cluster.nodes[0].deploy("counter", "counter", config);
    std::thread::scope(|scope| {
        for node in &cluster.nodes {
            scope.spawn(move || {
                for _ in 0..50 {
                    assert_eq!(answer(node, "/fn/counter?key=hits").0, 200);
                }
            });
        }
    });
    for node in &cluster.nodes {
        assert_eq!(node.cli_ok(&["kv", "get", "counters", "hits"]), "150");
    }
}

#[test]
fn an_upload_to_one_node_raises_an_event_that_any_node_runs() {
    let cluster = Cluster::start();
    let [a, b, _] = &cluster.nodes[..] else {
        unreachable!()
    };
    a.deploy("echo", "echo", public());
    a.cli_ok(&["bucket", "create", "photos"]);
    a.cli_ok(&[
        "trigger", "add", "echo", "--bucket", "photos", "--events", "created",
    ]);
    let file = a.data_dir.join("cat.jpg");
    std::fs::write(&file, b"not really a jpeg").unwrap();
    Aws::root(a).ok(&["s3", "cp", file.to_str().unwrap(), "s3://photos/cat.jpg"]);
    let raised = || in_state(b, "echo", "succeeded") == 1;
    wait_until(raised, "the upload's event to run, as b sees the queue");
}

#[test]
fn every_node_reports_the_usage_of_all() {
    let cluster = Cluster::start();
    let nodes = &cluster.nodes;
    nodes[0].deploy("hello", "hello", public());
    for (node, calls) in nodes.iter().zip([3, 4, 5]) {
        for _ in 0..calls {
            assert_eq!(answer(node, "/fn/hello").0, 200);
        }
    }
    for node in nodes {
        wait_until(
            || node.admin_json("/v1/usage")["total"]["invocations"] == 12,
            "every node to count the 12 invocations made on the three",
        );
        let records = node.invocations("hello", 12);
        assert_eq!(records.len(), 12);
        let billed_ms: u64 = records
            .iter()
            .map(|r| r["billed_ms"].as_u64().unwrap())
            .sum();
        let billed_seconds = node.admin_json("/v1/usage")["total"]["billed_seconds"].as_f64();
        assert_eq!(billed_seconds, Some(billed_ms as f64 / 1000.0));
    }
}

#[test]
fn while_nats_is_away_warm_functions_answer_and_deploys_get_a_503() {
    let mut cluster = Cluster::start();
    let Cluster { nodes, nats, .. } = &mut cluster;
    let [a, b, _] = &nodes[..] else {
        unreachable!()
    };
    a.deploy("hello", "hello", public());
    assert_eq!(answer(b, "/fn/hello").0, 200);
    let hello = std::fs::read(guest("hello")).unwrap();

    nats.restart(|| {
        assert_eq!(answer(b, "/fn/hello").0, 200, "a warm function answers");
        let refused = a.deploy_raw("other", hello.clone(), public());
        let (status, code, message) = error_of(refused);
        assert_eq!((status, code.as_str()), (503, "unavailable"), "{message}");
        assert!(message.contains("NATS"), "{message}");
    });

    wait_until(
        || a.deploy_raw("other", hello.clone(), public()).status() == 200,
        "deploys to work again once NATS is back",
    );
    wait_until(
        || answer(b, "/fn/other").0 == 200,
        "b to serve what a deployed after the outage",
    );
}
