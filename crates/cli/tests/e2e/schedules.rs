use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Server, error_of, public, result_header, stderr, stdout};

/// Results of the schedule firings that have succeeded so far.
pub fn firings(server: &Server) -> Vec<Value> {
    let done = server.admin_json("/v1/functions/echo/async?state=succeeded&limit=1000");
    done.as_array()
        .unwrap()
        .iter()
        .filter(|i| i["trigger"] == "schedule")
        .map(|i| i["result"].clone())
        .collect()
}

fn wait_for_firings(server: &Server, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let fired = firings(server);
        if fired.len() >= count {
            return fired;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("fewer than {count} firings");
}

pub fn scheduled_ms(result: &Value) -> u128 {
    let event: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    let time = humantime::parse_rfc3339(event["scheduled_time"].as_str().unwrap()).unwrap();
    time.duration_since(UNIX_EPOCH).unwrap().as_millis()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn a_schedule_delivers_cloudevents_through_the_queue() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let added = server.cli(&["trigger", "add", "echo", "--cron", "* * * * * *"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let fired = wait_for_firings(&server, 2);
    let header = |name: &str| result_header(&fired[0], name);
    assert_eq!(header("x-echo-method").as_deref(), Some("POST"));
    assert_eq!(header("x-echo-h-ce-specversion").as_deref(), Some("1.0"));
    assert_eq!(
        header("x-echo-h-ce-type").as_deref(),
        Some("dev.gust.schedule")
    );
    assert!(
        header("x-echo-h-ce-source")
            .unwrap()
            .starts_with("/gust/triggers/")
    );
    assert!(header("x-echo-h-ce-time").unwrap().ends_with('Z'));
    assert_eq!(header("x-echo-h-ce-id").unwrap().len(), 26);
    assert_ne!(
        fired[0]["headers"], fired[1]["headers"],
        "each firing has its own id and time"
    );

    let listed = stdout(&server.cli(&["trigger", "ls"]));
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(
        listed.contains("* * * * * *") && listed.contains("UTC"),
        "{listed}"
    );
    let rm = server.cli(&["trigger", "rm", &id]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_eq!(server.admin_json("/v1/triggers"), json!([]));
    let again = server.cli(&["trigger", "rm", &id]);
    assert!(!again.status.success());
}

#[test]
fn bad_schedules_are_refused_with_the_reason() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let add = |name: &str, body: Value| {
        error_of(
            server
                .admin(
                    reqwest::Method::POST,
                    &format!("/v1/functions/{name}/triggers"),
                )
                .json(&body)
                .send()
                .unwrap(),
        )
    };
    let (status, _, message) = add("echo", json!({"cron": "61 * * * * *"}));
    assert_eq!(status, 400);
    assert!(
        message.contains("the second 61 is out of range: use 0 to 59"),
        "{message}"
    );
    let (status, _, message) = add(
        "echo",
        json!({"cron": "* * * * * *", "timezone": "Nowhere/City"}),
    );
    assert_eq!(status, 400);
    assert!(message.contains("time zone"), "{message}");
    let (status, _, _) = add("nobody", json!({"cron": "* * * * * *"}));
    assert_eq!(status, 404);
    assert_eq!(server.admin_json("/v1/triggers"), json!([]));
}

#[test]
fn firings_missed_while_down_are_made_up_once() {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("echo", "echo", public());
    server
        .admin(reqwest::Method::POST, "/v1/functions/echo/triggers")
        .json(&json!({"cron": "* * * * * *"}))
        .send()
        .unwrap();
    // Kill just after a firing has run, so that the next one is due after the kill.
    let seen = wait_for_firings(&server, 1).len();
    while firings(&server).len() == seen {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal_and_wait("KILL");
    let killed_at = now_ms();
    drop(server);
    std::thread::sleep(Duration::from_millis(3500));
    let restarted_at = now_ms();
    let server = Server::start_in(dir.path(), &[]);
    let before = firings(&server).len();
    wait_for_firings(&server, before + 3);
    let made_up = firings(&server)
        .iter()
        .filter(|r| (killed_at..restarted_at).contains(&scheduled_ms(r)))
        .count();
    assert_eq!(made_up, 1, "three firings were missed; one is made up");
}

#[test]
fn one_unreadable_stored_schedule_does_not_stop_the_others() {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("echo", "echo", public());
    for cron in ["0 0 0 1 1 *", "* * * * * *"] {
        let added = server
            .admin(reqwest::Method::POST, "/v1/functions/echo/triggers")
            .json(&json!({"cron": cron}))
            .send()
            .unwrap();
        assert!(added.status().is_success());
    }
    server.signal_and_wait("TERM");
    drop(server);
    // A row written by hand, or by an older version whose parser took what this one refuses,
    // comes due first.
    let database = dir.path().join("gust.db");
    let script = "import sqlite3, sys\n\
        db = sqlite3.connect(sys.argv[1])\n\
        db.execute(\"UPDATE triggers SET config = json_set(config, '$.cron', 'not a schedule'), \
        state = json_set(state, '$.next_fire_at_ms', 0) \
        WHERE json_extract(config, '$.cron') = '0 0 0 1 1 *'\")\n\
        db.commit()\n";
    let edited = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&database)
        .status()
        .unwrap();
    assert!(edited.success());
    let server = Server::start_in(dir.path(), &[]);
    let before = firings(&server).len();
    wait_for_firings(&server, before + 2);
    assert!(server.server_log().contains("schedule cannot be read"));
}
