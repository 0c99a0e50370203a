//! Key-value stores: functions granted a store share it (atomically, across instances and
//! restarts); functions without the grant cannot open it; operators read and write it with
//! `gust kv` and `/v1/kv`; limits are refused with clear errors.

use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Server, error_of, stderr};

/// Sends `each` requests from each of `clients` threads at once; every answer must be a 200.
fn from_clients(clients: usize, each: usize, request: impl Fn() -> RequestBuilder + Sync) {
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                for _ in 0..each {
                    let response = request().send().unwrap();
                    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
                }
            });
        }
    });
}

#[test]
fn concurrent_increments_are_all_counted_and_kept() {
    let data = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    let config = json!({"public": true, "kv": ["counters"], "max_instances": 8});
    server.deploy("counter", "counter", config);
    from_clients(32, 1000, || server.get("/fn/counter?key=hits"));
    assert_eq!(server.cli_ok(&["kv", "get", "counters", "hits"]), "32000");

    // The store outlives the server.
    drop(server);
    server = Server::start_in(data.path(), &[]);
    let next = server
        .get("/fn/counter?key=hits")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(next.trim(), "32001");
}

#[test]
fn only_granted_functions_open_a_store() {
    let server = Server::start();
    server.deploy(
        "counter",
        "counter",
        json!({"public": true, "kv": ["other"]}),
    );
    let response = server.get("/fn/counter").send().unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().unwrap().contains("--kv counters"));
    let (status, _, message) = error_of(server.deploy_raw(
        "bad",
        std::fs::read(crate::harness::guest("counter")).unwrap(),
        json!({"kv": ["Not A Name"]}),
    ));
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("invalid key-value store name"),
        "{message}"
    );
}

#[test]
fn operators_read_and_write_stores() {
    let server = Server::start();
    server.cli_ok(&["kv", "set", "todos", "todo:1", r#"{"title":"milk"}"#]);
    server.cli_ok(&["kv", "set", "todos", "todo/2", "two"]);
    server.cli_ok(&["kv", "set", "todos", "note", "n"]);
    assert_eq!(server.cli_ok(&["kv", "get", "todos", "todo/2"]), "two");
    let listed = server.cli_ok(&["kv", "ls", "todos", "--prefix", "todo"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["todo/2", "todo:1"]);
    let stores = server.cli_ok(&["kv", "ls"]);
    assert!(stores.contains("todos"), "{stores}");
    server.cli_ok(&["kv", "rm", "todos", "note"]);
    let page: Value = server.admin_json("/v1/kv/todos?limit=1");
    assert_eq!(page["keys"], json!(["todo/2"]));
    assert_eq!(page["next"], "todo/2");

    let missing = server.cli(&["kv", "get", "todos", "nope"]);
    assert!(
        stderr(&missing).contains("no key `nope`"),
        "{}",
        stderr(&missing)
    );
    let put = |store: &str, key: &str, body: Vec<u8>| {
        let path = format!("/v1/kv/{store}/{key}");
        error_of(
            server
                .admin(reqwest::Method::PUT, &path)
                .body(body)
                .send()
                .unwrap(),
        )
    };
    let (status, _, message) = put("todos", "big", vec![b'x'; (1 << 20) + 1]);
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("at most 1024 KiB"), "{message}");
    let (status, _, message) = put("todos", &"k".repeat(1025), b"v".to_vec());
    assert_eq!(status, 413, "{message}");
    let (status, _, message) = put("Bad!", "k", b"v".to_vec());
    assert_eq!(status, 400, "{message}");
    // Without a token, no value is read.
    let anonymous = server.get("/v1/kv/todos/todo:1").send().unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[test]
fn process_functions_reach_their_stores_through_the_socket() {
    let server = Server::start();
    let dir = crate::harness::example_dir("process/python-kv");
    let flags = [
        "--public",
        "--kv",
        "counters",
        "--max-instances",
        "4",
        "--concurrency",
        "4",
    ];
    server.deploy_process("pykv", &dir, "python3 handler.py", &flags);
    from_clients(8, 50, || server.post("/fn/pykv"));
    // Shared with Wasm functions and operators: the same store.
    assert_eq!(server.cli_ok(&["kv", "get", "counters", "hits"]), "400");
    let put = server
        .request(reqwest::Method::PUT, "/fn/pykv/note")
        .body("hi");
    assert_eq!(put.send().unwrap().status(), 204);
    assert_eq!(
        server.get("/fn/pykv/note").send().unwrap().text().unwrap(),
        "hi"
    );
    assert_eq!(server.get("/fn/pykv/nope").send().unwrap().status(), 404);

    // Another store than the one granted is refused.
    server.deploy_process(
        "other",
        &dir,
        "python3 handler.py",
        &["--public", "--kv", "elsewhere"],
    );
    let refused = server.post("/fn/other").send().unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .unwrap()
            .contains("not granted the store `counters`")
    );
}
