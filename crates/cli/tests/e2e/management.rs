use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::{Server, guest, public, stderr, stdout};

#[test]
fn redeploys_make_versions_only_when_something_changed() {
    let server = Server::start();
    let first = server.deploy("hello", "hello", public());
    assert_eq!(
        (first["created"].clone(), first["version"]["number"].clone()),
        (json!(true), json!(1))
    );
    let same = server.deploy_raw("hello", std::fs::read(guest("hello")).unwrap(), public());
    assert_eq!(same.status(), 200);
    let same: serde_json::Value = same.json().unwrap();
    assert_eq!(
        (same["created"].clone(), same["version"]["number"].clone()),
        (json!(false), json!(1))
    );

    let reconfigured = server.deploy("hello", "hello", json!({"public": true, "memory_mb": 256}));
    assert_eq!(reconfigured["version"]["number"], 2);
    let new_code = server.deploy("hello", "echo", public());
    assert_eq!(new_code["version"]["number"], 3);
    assert_eq!(
        server.get("/fn/hello").send().unwrap().headers()["x-echo-method"],
        "GET"
    );

    let versions = server.admin_json("/v1/functions/hello/versions");
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(
        versions[0]["artifact_sha256"],
        versions[1]["artifact_sha256"]
    );
    assert_ne!(
        versions[1]["artifact_sha256"],
        versions[2]["artifact_sha256"]
    );

    let cli = server.cli(&["versions", "hello"]);
    assert!(stdout(&cli).lines().count() == 4, "{}", stdout(&cli));
    let cli = server.cli(&["versions", "hello", "--output", "json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 3);
}

#[test]
fn settings_change_without_a_new_upload() {
    let server = Server::start();
    server.deploy("env", "env", json!({"env": {"A": "1"}}));
    assert_eq!(server.get("/fn/env").send().unwrap().status(), 404);
    let patched = server
        .admin(reqwest::Method::PATCH, "/v1/functions/env")
        .json(&json!({"public": true, "env": {"A": "2"}, "memory_mb": 64}))
        .send()
        .unwrap();
    assert_eq!(patched.status(), 201);
    let patched: serde_json::Value = patched.json().unwrap();
    assert_eq!(patched["version"]["number"], 2);
    assert_eq!(patched["version"]["config"]["memory_mb"], 64);
    let env: serde_json::Value = server.get("/fn/env").send().unwrap().json().unwrap();
    assert_eq!(env["A"], "2");

    let bad = server
        .admin(reqwest::Method::PATCH, "/v1/functions/env")
        .json(&json!({"timeout_ms": 0}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    let not_json = server
        .admin(reqwest::Method::PATCH, "/v1/functions/env")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(not_json.status(), 400);
}

#[test]
fn list_get_and_delete() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    server.deploy("echo", "echo", json!({"timeout_ms": 5000}));
    let ls = server.cli(&["ls"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let text = stdout(&ls);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("hello") && text.contains("echo"), "{text}");
    let json_ls = server.cli(&["ls", "--output", "json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json_ls.stdout).unwrap();
    let names: Vec<&str> = parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "hello"]);

    let echo = server.admin_json("/v1/functions/echo");
    assert_eq!(echo["latest"]["config"]["timeout_ms"], 5000);
    assert_eq!(echo["latest"]["runtime"], "wasm");

    let rm = server.cli(&["rm", "hello"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_eq!(server.get("/fn/hello").send().unwrap().status(), 404);
    let rm_again = server.cli(&["rm", "hello"]);
    assert!(!rm_again.status.success());
    assert!(
        stderr(&rm_again).contains("no function named"),
        "{}",
        stderr(&rm_again)
    );
}

#[test]
fn the_openapi_document_describes_the_api() {
    let server = Server::start();
    let doc: serde_json::Value = server
        .get("/v1/openapi.json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/functions",
        "/v1/functions/{name}",
        "/v1/functions/{name}/versions",
        "/v1/functions/{name}/invocations",
        "/v1/functions/{name}/logs",
    ] {
        assert!(doc["paths"].get(path).is_some(), "missing {path}");
    }
    assert!(doc["paths"]["/v1/functions/{name}"].get("put").is_some());
    assert!(doc["components"]["schemas"].get("FunctionConfig").is_some());
}

#[test]
fn the_admin_token_file_is_private() {
    let server = Server::start();
    let mode = std::fs::metadata(server.data_dir.join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(server.token.len(), 64);
}
