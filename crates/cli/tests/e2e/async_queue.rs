use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Server, error_of, public, result_header, stderr, stdout};

/// Polls an asynchronous invocation until it reaches a final state (bounded).
pub fn wait_final(server: &Server, id: &str) -> Value {
    for _ in 0..400 {
        let view = server.admin_json(&format!("/v1/invocations/{id}"));
        if ["succeeded", "dead", "cancelled"].contains(&view["state"].as_str().unwrap()) {
            return view;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("invocation {id} did not finish");
}

pub fn enqueue(server: &Server, path: &str, body: &str) -> String {
    let response = server
        .request(reqwest::Method::POST, path)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let accepted: Value = response.json().unwrap();
    let id = accepted["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/v1/invocations/{id}"));
    id
}

#[test]
fn an_async_invocation_runs_and_keeps_its_result() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let id = enqueue(&server, "/async/echo/items?x=1", "payload");
    let view = wait_final(&server, &id);
    assert_eq!(view["state"], "succeeded", "{view}");
    assert_eq!(view["attempts"], 1);
    assert_eq!(view["trigger"], "async");
    let result = &view["result"];
    assert_eq!(result["http_status"], 200);
    assert_eq!(result["body"], "payload");
    let header = |name: &str| result_header(result, name);
    assert_eq!(header("x-echo-path").as_deref(), Some("/items?x=1"));
    assert_eq!(header("x-echo-method").as_deref(), Some("POST"));
    assert_eq!(header("x-echo-h-x-gust-attempt").as_deref(), Some("1"));

    let cli = server.cli(&["invoke", "echo", "--async", "--data", "from cli"]);
    let id = stdout(&cli).trim().to_string();
    assert_eq!(wait_final(&server, &id)["result"]["body"], "from cli");
    let records = server.invocations("echo", 2);
    assert!(
        records.iter().all(|r| r["trigger"] == "async"),
        "{records:?}"
    );
}

#[test]
fn a_success_too_large_to_keep_is_kept_cut_not_retried() {
    let server = Server::start_with(&["--max-async-payload-kb", "8192"]);
    server.deploy("echo", "echo", public());
    let seven_mib = "x".repeat(7 << 20);
    let id = enqueue(&server, "/async/echo", &seven_mib);
    let view = wait_final(&server, &id);
    assert_eq!(view["state"], "succeeded", "{}", view["errors"]);
    assert_eq!(
        view["attempts"], 1,
        "a 2xx answer runs (and is billed) once"
    );
    let result = &view["result"];
    assert_eq!(result["truncated"], true);
    assert_eq!(result["body"].as_str().unwrap().len(), 6 << 20);
    assert_eq!(server.invocations("echo", 1).len(), 1);
}

