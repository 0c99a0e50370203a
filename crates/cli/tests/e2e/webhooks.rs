//! Webhooks as third parties post to them: GitHub's and Stripe's signatures, and a plain HMAC
//! header, checked before anything is stored; what passes is run like an asynchronous
//! invocation and shows the sender's body and headers to the function.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

use crate::async_queue::wait_final;
use crate::harness::{Server, public, result_header, stderr, stdout};

fn hmac_hex(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Adds a webhook on `echo` with the CLI; returns its path, `/hooks/ID`.
fn add_webhook(server: &Server, flags: &[&str]) -> String {
    let mut args = vec!["trigger", "add", "echo", "--webhook"];
    args.extend_from_slice(flags);
    let added = server.cli(&args);
    assert!(added.status.success(), "{}", stderr(&added));
    let printed = stdout(&added);
    let url = printed
        .split("POST ")
        .nth(1)
        .expect("the webhook's URL")
        .trim();
    url.strip_prefix(&server.url).unwrap().to_string()
}

fn post(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> reqwest::blocking::Response {
    let mut request = server.post(path).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().unwrap()
}

fn queued(server: &Server) -> usize {
    let listed = server.admin_json("/v1/functions/echo/invocations");
    listed.as_array().unwrap().len()
}

#[test]
fn a_github_webhook_runs_signed_posts_and_refuses_the_rest() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let dir = TempDir::new().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "It's a Secret to Everybody\n").unwrap();
    let secret_arg = secret_file.to_str().unwrap();
    let hook = add_webhook(
        &server,
        &["--verify", "github", "--secret-file", secret_arg],
    );

    let body = r#"{"action":"opened"}"#;
    let signature = format!(
        "sha256={}",
        hmac_hex("It's a Secret to Everybody", body.as_bytes())
    );
    let headers = [
        ("x-hub-signature-256", signature.as_str()),
        ("x-github-event", "pull_request"),
        ("content-type", "application/json"),
    ];
    let accepted = post(&server, &hook, &headers, body);
    assert_eq!(accepted.status(), 202);
    let id = accepted.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_final(&server, &id);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["trigger"], "webhook");
    let result = &done["result"];
    assert_eq!(
        result_header(result, "x-echo-h-x-github-event").as_deref(),
        Some("pull_request")
    );
    assert_eq!(
        result_header(result, "x-echo-h-ce-type").as_deref(),
        Some("dev.gust.webhook.received")
    );
    assert_eq!(
        result_header(result, "x-echo-h-content-type").as_deref(),
        Some("application/json")
    );

    let before = queued(&server);
    let forged = [
        ("x-hub-signature-256", "sha256=00ff"),
        ("x-github-event", "push"),
    ];
    let refused = post(&server, &hook, &forged, body);
    assert_eq!(refused.status(), 401);
    let message = refused.json::<Value>().unwrap()["error"]["message"].to_string();
    assert!(message.contains("signature"), "{message}");
    assert_eq!(
        post(&server, &hook, &[], body).status(),
        401,
        "no signature at all"
    );
    assert_eq!(queued(&server), before, "nothing refused was stored");
    assert_eq!(
        post(&server, "/hooks/01NOSUCHHOOK", &headers, body).status(),
        404
    );

    let listed = stdout(&server.cli(&["trigger", "ls", "echo"]));
    assert!(
        !listed.contains("Secret"),
        "the secret is never shown: {listed}"
    );
}

#[test]
fn stripe_signatures_are_timed_and_plain_hmac_takes_its_own_header() {
    let server = Server::start();
    server.deploy("echo", "echo", public());
    let dir = TempDir::new().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "whsec_e2e").unwrap();
    let secret_arg = secret_file.to_str().unwrap();

    let stripe = add_webhook(
        &server,
        &["--verify", "stripe", "--secret-file", secret_arg],
    );
    let body = r#"{"type":"invoice.paid"}"#;
    let sign = |stamp: u64| {
        let signed = format!("{stamp}.{body}");
        format!("t={stamp},v1={}", hmac_hex("whsec_e2e", signed.as_bytes()))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = sign(now);
    assert_eq!(
        post(&server, &stripe, &[("stripe-signature", &fresh)], body).status(),
        202
    );
    let replayed = sign(now - 3600);
    assert_eq!(
        post(&server, &stripe, &[("stripe-signature", &replayed)], body).status(),
        401
    );

    let plain = add_webhook(
        &server,
        &[
            "--verify",
            "hmac-sha256",
            "--secret-file",
            secret_arg,
            "--signature-header",
            "X-Sig",
        ],
    );
    let good = hmac_hex("whsec_e2e", body.as_bytes());
    assert_eq!(
        post(&server, &plain, &[("x-sig", &good)], body).status(),
        202
    );
    assert_eq!(
        post(&server, &plain, &[("x-signature-256", &good)], body).status(),
        401
    );

    let unsigned_with_secret = server.cli(&[
        "trigger",
        "add",
        "echo",
        "--webhook",
        "--secret-file",
        secret_arg,
    ]);
    assert!(
        !unsigned_with_secret.status.success(),
        "--secret-file needs --verify"
    );
}
