//! Outbound TCP from Wasm guests (wasi:sockets) under `--allow-host`: an allowed address or
//! range is reached, anything else is refused and logged, and a name that resolves to an
//! internal address does not open it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use serde_json::json;

use crate::harness::{Server, stdout};

/// A server that answers each line with `pong`, on a port of its own.
fn pong_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let _ = (&stream).write_all(b"pong\n");
            }
        }
    });
    port
}

fn ping(server: &Server, function: &str, target: &str) -> (u16, String) {
    let response = server
        .get(&format!("/fn/{function}?to={target}"))
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

#[test]
fn tcp_reaches_what_allow_host_names_and_nothing_else() {
    let port = pong_server();
    let server = Server::start();
    let target = format!("127.0.0.1:{port}");
    let allowed = [
        ("by-address", format!("127.0.0.1:{port}")),
        ("by-range", format!("127.0.0.0/8:{port}")),
    ];
    for (name, entry) in &allowed {
        server.deploy(
            name,
            "tcp-ping",
            json!({"public": true, "allow_hosts": [entry]}),
        );
        assert_eq!(
            ping(&server, name, &target),
            (200, "pong\n".into()),
            "{entry}"
        );
    }
    let refused = [
        ("nothing", json!([])),
        ("other-port", json!([format!("127.0.0.1:{}", port + 1)])),
        ("other-range", json!([format!("10.0.0.0/8:{port}")])),
        ("by-name", json!([format!("localhost:{port}")])),
    ];
    for (name, hosts) in &refused {
        server.deploy(
            name,
            "tcp-ping",
            json!({"public": true, "allow_hosts": hosts}),
        );
        let (status, body) = ping(&server, name, &target);
        assert_eq!(status, 502, "{name}: {body}");
    }
    let logs = stdout(&server.cli(&["logs", "other-port"]));
    assert!(
        logs.contains(&format!("TCP connection to {target} denied")),
        "{logs}"
    );
}
