//! The API gateway: routes call functions (without a token) with the original path and the
//! template's parameters; methods, hosts, conflicts, Gust's own prefixes, CORS preflights, and
//! changes that apply at once and outlast a restart.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Server, error_of, stderr, stdout};

fn add(server: &Server, args: &[&str]) -> String {
    let mut all = vec!["route", "add"];
    all.extend_from_slice(args);
    let added = server.cli(&all);
    assert!(added.status.success(), "{}", stderr(&added));
    stdout(&added)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string()
}

fn echoed(response: reqwest::blocking::Response, header: &str) -> Option<String> {
    let value = response.headers().get(format!("x-echo-{header}"))?;
    Some(value.to_str().unwrap().to_string())
}

#[test]
fn routes_call_their_function_with_the_path_and_parameters() {
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    server.deploy("echo", "echo", json!({}));
    server.deploy("hello", "hello", json!({}));
    let item = add(&server, &["GET /api/items/{id}", "echo"]);
    add(&server, &["ANY /files/{*rest}", "echo"]);
    add(
        &server,
        &["GET /api/items/{id}", "hello", "--host", "api.example.com"],
    );

    let response = server.get("/api/items/7?x=1").send().unwrap();
    assert_eq!(response.status(), 200, "no token needed");
    assert!(response.headers().contains_key("x-gust-invocation-id"));
    let path = echoed(server.get("/api/items/7?x=1").send().unwrap(), "path");
    assert_eq!(path.as_deref(), Some("/api/items/7?x=1"));
    let param = echoed(
        server.get("/api/items/7").send().unwrap(),
        "h-x-gust-param-id",
    );
    assert_eq!(param.as_deref(), Some("7"));
    let forged = server
        .get("/api/items/7")
        .header("x-gust-param-id", "forged")
        .send()
        .unwrap();
    assert_eq!(echoed(forged, "h-x-gust-param-id").as_deref(), Some("7"));
    let rest = server.post("/files/a/b.txt").body("x").send().unwrap();
    assert_eq!(
        echoed(rest, "h-x-gust-param-rest").as_deref(),
        Some("a/b.txt")
    );
    let hosted = server
        .get("/api/items/7")
        .header("host", "api.example.com")
        .send()
        .unwrap();
    assert_eq!(hosted.text().unwrap().trim(), "Hello, world!");

    let (status, _, message) = error_of(server.post("/api/items/7").send().unwrap());
    assert_eq!(
        (status, message.contains("use GET")),
        (405, true),
        "{message}"
    );
    let wrong = server.post("/api/items/7").send().unwrap();
    assert_eq!(wrong.headers()["allow"], "GET");
    let (status, _, _) = error_of(server.get("/nothing/here").send().unwrap());
    assert_eq!(status, 404);

    let conflict = server.cli(&["route", "add", "ANY /api/items/{key}", "hello"]);
    assert!(
        stderr(&conflict).contains(&format!("conflicts with route {item}")),
        "{}",
        stderr(&conflict)
    );
    let reserved = server.cli(&["route", "add", "GET /v1/mine", "hello"]);
    assert!(
        stderr(&reserved).contains("Gust's own"),
        "{}",
        stderr(&reserved)
    );

    server.signal_and_wait("TERM");
    let server = Server::start_in(data.path(), &[]);
    assert_eq!(
        server.get("/api/items/7").send().unwrap().status(),
        200,
        "kept"
    );
    let removed = server.cli(&["route", "rm", &item]);
    assert!(removed.status.success());
    assert_eq!(
        server.get("/api/items/7").send().unwrap().status(),
        404,
        "at once"
    );
    let listed: Value = server.admin_json("/v1/routes");
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[test]
fn routes_with_origins_answer_browsers() {
    let server = Server::start();
    server.deploy("echo", "echo", json!({}));
    let app = "https://app.example.com";
    add(
        &server,
        &["PUT /api/todos/{id}", "echo", "--cors-origin", app],
    );
    let preflight = server
        .request(reqwest::Method::OPTIONS, "/api/todos/1")
        .header("origin", app)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], app);
    assert_eq!(headers["access-control-allow-methods"], "PUT");
    assert_eq!(headers["access-control-allow-headers"], "content-type");

    let call = server
        .request(reqwest::Method::PUT, "/api/todos/1")
        .header("origin", app);
    let response = call.body("{}").send().unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], app);
    let stranger = server
        .request(reqwest::Method::PUT, "/api/todos/1")
        .header("origin", "https://evil.example")
        .send()
        .unwrap();
    assert!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
