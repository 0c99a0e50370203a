//! Scoped tokens: each role does what it says, to the functions it names, and nothing else.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Server, error_of, public, stderr, stdout};

fn create(server: &Server, args: &[&str]) -> String {
    let output = server.cli(&[&["token", "create"][..], args].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}

fn as_bearer(
    server: &Server,
    token: &str,
    method: Method,
    path: &str,
) -> reqwest::blocking::Response {
    server
        .request(method, path)
        .bearer_auth(token)
        .send()
        .unwrap()
}

#[test]
fn an_invoker_calls_its_functions_and_nothing_else() {
    let server = Server::start();
    server.deploy("closed", "echo", json!({}));
    server.deploy("other", "echo", json!({}));
    let token = create(&server, &["--role", "invoker", "--function", "closed"]);
    assert!(token.starts_with("gust_"), "{token}");

    let called = as_bearer(&server, &token, Method::GET, "/fn/closed");
    assert_eq!(called.status(), 200);
    assert!(
        called.headers().get("x-echo-h-authorization").is_none(),
        "never reaches it"
    );

    let (status, code, message) = error_of(as_bearer(&server, &token, Method::GET, "/fn/other"));
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(message.contains("not `other`"), "{message}");

    let (status, _, message) = error_of(as_bearer(&server, &token, Method::GET, "/v1/functions"));
    assert_eq!(status, 403);
    assert!(message.contains("`read` permission"), "{message}");

    let queued = server
        .post("/async/closed")
        .bearer_auth(&token)
        .body("later")
        .send()
        .unwrap();
    assert_eq!(queued.status(), 202);
    let id = queued.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = as_bearer(
        &server,
        &token,
        Method::GET,
        &format!("/v1/invocations/{id}"),
    );
    assert_eq!(
        view.status(),
        200,
        "it follows its own asynchronous invocations"
    );
    let deploy = server
        .request(Method::PATCH, "/v1/functions/closed")
        .bearer_auth(&token)
        .json(&json!({"public": true}))
        .send()
        .unwrap();
    assert_eq!(deploy.status(), 403);
}

#[test]
fn readers_read_deployers_deploy_their_own() {
    let server = Server::start();
    server.deploy("api", "echo", public());
    server.deploy("billing", "echo", public());
    let reader = create(&server, &["--role", "reader"]);
    for path in ["/v1/functions", "/v1/functions/api/logs", "/v1/usage"] {
        assert_eq!(
            as_bearer(&server, &reader, Method::GET, path).status(),
            200,
            "{path}"
        );
    }
    let (status, _, message) = error_of(as_bearer(
        &server,
        &reader,
        Method::DELETE,
        "/v1/functions/api",
    ));
    assert_eq!(status, 403);
    assert!(
        message.contains("(granted to: admin, deployer)"),
        "{message}"
    );
    assert_eq!(
        as_bearer(&server, &reader, Method::GET, "/v1/tokens").status(),
        403
    );

    let deployer = create(&server, &["--role", "deployer", "--function", "api"]);
    let patch = |name: &str| {
        server
            .request(Method::PATCH, &format!("/v1/functions/{name}"))
            .bearer_auth(&deployer)
            .json(&json!({"memory_mb": 64}))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(patch("api"), 201);
    assert_eq!(patch("billing"), 403);
}

#[test]
fn tokens_are_listed_without_secrets_stored_hashed_and_revocable() {
    let server = Server::start();
    server.deploy("closed", "echo", json!({}));
    let token = create(&server, &["--role", "invoker", "--expires", "30d"]);
    assert_eq!(
        as_bearer(&server, &token, Method::GET, "/fn/closed").status(),
        200
    );
    let listed = stdout(&server.cli(&["token", "ls"]));
    let secret = token.rsplit('_').next().unwrap();
    assert!(!listed.contains(secret), "{listed}");
    let id = token.split('_').nth(1).unwrap();
    let line = listed.lines().find(|l| l.starts_with(id)).unwrap();
    assert!(
        line.contains("invoker") && line.contains(&format!("gust_{id}")),
        "{line}"
    );
    assert!(!line.ends_with('-'), "its last use is shown: {line}");
    let database = std::fs::read(server.data_dir.join("gust.db")).unwrap_or_default();
    let wal = std::fs::read(server.data_dir.join("gust.db-wal")).unwrap_or_default();
    let stored = String::from_utf8_lossy(&[database, wal].concat()).into_owned();
    assert!(
        !stored.contains(secret),
        "only a hash of the secret is stored"
    );

    assert!(server.cli(&["token", "revoke", id]).status.success());
    let after = as_bearer(&server, &token, Method::GET, "/fn/closed");
    assert_eq!(
        after.status(),
        404,
        "a private function, to a caller without a valid token"
    );
    let api = as_bearer(&server, &token, Method::GET, "/v1/functions");
    assert_eq!(api.status(), 401);

    let short = create(&server, &["--role", "reader", "--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let (status, _, message) = error_of(as_bearer(&server, &short, Method::GET, "/v1/functions"));
    assert_eq!(status, 401);
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn the_api_document_states_what_each_route_needs() {
    let server = Server::start();
    let document: Value = server
        .get("/v1/openapi.json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let roles = operation["x-gust-roles"].as_array();
            assert!(roles.is_some_and(|r| !r.is_empty()), "{method} {path}");
            operations += 1;
        }
    }
    assert!(operations >= 20);
    let deploy = &paths["/v1/functions/{name}"]["put"];
    assert_eq!(deploy["x-gust-roles"], json!(["admin", "deployer"]));
}
