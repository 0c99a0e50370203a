use serde_json::json;

use crate::harness::{Server, error_of, guest, public, stderr};

fn deploy_error(
    server: &Server,
    artifact: Vec<u8>,
    config: serde_json::Value,
) -> (u16, String, String) {
    error_of(server.deploy_raw("f", artifact, config))
}

#[test]
fn unusable_artifacts_are_refused_with_the_reason() {
    let server = Server::start();
    let read = |name: &str| std::fs::read(guest(name)).unwrap();
    let cases = [
        (b"just some text".to_vec(), "not a WebAssembly binary"),
        (
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        (read("not-http"), "wasi:http/incoming-handler"),
        (read("unknown-import"), "test:unknown/oracle"),
    ];
    for (artifact, expected) in cases {
        let (status, code, message) = deploy_error(&server, artifact, json!({}));
        assert_eq!((status, code.as_str()), (400, "invalid_input"), "{message}");
        assert!(
            message.contains(expected),
            "{message:?} should mention {expected:?}"
        );
    }
    let functions = server.admin_json("/v1/functions");
    assert_eq!(functions, json!([]), "nothing was recorded");
}

#[test]
fn bad_settings_and_names_are_refused() {
    let server = Server::start();
    let hello = std::fs::read(guest("hello")).unwrap();
    let bad_configs = [
        (json!({"timeout_ms": 16 * 60 * 1000}), "timeout"),
        (json!({"memory_mb": 1}), "memory"),
        (json!({"memory_mb": 100000}), "memory"),
        (json!({"env": {"A=B": "x"}}), "environment variable"),
        (json!({"colour": "blue"}), "unknown field"),
    ];
    for (config, expected) in bad_configs {
        let (status, _, message) = deploy_error(&server, hello.clone(), config);
        assert_eq!(status, 400, "{message}");
        assert!(
            message.contains(expected),
            "{message:?} should mention {expected:?}"
        );
    }
    for name in ["Hello", "9lives", "a_b", &"x".repeat(64)] {
        let (status, _, message) = error_of(server.deploy_raw(name, hello.clone(), public()));
        assert_eq!(status, 400, "{name}");
        assert!(message.contains("invalid function name"), "{message}");
    }
    let no_artifact = server
        .admin(reqwest::Method::PUT, "/v1/functions/f")
        .multipart(reqwest::blocking::multipart::Form::new().text("config", "{}"))
        .send()
        .unwrap();
    let (status, _, message) = error_of(no_artifact);
    assert_eq!(status, 400);
    assert!(message.contains("artifact"), "{message}");
}

#[test]
fn uploads_over_the_limit_get_413() {
    let server = Server::start_with(&["--max-upload-mb", "1"]);
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize(2 * 1024 * 1024, 0);
    let (status, code, message) = deploy_error(&server, big, json!({}));
    assert_eq!((status, code.as_str()), (413, "too_large"), "{message}");
    assert!(message.contains("1 MiB"), "{message}");
    assert_eq!(server.deploy("hello", "hello", public())["created"], true);
}

#[test]
fn unknown_functions_and_missing_tokens() {
    let server = Server::start();
    let (status, code, _) = error_of(server.get("/fn/nobody").send().unwrap());
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, _, _) = error_of(server.get("/fn/NotAName").send().unwrap());
    assert_eq!(status, 400);
    let (status, _, _) = error_of(
        server
            .admin(reqwest::Method::GET, "/v1/functions/nobody")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    let (status, code, _) = error_of(server.get("/v1/functions").send().unwrap());
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    let wrong = server
        .get("/v1/functions")
        .bearer_auth("wrong")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let cli = server.cli(&["invoke", "nobody"]);
    assert!(!cli.status.success());
    assert!(
        stderr(&cli).contains("no function named `nobody`"),
        "{}",
        stderr(&cli)
    );
    let cli = server.cli(&["deploy", "f", "/nonexistent.wasm"]);
    assert!(!cli.status.success());
    let no_token = std::process::Command::new(env!("CARGO_BIN_EXE_gust"))
        .args(["ls", "--server", &server.url, "--data-dir", "/nonexistent"])
        .env_remove("GUST_TOKEN")
        .output()
        .unwrap();
    assert!(!no_token.status.success());
    assert!(stderr(&no_token).contains("token"), "{}", stderr(&no_token));
}
