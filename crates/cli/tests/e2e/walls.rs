//! The walls around process functions: a network of their own with one guarded way out,
//! instances that outlive Gust's own threads, and no process function without a sandbox
//! unless the operator says so.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Server, fixture_dir, public, running_as_root, stderr, stdout};
use crate::process::json_of;

/// A plain HTTP server on the host's loopback answering `egress-ok` to a few connections.
fn host_service() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8).flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\negress-ok\n",
            );
        }
    });
    port
}

#[test]
fn a_process_function_reaches_only_what_it_is_allowed() {
    if !running_as_root() {
        return; // The network namespace is part of the root-only sandbox.
    }
    let server = Server::start();
    let allowed = host_service();
    let dir = fixture_dir("probe");
    // A private neighbour, running, whose port a hostile function would look for.
    server.deploy_process("neighbour", &dir, "python3 probe.py", &[]);
    let started = server.admin(Method::GET, "/fn/neighbour/").send().unwrap();
    assert_eq!(started.status(), 200);
    let allow = format!("127.0.0.1:{allowed}");
    let flags = [
        "--public",
        "--allow-host",
        &allow,
        "--allow-host",
        "localhost",
    ];
    server.deploy_process("probe", &dir, "python3 probe.py", &flags);

    let gust = server.port();
    let net = json_of(
        &server,
        &format!("/fn/probe/net?gust={gust}&allowed={allowed}"),
    );
    assert_eq!(
        net["listening"],
        json!([3128, 8080, allowed]),
        "only its own, its proxy and the relay of the loopback port it is allowed"
    );
    assert_eq!(net["gust_direct"], false, "Gust is out of reach");
    assert_eq!(
        net["allowed_direct"], true,
        "the allowed loopback port is relayed"
    );
    assert_eq!(net["allowed_proxied"], json!([200, "egress-ok"]));
    assert_eq!(net["allowed_tunnel"], json!([200, "egress-ok"]));
    assert_eq!(net["gust_proxied"][0], 403, "not allowed: {net}");
    assert_eq!(
        net["name_to_loopback"][0], 403,
        "an allowed name that resolves to loopback: {net}"
    );
    assert_eq!(net["admin_token"], Value::Null);
    std::thread::sleep(Duration::from_millis(300));
    let log = stdout(&server.cli(&["logs", "probe"]));
    assert!(log.contains("denied"), "{log}");
}

#[test]
fn process_instances_outlive_the_threads_that_compiled_wasm() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    server.deploy_process("probe", &dir, "python3 probe.py", &["--public"]);
    let first = json_of(&server, "/fn/probe/whoami");
    // Each compile blocks a runtime thread, which tokio then retires after 10 s idle: with
    // several, the thread that started the instance is all but sure to be among them.
    for guest in ["hello", "echo", "env", "busy"] {
        server.deploy(guest, guest, public());
    }
    std::thread::sleep(Duration::from_secs(15));
    let later = server.get("/fn/probe/whoami").send().unwrap();
    assert_eq!(later.status(), 200);
    assert!(
        later.headers().get("x-gust-cold-start").is_none(),
        "still warm"
    );
    let later: Value = later.json().unwrap();
    assert_eq!(later["pid"], first["pid"], "the same instance");
}

#[test]
fn without_root_process_functions_need_the_operators_consent() {
    let refusing = Server::start_unprivileged(&[]);
    let log = refusing.server_log();
    assert!(log.contains("process functions are disabled"), "{log}");
    let dir = fixture_dir("probe");
    let deploy = |server: &Server| {
        let dir = dir.to_string_lossy();
        let args = ["deploy", "probe", &dir, "--runtime", "process", "--public"];
        server.cli(&[&args[..], &["--command", "python3 probe.py"]].concat())
    };
    let refused = deploy(&refusing);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains("--insecure-process-runtime"), "{message}");
    drop(refusing);

    let consenting = Server::start_unprivileged(&["--insecure-process-runtime"]);
    let log = consenting.server_log();
    assert!(log.contains("process functions run less isolated"), "{log}");
    let deployed = deploy(&consenting);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    let me = json_of(&consenting, "/fn/probe/whoami");
    let own_uid = if running_as_root() {
        65534
    } else {
        own_uid_of_tests()
    };
    assert_eq!(me["uid"], own_uid, "it runs as Gust's own user");
}

/// This test process's user id, read from /proc.
fn own_uid_of_tests() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
