use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use serde_json::json;
use tempfile::TempDir;

use crate::harness::{Server, public};

fn compiled_files(server: &Server) -> Vec<(String, i64, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(server.data_dir.join("compiled"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                meta.mtime_nsec(),
                meta.ino(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_restart_serves_from_the_aot_cache_without_compiling() {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("hello", "hello", public());
    let before = compiled_files(&server);
    assert_eq!(before.len(), 1);
    assert!(server.signal_and_wait("TERM"), "clean exit on SIGTERM");
    let compiles_before = server.server_log().matches("compiled component").count();
    drop(server);

    let server = Server::start_in(dir.path(), &[]);
    let response = server.get("/fn/hello").send().unwrap();
    assert_eq!(response.headers()["x-gust-cold-start"], "true");
    assert_eq!(response.text().unwrap(), "Hello, world!\n");
    assert_eq!(
        compiled_files(&server),
        before,
        "the cache entry was reused, not rewritten"
    );
    let compiles_after = server.server_log().matches("compiled component").count();
    assert_eq!(
        compiles_after, compiles_before,
        "no compile after the restart"
    );
}

#[test]
fn a_tampered_aot_cache_entry_is_never_loaded() {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("hello", "hello", public());
    assert!(server.signal_and_wait("TERM"));
    drop(server);
    let compiled = dir.path().join("compiled");
    let entry = std::fs::read_dir(&compiled)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();

    let server = Server::start_in(dir.path(), &[]);
    let response = server.get("/fn/hello").send().unwrap();
    assert_eq!(
        response.text().unwrap(),
        "Hello, world!\n",
        "compiled again"
    );
    let log = server.server_log();
    assert!(log.contains("its hash does not match"), "{log}");
}

#[test]
fn a_deploy_that_answered_survives_kill_9() {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.deploy("hello", "hello", public());
    server.deploy("env", "env", json!({"public": true, "env": {"K": "v"}}));
    server.signal_and_wait("KILL");
    drop(server);

    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(
        server.get("/fn/hello").send().unwrap().text().unwrap(),
        "Hello, world!\n"
    );
    let env: serde_json::Value = server.get("/fn/env").send().unwrap().json().unwrap();
    assert_eq!(env["K"], "v");
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let mut server = Server::start();
    server.deploy("echo", "echo", public());
    let mut in_flight = server
        .get("/fn/echo?chunks=3&delay_ms=1000")
        .send()
        .unwrap();
    // The first chunk proves the request is running before the signal is sent.
    let mut first = [0u8; 64];
    let n = in_flight.read(&mut first).unwrap();
    assert_eq!(&first[..n], b"chunk 0\n");
    let stopping = std::thread::spawn(move || server.signal_and_wait("TERM"));
    let mut rest = String::new();
    in_flight.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "chunk 1\nchunk 2\n");
    assert!(
        stopping.join().unwrap(),
        "clean exit after the request finished"
    );
}

#[test]
fn the_data_dir_and_its_secrets_are_private() {
    let temp = TempDir::new().unwrap();
    let data_dir = temp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_in(&data_dir, &[]);
    server.deploy("env", "env", json!({"env": {"SECRET": "s3cret"}}));
    let mode = |name: &str| std::fs::metadata(data_dir.join(name)).unwrap().mode() & 0o777;
    assert_eq!(mode(""), 0o700);
    for file in ["gust.db", "gust.db-wal", "gust.db-shm", "admin.token"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    drop(server);
    // A token file someone widened is made private again at the next start.
    let token = data_dir.join("admin.token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _again = Server::start_in(&data_dir, &[]);
    assert_eq!(mode("admin.token"), 0o600);
}

/// Names of the files in one of the data dir's folders.
fn names_in(server: &Server, folder: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(server.data_dir.join(folder)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect()
}

#[test]
fn removing_functions_removes_the_artifacts_no_version_uses() {
    let server = Server::start();
    server.deploy("hello", "hello", public());
    server.deploy("twin", "hello", public());
    server.deploy("echo", "echo", public());
    let dir = crate::harness::fixture_dir("probe");
    server.deploy_process("probe", &dir, "python3 probe.py", &["--public"]);
    assert_eq!(server.get("/fn/probe/").send().unwrap().status(), 200);
    assert_eq!(names_in(&server, "artifacts").len(), 3);
    assert_eq!(names_in(&server, "compiled").len(), 2);
    assert_eq!(names_in(&server, "process/artifacts").len(), 1);

    for name in ["echo", "hello", "probe"] {
        let removed = server.cli(&["rm", name]);
        assert!(removed.status.success());
    }
    assert_eq!(
        names_in(&server, "artifacts").len(),
        1,
        "twin still uses hello's"
    );
    assert_eq!(names_in(&server, "compiled").len(), 1);
    assert!(names_in(&server, "process/artifacts").is_empty());
    assert_eq!(server.get("/fn/twin").send().unwrap().status(), 200);

    assert!(server.cli(&["rm", "twin"]).status.success());
    assert!(names_in(&server, "artifacts").is_empty());
    assert!(names_in(&server, "compiled").is_empty());
}
