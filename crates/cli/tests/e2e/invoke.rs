use std::io::Read;

use serde_json::json;

use crate::harness::{Server, guest, public, stderr, stdout};

#[test]
fn a_deployed_function_answers_over_http_and_the_cli() {
    let server = Server::start();
    let deploy = server.cli(&[
        "deploy",
        "hello",
        guest("hello").to_str().unwrap(),
        "--public",
    ]);
    assert!(deploy.status.success(), "{}", stderr(&deploy));
    assert!(stdout(&deploy).contains("deployed hello version 1"));

    let first = server.get("/fn/hello/anything?name=x").send().unwrap();
    assert_eq!(first.status(), 200);
    let id = first.headers()["x-gust-invocation-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ulid_like(&id), "{id}");
    assert_eq!(first.headers()["x-gust-cold-start"], "true");
    assert_eq!(first.text().unwrap(), "Hello, x!\n");

    let second = server.get("/fn/hello").send().unwrap();
    assert!(second.headers().get("x-gust-cold-start").is_none());
    assert_ne!(
        second.headers()["x-gust-invocation-id"].to_str().unwrap(),
        id
    );

    let invoked = server.cli(&["invoke", "hello", "--data", r#"{"name":"cli"}"#]);
    assert!(invoked.status.success(), "{}", stderr(&invoked));
    assert_eq!(stdout(&invoked), "Hello, cli!\n");

    let bad_json = server
        .request(reqwest::Method::POST, "/fn/hello")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(
        bad_json.status(),
        400,
        "the function's own 400 passes through"
    );
}

#[test]
fn the_cli_shows_a_functions_own_error_and_says_what_went_wrong_with_gust() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    // The function's 400: its body on stdout, the status and invocation on stderr.
    let refused = server.cli(&["invoke", "hello", "--data", "{"]);
    assert!(!refused.status.success());
    assert!(
        stdout(&refused).contains("invalid JSON body"),
        "{}",
        stdout(&refused)
    );
    let said = stderr(&refused);
    assert!(
        said.contains("hello answered 400 Bad Request (invocation 0"),
        "{said}"
    );

    let gust = env!("CARGO_BIN_EXE_gust");
    let nowhere = tempfile::TempDir::new().unwrap();
    let run = |server_url: &str, args: &[&str]| {
        std::process::Command::new(gust)
            .args([
                "--server",
                server_url,
                "--data-dir",
                nowhere.path().to_str().unwrap(),
            ])
            .args(args)
            .env_remove("GUST_TOKEN")
            .env_remove("GUST_SERVER")
            .output()
            .unwrap()
    };
    // A server without a scheme is HTTP; without a token, the error says where it looked.
    let bare = server.url.trim_start_matches("http://");
    let unauthorized = run(bare, &["ls"]);
    let said = stderr(&unauthorized);
    assert!(said.contains("no token was found: looked in"), "{said}");
    assert!(said.contains("admin.token"), "{said}");
    // Another kind of server on the port: said so, with a short part of its answer.
    let foreign = run(&server.s3_url(), &["ls"]);
    let said = stderr(&foreign);
    assert!(said.contains("is it a Gust server?"), "{said}");
    assert!(said.len() < 600, "{said}");
}

fn ulid_like(id: &str) -> bool {
    id.len() == 26
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

#[test]
fn the_function_sees_method_path_query_headers_and_body() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let response = server
        .request(reqwest::Method::PUT, "/fn/echo/items/7?full=1&x=%20y")
        .header("x-test", "value-1")
        .body("payload")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-echo-method"], "PUT");
    assert_eq!(headers["x-echo-path"], "/items/7?full=1&x=%20y");
    assert_eq!(headers["x-echo-h-x-test"], "value-1");
    assert_eq!(response.text().unwrap(), "payload");

    let root = server.get("/fn/echo").send().unwrap();
    assert_eq!(root.headers()["x-echo-path"], "/");
}

#[test]
fn large_bodies_stream_both_ways() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let body: Vec<u8> = (0..24 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let response = server
        .request(reqwest::Method::POST, "/fn/echo")
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().unwrap() == body, "24 MiB echoed intact");

    // A response written in pieces reaches the caller piece by piece, not at the end.
    let mut streamed = server
        .get("/fn/echo?chunks=3&delay_ms=1500")
        .send()
        .unwrap();
    let mut first = [0u8; 64];
    let n = streamed.read(&mut first).unwrap();
    assert_eq!(&first[..n], b"chunk 0\n", "the first chunk arrives alone");
    let mut rest = String::new();
    streamed.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "chunk 1\nchunk 2\n");
}

#[test]
fn env_is_visible_and_outbound_http_needs_an_allowed_host() {
    let server = Server::start();
    server.deploy(
        "env",
        "env",
        json!({"public": true, "env": {"GREETING": "hi", "MODE": "test"}}),
    );
    let env: serde_json::Value = server.get("/fn/env").send().unwrap().json().unwrap();
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["MODE"], "test");
    assert!(
        env.get("PATH").is_none(),
        "the host's environment does not leak: {env}"
    );

    server.deploy("wstd", "hello-wstd", public());
    let host_port = server.url.trim_start_matches("http://").to_string();
    let target = format!("{}/fn/wstd/via-fetch", server.url);

    server.deploy(
        "allowed",
        "fetch",
        json!({"public": true, "allow_hosts": [host_port]}),
    );
    let allowed = server
        .get(&format!("/fn/allowed?url={target}"))
        .send()
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.text().unwrap(), "Hello from wstd at /via-fetch\n");

    server.deploy("denied", "fetch", public());
    let denied = server
        .get(&format!("/fn/denied?url={target}"))
        .send()
        .unwrap();
    assert_eq!(denied.status(), 403, "the guest saw HttpRequestDenied");
    server.invocations("denied", 1);
    let logs = server.cli(&["logs", "denied"]);
    assert!(stdout(&logs).contains("denied"), "{}", stdout(&logs));

    // An allowed name is no way to the host's own addresses: `localhost` leads to loopback.
    server.deploy(
        "by-name",
        "fetch",
        json!({"public": true, "allow_hosts": ["localhost"]}),
    );
    let by_name = target.replace("127.0.0.1", "localhost");
    let refused = server
        .get(&format!("/fn/by-name?url={by_name}"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    server.invocations("by-name", 1);
    let logs = stdout(&server.cli(&["logs", "by-name"]));
    assert!(logs.contains("resolves to the internal address"), "{logs}");
}

#[test]
fn components_from_other_toolchains_run_unchanged() {
    // Built with wstd's own bindings: imports wasi:cli and more, and also exports wasi:cli/run.
    let server = Server::start();
    server.deploy("wstd", "hello-wstd", public());
    let response = server.get("/fn/wstd/some/path").send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "Hello from wstd at /some/path\n");
}

#[test]
fn private_functions_need_the_token_and_never_see_it() {
    let server = Server::start();
    server.deploy("echo", "echo", json!({}));
    // Without the token, a private function is answered as one that does not exist.
    assert_eq!(server.get("/fn/echo").send().unwrap().status(), 404);
    let wrong = server.get("/fn/echo").bearer_auth("nope").send().unwrap();
    assert_eq!(wrong.status(), 404);
    let ok = server
        .get("/fn/echo")
        .bearer_auth(&server.token)
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("x-echo-h-authorization").is_none());
}
