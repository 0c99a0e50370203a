//! MQTT triggers against a real mosquitto: QoS 1 messages run in order and are acknowledged
//! after, messages published while Gust is down arrive after it starts (a persistent session),
//! and a broker that cannot be reached is refused at `trigger add`.

use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::broker::Broker;
use crate::harness::{Server, running_as_root, stderr, stdout};
use crate::subject_log::{bodies, consume, events_delivered, free_port};

/// mosquitto on the loopback, without persistence.
pub struct Mosquitto {
    pub broker: Broker,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let broker = Broker::start("mosquitto", |port, dir| {
            let config = dir.join("mosquitto.conf");
            let text =
                format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
            std::fs::write(&config, text).unwrap();
            let mut command = Command::new("mosquitto");
            command.args(["-c", config.to_str().unwrap()]);
            command
        });
        Mosquitto { broker }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.broker.port)
    }

    /// Publishes `n=FROM..TO` with QoS 1, in order.
    pub fn publish(&self, topic: &str, numbers: std::ops::Range<usize>) {
        for n in numbers {
            let status = Command::new("mosquitto_pub")
                .args(["-p", &self.broker.port.to_string(), "-q", "1", "-t", topic])
                .args(["-m", &format!("n={n}")])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}

fn expected(numbers: std::ops::Range<usize>) -> Vec<String> {
    numbers.map(|n| format!("n={n}")).collect()
}

/// Waits until the trigger of `function` says it runs (its subscription is made).
pub fn wait_running(server: &Server, function: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stdout(&server.cli(&["trigger", "ls", function])).contains("status=running") {
        assert!(Instant::now() < deadline, "the trigger did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn messages_run_in_order_and_those_sent_while_down_arrive_after_restart() {
    if !running_as_root() {
        eprintln!("skipped: the fixture is a process function, which needs the sandbox (root)");
        return;
    }
    let broker = Mosquitto::start();
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    let url = broker.url();
    consume(&server, &[], &["--mqtt", &url, "--topic", "sensors/+"]);
    wait_running(&server, "log");
    broker.publish("sensors/a", 0..10);
    assert_eq!(bodies(&server, 10), expected(0..10));
    assert_eq!(events_delivered(&server, "mqtt"), 10);

    server.signal_and_wait("KILL");
    broker.publish("sensors/b", 10..15);
    let server = Server::start_in(data.path(), &[]);
    // At least once: one in flight at the kill may come twice; each comes, in order.
    let mut seen = bodies(&server, 15);
    seen.dedup();
    assert_eq!(seen, expected(0..15), "kept by the broker for the session");
}

#[test]
fn an_unreachable_broker_is_refused_at_trigger_add() {
    let server = Server::start();
    server.deploy("hello", "hello", crate::harness::public());
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let refused = server.cli(&["trigger", "add", "hello", "--mqtt", &url, "--topic", "t"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot reach MQTT"),
        "{}",
        stderr(&refused)
    );
}
