//! The S3 endpoint as the AWS CLI uses it: buckets, objects whole and in parts, ranges,
//! presigned URLs, keys and their limits, and the events a change raises.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::aws_cli::Aws;
use crate::harness::{Server, public, result_header, stderr, stdout};

fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn objects_go_in_and_out_whole_in_parts_and_by_range() {
    let server = Server::start();
    let dir = TempDir::new().unwrap();
    let aws = Aws::root(&server);
    let created = server.cli(&["bucket", "create", "photos"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&server.cli(&["bucket", "ls"])).contains("photos"));

    let small = dir.path().join("hello.txt");
    std::fs::write(&small, b"hello, bucket").unwrap();
    aws.ok(&[
        "s3",
        "cp",
        small.to_str().unwrap(),
        "s3://photos/greetings/hello.txt",
        "--content-type",
        "text/plain",
        "--metadata",
        "origin=test",
    ]);
    let head: Value = aws.json(&[
        "s3api",
        "head-object",
        "--bucket",
        "photos",
        "--key",
        "greetings/hello.txt",
    ]);
    assert_eq!(head["ContentLength"], 13);
    assert_eq!(head["ContentType"], "text/plain");
    assert_eq!(head["Metadata"]["origin"], "test");
    assert_eq!(
        head["ETag"],
        format!("\"{}\"", hex_md5(b"hello, bucket")),
        "the ETag is the MD5 S3 clients check"
    );

    // 20 MiB: the CLI uploads it in parts (8 MiB each) and checks every byte back.
    let big = dir.path().join("big.bin");
    let bytes = pseudo_random_bytes(20 * 1024 * 1024);
    std::fs::write(&big, &bytes).unwrap();
    aws.ok(&["s3", "cp", big.to_str().unwrap(), "s3://photos/big.bin"]);
    let back = dir.path().join("back.bin");
    aws.ok(&["s3", "cp", "s3://photos/big.bin", back.to_str().unwrap()]);
    assert!(
        std::fs::read(&back).unwrap() == bytes,
        "downloaded bytes differ"
    );
    let head: Value = aws.json(&[
        "s3api",
        "head-object",
        "--bucket",
        "photos",
        "--key",
        "big.bin",
    ]);
    assert!(head["ETag"].as_str().unwrap().ends_with("-3\""), "{head}");

    let range = dir.path().join("range.bin");
    aws.ok(&[
        "s3api",
        "get-object",
        "--bucket",
        "photos",
        "--key",
        "big.bin",
        "--range",
        "bytes=1000-1999",
        range.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&range).unwrap() == bytes[1000..2000]);

    let listed: Value = aws.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "photos",
        "--delimiter",
        "/",
    ]);
    assert_eq!(listed["Contents"][0]["Key"], "big.bin");
    assert_eq!(listed["CommonPrefixes"][0]["Prefix"], "greetings/");

    let refused = server.cli(&["bucket", "rm", "photos"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not empty"),
        "{}",
        stderr(&refused)
    );
    aws.ok(&["s3", "rm", "s3://photos/big.bin"]);
    aws.ok(&["s3", "rm", "s3://photos/greetings/hello.txt"]);
    let removed = server.cli(&["bucket", "rm", "photos"]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    let objects = std::fs::read_dir(server.data_dir.join("objects")).unwrap();
    assert_eq!(objects.count(), 0, "no object file is left behind");
}

#[test]
fn signatures_and_scopes_are_checked() {
    let server = Server::start();
    let dir = TempDir::new().unwrap();
    for bucket in ["photos", "private"] {
        assert!(server.cli(&["bucket", "create", bucket]).status.success());
    }
    let root = Aws::root(&server);
    let text = std::fs::read_to_string(server.data_dir.join("s3-credentials")).unwrap();
    let access_key = text
        .lines()
        .find_map(|line| line.strip_prefix("aws_access_key_id = "))
        .unwrap();
    let wrong = Aws::with_key(&server, dir.path(), access_key, "not-the-secret");
    let denied = wrong.run(&["s3", "ls", "s3://photos"]);
    assert!(!denied.status.success());
    assert!(
        stderr(&denied).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&denied)
    );

    let created = server.cli(&["key", "create", "--bucket", "photos:read"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let printed = stdout(&created);
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap()
            .to_string()
    };
    let scoped = Aws::with_key(
        &server,
        dir.path(),
        &field("aws_access_key_id = "),
        &field("aws_secret_access_key = "),
    );
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"a").unwrap();
    root.ok(&["s3", "cp", file.to_str().unwrap(), "s3://photos/a.txt"]);
    assert!(scoped.ok(&["s3", "ls", "s3://photos"]).contains("a.txt"));
    for refused in [
        scoped.run(&["s3", "cp", file.to_str().unwrap(), "s3://photos/b.txt"]),
        scoped.run(&["s3", "ls", "s3://private"]),
    ] {
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("AccessDenied"),
            "{}",
            stderr(&refused)
        );
    }

    // A presigned URL works without any credentials, through plain HTTP.
    let url = root.ok(&["s3", "presign", "s3://photos/a.txt", "--expires-in", "60"]);
    let body = reqwest::blocking::get(url.trim()).unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().unwrap().as_ref(), b"a");
    let unsigned = reqwest::blocking::get(format!("{}/photos/a.txt", server.s3_url())).unwrap();
    assert_eq!(unsigned.status(), 403);
}

