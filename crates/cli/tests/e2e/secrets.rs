//! Secrets: a function gets its secret as a variable and through wasi:config, across a
//! restart, and no API answer, CLI output, log or database file shows the value; a secret that
//! does not exist is refused at deploy, and one in use cannot be removed.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Server, error_of, guest, stdout};

const VALUE: &str = "s3cr3t-value-4f1c9e77";

fn set_secret(server: &Server, name: &str, value: &str) -> reqwest::blocking::Response {
    server
        .admin(reqwest::Method::PUT, &format!("/v1/secrets/{name}"))
        .body(value.to_string())
        .send()
        .unwrap()
}

fn seen_by_function(server: &Server) -> Value {
    server.get("/fn/env").send().unwrap().json().unwrap()
}

#[test]
fn a_function_gets_its_secret_and_nothing_shows_the_value() {
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    assert_eq!(set_secret(&server, "db-password", VALUE).status(), 200);
    let config = json!({"public": true, "secrets": {"DB_PASSWORD": "db-password"}});
    server.deploy("env", "env", config.clone());
    assert_eq!(seen_by_function(&server)["DB_PASSWORD"], VALUE);

    server.signal_and_wait("TERM");
    let server = Server::start_in(data.path(), &[]);
    assert_eq!(
        seen_by_function(&server)["DB_PASSWORD"],
        VALUE,
        "kept across a restart"
    );
    server.deploy("config", "config-get", config);
    let through_config = server.get("/fn/config?key=DB_PASSWORD").send().unwrap();
    assert_eq!(
        through_config.text().unwrap(),
        VALUE,
        "through wasi:config/store too"
    );

    let file = data.path().join("rotated");
    std::fs::write(&file, "another-value\n").unwrap();
    let from_file = server.cli(&["secret", "set", "api-key", "--from-file"]);
    assert!(!from_file.status.success(), "--from-file needs its path");
    let set = server.cli(&[
        "secret",
        "set",
        "api-key",
        "--from-file",
        file.to_str().unwrap(),
    ]);
    assert!(set.status.success());
    let listed = stdout(&server.cli(&["secret", "ls"]));
    assert!(
        listed.contains("db-password") && listed.contains("api-key"),
        "{listed}"
    );

    let mut shown = vec![listed, server.server_log()];
    for path in [
        "/v1/functions/env",
        "/v1/functions/env/versions",
        "/v1/secrets",
    ] {
        shown.push(server.admin_json(path).to_string());
    }
    shown.push(stdout(&server.cli(&["logs", "env"])));
    for text in &shown {
        assert!(!text.contains(VALUE), "the value shows in {text}");
    }
    for file in ["gust.db", "gust.db-wal"] {
        let bytes = std::fs::read(data.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
            "the value is in {file}"
        );
    }
}

#[test]
fn unknown_secrets_are_refused_and_used_ones_kept() {
    let server = Server::start();
    let config = json!({"secrets": {"TOKEN": "nope"}});
    let refused = server.deploy_raw("env", std::fs::read(guest("env")).unwrap(), config);
    let (status, _, message) = error_of(refused);
    assert_eq!(status, 400);
    assert!(
        message.contains("the secret `nope`, which does not exist"),
        "{message}"
    );

    assert_eq!(set_secret(&server, "token", "t").status(), 200);
    server.deploy("env", "env", json!({"secrets": {"TOKEN": "token"}}));
    let in_use = server
        .admin(reqwest::Method::DELETE, "/v1/secrets/token")
        .send()
        .unwrap();
    let (status, _, message) = error_of(in_use);
    assert_eq!(status, 409);
    assert!(message.contains("used by env"), "{message}");

    let without = server
        .admin(reqwest::Method::PATCH, "/v1/functions/env")
        .json(&json!({"secrets": {}}))
        .send()
        .unwrap();
    assert!(without.status().is_success());
    let removed = server.cli(&["secret", "rm", "token"]);
    assert!(removed.status.success());
    assert_eq!(server.admin_json("/v1/secrets"), json!([]));

    let bad_name = set_secret(&server, "a%20b", "x");
    assert_eq!(bad_name.status(), 400);
}
