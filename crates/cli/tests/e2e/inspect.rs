//! The CLI for one function and its invocations: `gust show`, `gust set`, `gust invocations`,
//! `gust async ls|show|cancel`, and `--output json` where a command prints data.

use serde_json::{Value, json};

use crate::harness::{Server, public};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_function_is_shown_changed_and_its_invocations_listed() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    server.cli_ok(&["alias", "set", "hello", "live", "1"]);
    server.cli_ok(&["trigger", "add", "hello", "--cron", "0 0 1 1 *"]);
    server.cli_ok(&["invoke", "hello", "--data", r#"{"name":"Ada"}"#]);

    let shown = server.cli_ok(&["show", "hello"]);
    for expected in [
        "memory       128 MB",
        "access       public",
        "live → 1",
        "cron ",
    ] {
        assert!(shown.contains(expected), "`{expected}` in:\n{shown}");
    }
    let changed = server.cli_ok(&["set", "hello", "--memory", "256", "--timeout", "5s"]);
    assert!(changed.contains("hello is at version 2"), "{changed}");
    let shown = json_of(&server.cli_ok(&["show", "hello", "-o", "json"]));
    assert_eq!(shown["function"]["latest"]["config"]["memory_mb"], 256);
    assert_eq!(shown["function"]["latest"]["config"]["timeout_ms"], 5000);
    assert_eq!(shown["aliases"][0]["version"], 1, "the alias stays pinned");
    let nothing = server.cli(&["set", "hello"]);
    assert!(!nothing.status.success());

    let table = server.cli_ok(&["invocations", "hello"]);
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains(" ok ") && row.contains("cold") && row.contains(" ms"),
        "{table}"
    );
    let records = json_of(&server.cli_ok(&["invocations", "hello", "-o", "json"]));
    assert_eq!(records[0]["version"], 1);
    let triggers = json_of(&server.cli_ok(&["trigger", "ls", "-o", "json"]));
    assert_eq!(triggers[0]["kind"], "cron");
}

#[test]
fn an_async_invocation_is_shown_and_cancelled_before_it_runs() {
    // A node that only accepts: the invocation stays queued until it is cancelled.
    let server = Server::start_with(&["--async-workers", "0"]);
    server.deploy("hello", "hello", json!({"public": true}));
    let id = server.cli_ok(&["invoke", "hello", "--async", "--data", "{}"]);
    let id = id.trim();
    let shown = server.cli_ok(&["async", "show", id]);
    assert!(shown.contains(id) && shown.contains("queued"), "{shown}");
    let cancelled = server.cli_ok(&["async", "cancel", id]);
    assert!(
        cancelled.contains(&format!("cancelled {id}")),
        "{cancelled}"
    );
    let unknown = server.cli(&["async", "show", "01NOSUCHID"]);
    assert!(!unknown.status.success());
    let listed =
        json_of(&server.cli_ok(&["async", "ls", "hello", "--state", "cancelled", "-o", "json"]));
    assert_eq!(listed[0]["id"], id);
    let dead = json_of(&server.cli_ok(&["dlq", "hello", "-o", "json"]));
    assert_eq!(dead, json!([]));
}