#[test]
fn failures_are_retried_then_dead_lettered_and_can_be_replayed() {
    let server = Server::start_with(&["--retry-base-delay", "20ms"]);
    server.deploy("panic", "panic", json!({"public": true, "max_retries": 2}));
    let id = enqueue(&server, "/async/panic", "");
    let view = wait_final(&server, &id);
    assert_eq!(view["state"], "dead", "{view}");
    assert_eq!(view["attempts"], 3);
    let errors = view["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    for (i, error) in errors.iter().enumerate() {
        assert_eq!(error["attempt"], i + 1);
        assert_eq!(error["http_status"], 500);
        assert!(
            error["message"].as_str().unwrap().contains("trapped"),
            "{error}"
        );
    }
    assert!(
        view["logs"].as_array().unwrap().len() >= 3,
        "each attempt's stderr is kept"
    );
    let records = server.invocations("panic", 3);
    assert_eq!(records.len(), 3, "each attempt is recorded and billed");

    let dlq = stdout(&server.cli(&["dlq", "panic"]));
    assert!(dlq.contains(&id) && dlq.contains("#3:"), "{dlq}");
    let replay = server.cli(&["dlq", "replay", "panic", &id]);
    assert!(
        stdout(&replay).contains("requeued 1"),
        "{}",
        stdout(&replay)
    );
    let again = wait_final(&server, &id);
    assert_eq!(again["state"], "dead");
    assert_eq!(again["errors"].as_array().unwrap().len(), 6);
    let unknown = server.cli(&["dlq", "replay", "panic", "01BADID", &id]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("not a dead letter of `panic`: 01BADID"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn an_event_answered_with_4xx_is_refused_at_once_and_counted_as_an_error() {
    let server = Server::start();
    let config = json!({"public": true, "max_retries": 3});
    server.deploy("hello", "hello", config);
    // The function answers 400 to a body that is not JSON.
    let id = enqueue(&server, "/async/hello", "{");
    let view = wait_final(&server, &id);
    assert_eq!(
        (view["state"].as_str(), view["attempts"].as_u64()),
        (Some("dead"), Some(1))
    );
    let error = view["errors"][0]["message"].as_str().unwrap();
    assert!(error.contains("answered 400: not retried"), "{error}");
    let sync = server.post("/fn/hello").body("{").send().unwrap();
    assert_eq!(sync.status(), 400, "a request gets the answer as it is");
    let records = server.invocations("hello", 2);
    let status = |origin: &str| {
        let record = records.iter().find(|r| r["trigger"] == origin).unwrap();
        (record["status"].clone(), record["http_status"].clone())
    };
    assert_eq!(status("async"), (json!("error"), json!(400)), "{records:?}");
    assert_eq!(status("http"), (json!("ok"), json!(400)), "{records:?}");
    let usage = server.admin_json("/v1/usage?function=hello");
    assert_eq!(usage["total"]["errors"], 1, "{usage}");
}

#[test]
fn bad_async_requests_are_refused_before_anything_is_queued() {
    let server = Server::start_with(&["--max-async-payload-kb", "1"]);
    server.deploy("echo", "echo", public());
    let (status, _, _) = error_of(
        server
            .request(reqwest::Method::POST, "/async/nobody")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    for url in ["ftp://example.com/x", "not a url", "/relative"] {
        let response = server
            .request(reqwest::Method::POST, "/async/echo")
            .header("x-callback-url", url)
            .send()
            .unwrap();
        let (status, _, message) = error_of(response);
        assert_eq!(status, 400, "{url}");
        assert!(message.contains("X-Callback-Url"), "{message}");
    }
    let big = server
        .request(reqwest::Method::POST, "/async/echo")
        .body(vec![b'x'; 2048])
        .send()
        .unwrap();
    let (status, code, _) = error_of(big);
    assert_eq!((status, code.as_str()), (413, "too_large"));
    let listed = server.admin_json("/v1/functions/echo/async");
    assert_eq!(listed, json!([]), "nothing was queued");
    let private = Server::start();
    private.deploy("echo", "echo", json!({}));
    let response = private
        .request(reqwest::Method::POST, "/async/echo")
        .send()
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "private: not there without the token"
    );
}

#[test]
fn a_waiting_invocation_can_be_cancelled() {
    let server = Server::start_with(&["--retry-base-delay", "30s"]);
    server.deploy("panic", "panic", json!({"public": true, "max_retries": 1}));
    let id = enqueue(&server, "/async/panic", "");
    // After its first failure it waits 15-30 s for a retry: cancel it then.
    for _ in 0..200 {
        if server.admin_json(&format!("/v1/invocations/{id}"))["state"] == "failed" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cancel = server
        .admin(reqwest::Method::DELETE, &format!("/v1/invocations/{id}"))
        .send()
        .unwrap();
    assert_eq!(cancel.status(), 200);
    assert_eq!(
        server.admin_json(&format!("/v1/invocations/{id}"))["state"],
        "cancelled"
    );
    let again = server
        .admin(reqwest::Method::DELETE, &format!("/v1/invocations/{id}"))
        .send()
        .unwrap();
    assert_eq!(again.status(), 200, "cancelling is idempotent");

    server.deploy("echo", "echo", public());
    let done = enqueue(&server, "/async/echo", "x");
    assert_eq!(wait_final(&server, &done)["state"], "succeeded");
    let too_late = server
        .admin(reqwest::Method::DELETE, &format!("/v1/invocations/{done}"))
        .send()
        .unwrap();
    let (status, code, message) = error_of(too_late);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    assert!(message.contains("succeeded"), "{message}");
    let unknown = server
        .admin(reqwest::Method::DELETE, "/v1/invocations/nope")
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[test]
fn nothing_accepted_is_lost_when_the_server_is_killed() {
    let reruns = killed_and_restarted(1000, 200, &[]);
    println!("{reruns} invocations ran again after the kill (at least once delivery)");
}

/// A node that comes back under another name does not know the work it held: that work is
/// due again once its leases run out, as a dead node's is for the others.
#[test]
fn work_of_a_node_that_never_comes_back_runs_once_its_leases_run_out() {
    let reruns = killed_and_restarted(200, 500, &["--node-name", "another-node"]);
    assert!(reruns > 0, "the work running at the kill ran again");
}

/// Enqueues `total` invocations that take `sleep_ms` each, kills the server with SIGKILL,
/// starts it again with `restart_args` and waits for every invocation to succeed. Returns how
/// many ran again.
fn killed_and_restarted(total: usize, sleep_ms: u32, restart_args: &[&str]) -> usize {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("busy", "busy", public());
    for _ in 0..total {
        enqueue(&server, &format!("/async/busy?sleep_ms={sleep_ms}"), "");
    }
    server.signal_and_wait("KILL");
    drop(server);

    let server = Server::start_in(dir.path(), restart_args);
    let count = |state: &str| {
        server
            .admin_json(&format!(
                "/v1/functions/busy/async?state={state}&limit=1000"
            ))
            .as_array()
            .unwrap()
            .len()
    };
    let mut done = 0;
    for _ in 0..600 {
        done = count("succeeded");
        if done == total {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        done, total,
        "every accepted invocation completed after the restart"
    );
    for state in ["queued", "running", "failed", "dead"] {
        assert_eq!(count(state), 0, "{state}");
    }
    let all = server.admin_json("/v1/functions/busy/async?limit=1000");
    all.as_array()
        .unwrap()
        .iter()
        .filter(|i| i["attempts"].as_u64().unwrap() > 1)
        .count()
}

#[test]
fn one_functions_backlog_does_not_starve_another() {
    let server = Server::start();
    server.deploy("busy", "busy", public());
    server.deploy("echo", "echo", public());
    // 16 run at once per function: a backlog thousands deep keeps busy's workers full.
    for _ in 0..2500 {
        enqueue(&server, "/async/busy?sleep_ms=1000", "");
    }
    let late = enqueue(&server, "/async/echo", "me too");
    assert_eq!(wait_final(&server, &late)["state"], "succeeded");
    let waiting = server
        .admin_json("/v1/functions/busy/async?state=queued&limit=1000")
        .as_array()
        .unwrap()
        .len();
    assert!(waiting > 0, "echo ran while busy still had a backlog");
}

#[test]
fn past_its_backlog_limit_a_function_answers_429_and_keeps_what_it_has() {
    let server = Server::start_with(&[
        "--async-workers",
        "0",
        "--max-queued-per-function",
        "2",
        "--max-queued-mb",
        "1",
    ]);
    server.deploy("echo", "echo", public());
    server.deploy("other", "echo", public());
    enqueue(&server, "/async/echo", "one");
    enqueue(&server, "/async/echo", "two");
    let refused = server.post("/async/echo").body("three").send().unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    let (status, code, message) = error_of(refused);
    assert_eq!((status, code.as_str()), (429, "throttled"));
    assert!(message.contains("--max-queued-per-function"), "{message}");
    // The node's byte limit is shared by every function.
    let big = "x".repeat(700 * 1024);
    enqueue(&server, "/async/other", &big);
    let (status, _, message) = error_of(server.post("/async/other").body(big).send().unwrap());
    assert_eq!(status, 429);
    assert!(message.contains("--max-queued-mb"), "{message}");
    let waiting = server.admin_json("/v1/functions/echo/async?state=queued");
    assert_eq!(
        waiting.as_array().unwrap().len(),
        2,
        "what was accepted is kept"
    );
}