/// Successful invocations of `function` raised by bucket events, with their results.
fn bucket_events(server: &Server, function: &str, count: usize) -> Vec<Value> {
    for _ in 0..300 {
        let done = server.admin_json(&format!(
            "/v1/functions/{function}/async?state=succeeded&limit=1000"
        ));
        let events: Vec<Value> = done
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["trigger"] == "bucket")
            .cloned()
            .collect();
        if events.len() >= count {
            return events;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("fewer than {count} bucket events for {function}");
}

#[test]
fn an_upload_raises_an_s3_event_that_survives_a_crash() {
    let dir = TempDir::new().unwrap();
    // This node only accepts asynchronous invocations: the events wait in the store.
    let mut server = Server::start_in(dir.path(), &["--async-workers", "0"]);
    server.deploy("echo", "echo", public());
    assert!(server.cli(&["bucket", "create", "photos"]).status.success());
    let added = server.cli(&[
        "trigger", "add", "echo", "--bucket", "photos", "--events", "created", "--suffix", ".jpg",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let aws = Aws::root(&server);
    let file = dir.path().join("cat.jpg");
    std::fs::write(&file, b"not really a jpeg").unwrap();
    aws.ok(&["s3", "cp", file.to_str().unwrap(), "s3://photos/my cat.jpg"]);
    aws.ok(&["s3", "cp", file.to_str().unwrap(), "s3://photos/notes.txt"]);
    server.signal_and_wait("KILL");
    drop(server);

    let server = Server::start_in(dir.path(), &[]);
    let events = bucket_events(&server, "echo", 1);
    assert_eq!(events.len(), 1, "only the .jpg raised an event");
    let result = &events[0]["result"];
    let header = |name: &str| result_header(result, name);
    assert_eq!(
        header("x-echo-h-ce-type").as_deref(),
        Some("dev.gust.bucket.object.created")
    );
    assert_eq!(
        header("x-echo-h-ce-source").as_deref(),
        Some("/buckets/photos")
    );
    assert_eq!(header("x-echo-h-ce-subject").as_deref(), Some("my cat.jpg"));
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    let record = &body["Records"][0];
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["bucket"]["name"], "photos");
    assert_eq!(record["s3"]["object"]["key"], "my+cat.jpg");
    assert_eq!(record["s3"]["object"]["size"], 17);
    let listed = server.admin_json("/v1/triggers?kind=bucket");
    assert_eq!(
        listed[0]["config"],
        json!({"bucket": "photos", "events": ["created"], "prefix": "", "suffix": ".jpg"})
    );
}

fn hex_md5(bytes: &[u8]) -> String {
    let output = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    stdout(&output)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
