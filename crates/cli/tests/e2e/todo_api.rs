//! The web API use case end to end: examples/todo-api deployed by its own script behind the
//! alias `live` and five routes, used with curl as a browser app would (CRUD, bad input, CORS),
//! then version 2 as a 10% canary, promoted, and rolled back.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Server, example_dir, guest, stderr, stdout};

const ORIGIN: &str = "https://app.example.com";

/// What curl got: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

fn curl(server: &Server, method: &str, path: &str, extra: &[&str]) -> Answer {
    let url = format!("{}{path}", server.url);
    let mut args = vec![
        "-s",
        "-i",
        "-X",
        method,
        "-H",
        "origin: https://app.example.com",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let output = Command::new("curl").args(&args).output().expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        stderr(&output)
    );
    let text = stdout(&output);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn send_json(server: &Server, method: &str, path: &str, body: &str) -> Answer {
    curl(
        server,
        method,
        path,
        &["-H", "content-type: application/json", "--data", body],
    )
}

fn deploy(server: &Server) {
    let script = example_dir("todo-api/deploy.sh");
    let gust = env!("CARGO_BIN_EXE_gust");
    let wasm = guest("todo-api");
    let output = Command::new(script)
        .args([gust, wasm.to_str().unwrap(), ORIGIN])
        .env("GUST_SERVER", &server.url)
        .env("GUST_TOKEN", &server.token)
        .output()
        .unwrap();
    assert!(output.status.success(), "deploy.sh: {}", stderr(&output));
}

#[test]
fn a_browser_app_uses_the_todo_api() {
    let server = Server::start();
    deploy(&server);
    deploy(&server); // a second run adds nothing twice

    let mut ids = Vec::new();
    for title in ["milk", "bread", "eggs"] {
        let created = send_json(
            &server,
            "POST",
            "/api/todos",
            &json!({"title": title}).to_string(),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.header("access-control-allow-origin"), ORIGIN);
        let todo = created.json();
        assert_eq!(
            created.header("location"),
            format!("/api/todos/{}", todo["id"])
        );
        ids.push(todo["id"].as_u64().unwrap());
    }
    let listed = curl(&server, "GET", "/api/todos", &[]);
    assert_eq!(listed.status, 200);
    let titles: Vec<Value> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, [json!("milk"), json!("bread"), json!("eggs")]);

    let path = format!("/api/todos/{}", ids[1]);
    let updated = send_json(
        &server,
        "PUT",
        &path,
        r#"{"title": "rye bread", "done": true}"#,
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let fetched = curl(&server, "GET", &path, &[]).json();
    assert_eq!(
        (fetched["title"].as_str(), fetched["done"].as_bool()),
        (Some("rye bread"), Some(true))
    );
    assert_eq!(curl(&server, "DELETE", &path, &[]).status, 204);
    let gone = curl(&server, "GET", &path, &[]);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], "not_found");
    assert_eq!(curl(&server, "DELETE", &path, &[]).status, 404);

    // Bad input: a clear JSON error, and nothing stored.
    for (method, path, body, says) in [
        (
            "POST",
            "/api/todos",
            r#"{"title": ""}"#,
            "1 to 200 characters",
        ),
        (
            "POST",
            "/api/todos",
            r#"{"title": "x", "owner": "me"}"#,
            "unknown field",
        ),
        ("POST", "/api/todos", "not json", "must be a todo as JSON"),
        (
            "PUT",
            "/api/todos/abc",
            r#"{"title": "x"}"#,
            "not a todo id",
        ),
    ] {
        let refused = send_json(&server, method, path, body);
        assert_eq!(
            refused.status, 400,
            "{method} {path} {body}: {}",
            refused.body
        );
        let message = refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(
        curl(&server, "GET", "/api/todos", &[])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let wrong = curl(&server, "PATCH", "/api/todos/1", &[]);
    assert_eq!(wrong.status, 405);
    assert!(
        wrong.header("allow").contains("DELETE"),
        "{:?}",
        wrong.headers
    );

    // The browser's preflight before a PUT from the app's origin.
    let preflight = curl(
        &server,
        "OPTIONS",
        "/api/todos/1",
        &[
            "-H",
            "access-control-request-method: PUT",
            "-H",
            "access-control-request-headers: content-type",
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), ORIGIN);
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("PUT")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        "content-type"
    );
}

#[test]
fn version_two_goes_out_as_a_canary_then_is_promoted_and_rolled_back() {
    let server = Server::start();
    deploy(&server);
    send_json(
        &server,
        "POST",
        "/api/todos",
        r#"{"title": "kept across versions"}"#,
    );
    // Version 2: the same code with another setting, as a new build would be.
    let wasm = guest("todo-api");
    let wasm = wasm.to_str().unwrap();
    server.cli_ok(&[
        "deploy",
        "todo-api",
        wasm,
        "--kv",
        "todos",
        "--env",
        "RELEASE=2",
    ]);
    server.cli_ok(&["alias", "set", "todo-api", "live", "1", "--split", "2=10"]);
    let versions = |n: usize| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for _ in 0..n {
            let answer = curl(&server, "GET", "/api/todos", &[]);
            assert_eq!(answer.status, 200);
            assert_eq!(answer.json()[0]["title"], "kept across versions");
            *counts
                .entry(answer.header("x-gust-version").to_string())
                .or_default() += 1;
        }
        counts
    };
    let split = versions(1000);
    let canary = split.get("2").copied().unwrap_or(0);
    assert!(
        (50..=150).contains(&canary),
        "version 2 got {canary} of 1000: {split:?}"
    );

    server.cli_ok(&["alias", "set", "todo-api", "live", "2"]);
    assert_eq!(versions(20), HashMap::from([("2".to_string(), 20)]));
    server.cli_ok(&["rollback", "todo-api"]);
    assert_eq!(versions(20), HashMap::from([("1".to_string(), 20)]));
}
