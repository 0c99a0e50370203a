//! What reaches a function of its caller's request: never Gust's token, never a header in
//! Gust's reserved names.

use reqwest::Method;
use serde_json::{Value, json};

use crate::async_queue::wait_final;
use crate::harness::{Server, error_of, fixture_dir, public, result_header, stdout};

/// Headers a caller might send to pass for Gust: a retry, a schedule's CloudEvent.
const FORGED: [(&str, &str); 3] = [
    ("x-gust-attempt", "7"),
    ("ce-type", "dev.gust.schedule"),
    ("ce-source", "/gust/triggers/forged"),
];

fn echoed_names(response: &reqwest::blocking::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .filter_map(|name| name.as_str().strip_prefix("x-echo-h-"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_admin_token_and_forged_headers_reach_no_function() {
    let server = Server::start();
    server.deploy("open", "echo", public());
    server.deploy("closed", "echo", json!({}));
    for function in ["open", "closed"] {
        let mut request = server.admin(Method::GET, &format!("/fn/{function}"));
        for (name, value) in FORGED {
            request = request.header(name, value);
        }
        let response = request.header("x-request-id", "r1").send().unwrap();
        assert_eq!(response.status(), 200, "{function}");
        let seen = echoed_names(&response);
        assert!(seen.contains(&"x-request-id".to_string()), "{seen:?}");
        for name in ["authorization", "x-gust-attempt", "ce-type", "ce-source"] {
            assert!(!seen.iter().any(|s| s == name), "{function} saw {name}");
        }
    }

    // A public function's own authorization scheme is the caller's business.
    let own = server
        .get("/fn/open")
        .header("authorization", "Bearer app-user-1")
        .send()
        .unwrap();
    assert_eq!(own.headers()["x-echo-h-authorization"], "Bearer app-user-1");

    // An asynchronous attempt carries Gust's attempt number, not the caller's.
    let mut queued = server.admin(Method::POST, "/async/open");
    for (name, value) in FORGED {
        queued = queued.header(name, value);
    }
    let accepted: Value = queued.body("{}").send().unwrap().json().unwrap();
    let view = wait_final(&server, accepted["id"].as_str().unwrap());
    let result = &view["result"];
    assert_eq!(
        result_header(result, "x-echo-h-x-gust-attempt").as_deref(),
        Some("1")
    );
    assert_eq!(result_header(result, "x-echo-h-ce-type"), None);
    assert_eq!(result_header(result, "x-echo-h-authorization"), None);
}

#[test]
fn gust_invoke_hands_a_process_function_no_token() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    server.deploy_process("probe", &dir, "python3 probe.py", &["--public"]);
    let output = server.cli(&["invoke", "probe", "--path", "/whoami"]);
    let me: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let headers = me["headers"].as_object().unwrap();
    assert!(
        headers
            .keys()
            .all(|h| !h.eq_ignore_ascii_case("authorization")),
        "{headers:?}"
    );
    assert!(!stdout(&output).contains(&server.token));
}

#[test]
fn to_an_anonymous_caller_a_private_function_does_not_exist() {
    let server = Server::start();
    server.deploy("closed", "echo", json!({}));
    let private = error_of(server.get("/fn/closed").send().unwrap());
    let missing = error_of(server.get("/fn/nothing").send().unwrap());
    assert_eq!((private.0, missing.0), (404, 404));
    assert_eq!(private.1, missing.1);
    assert_eq!(
        private.2.replace("closed", "NAME"),
        missing.2.replace("nothing", "NAME")
    );
    let queued = error_of(server.post("/async/closed").send().unwrap());
    assert_eq!(queued.0, 404);
}
