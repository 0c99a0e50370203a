//! The process runtime: any program as a function, over HTTP or stdio, in a sandbox.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Server, error_of, example_dir, fixture_dir, running_as_root, stderr, stdout};

pub fn json_of(server: &Server, path: &str) -> Value {
    let response = server.get(path).send().unwrap();
    let status = response.status();
    let body = response.text().unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn log_of(server: &Server, function: &str) -> String {
    std::thread::sleep(Duration::from_millis(300));
    stdout(&server.cli(&["logs", function]))
}

#[test]
fn python_and_node_programs_serve_http_through_the_proxy() {
    let server = Server::start();
    let python = example_dir("process/python-http");
    server.deploy_process("py", &python, "python3 handler.py", &["--public"]);
    let node = example_dir("process/node-http");
    server.deploy_process("js", &node, "node server.js", &["--public"]);

    let first = server.get("/fn/py/hello?x=1").send().unwrap();
    let cold = first.headers().get("x-gust-cold-start").cloned();
    let (status, text) = (first.status(), first.text().unwrap());
    assert_eq!(status, 200, "{text}\n{}", server.server_log());
    assert_eq!(cold.unwrap(), "true");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, json!({"hello": "from python", "path": "/hello?x=1"}));
    let warm = server.post("/fn/py/sum").body("[1, 2, 39]").send().unwrap();
    assert!(warm.headers().get("x-gust-cold-start").is_none());
    assert_eq!(
        warm.json::<Value>().unwrap(),
        json!({"count": 3, "sum": 42})
    );
    let bad = server.post("/fn/py/sum").body("not json").send().unwrap();
    assert_eq!(bad.status(), 400, "the program's own status goes through");

    let from_node = server.post("/fn/js/a/b").body("12345").send().unwrap();
    let body: Value = from_node.json().unwrap();
    assert_eq!(
        body,
        json!({"hello": "from node", "path": "/a/b", "received": 5})
    );

    assert!(log_of(&server, "py").contains("GET /hello?x=1"));
    assert!(log_of(&server, "js").contains("POST /a/b"));
    let records = server.invocations("py", 3);
    assert!(
        records
            .iter()
            .all(|r| r["billed_ms"].as_u64().unwrap() >= 1)
    );
    assert_eq!(records[2]["cold"], true);
    assert_eq!(records[1]["cold"], false);
}

#[test]
fn a_script_in_stdio_mode_reads_stdin_and_answers_on_stdout() {
    let server = Server::start();
    let dir = example_dir("process/shell-stdio");
    server.deploy_process(
        "words",
        &dir,
        "./handler.sh",
        &["--mode", "stdio", "--public"],
    );
    let response = server
        .post("/fn/words/count?lang=en")
        .body("the quick brown fox")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().unwrap(),
        "method=POST path=/count query=lang=en words=4\n"
    );
    assert!(log_of(&server, "words").contains("counted 4 words"));

    let failing = "echo 'cannot parse input' >&2; exit 3";
    server.deploy_process("fails", &dir, failing, &["--mode", "stdio", "--public"]);
    let (status, code, message) = error_of(server.get("/fn/fails").send().unwrap());
    assert_eq!((status, code.as_str()), (500, "error"));
    assert!(message.contains("exit code 3"), "{message}");
    assert!(log_of(&server, "fails").contains("cannot parse input"));
}

#[test]
fn a_stdio_function_takes_large_headers_and_its_environment_is_bounded_at_deploy() {
    let server = Server::start();
    let dir = example_dir("process/shell-stdio");
    let flags = ["--mode", "stdio", "--public", "--env", "GREETING=hi"];
    server.deploy_process("words", &dir, "./handler.sh", &flags);
    // 100 KiB of header: the function's own variable, well over what the sandbox's spec
    // could carry when it travelled in one environment string.
    let response = server
        .post("/fn/words")
        .header("x-big", "b".repeat(100 * 1024))
        .header("proxy", "http://attacker.example:8080")
        .body("a b c")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());

    let big = format!("BIG={}", "x".repeat(70 * 1024));
    let dir = dir.to_string_lossy();
    let args = ["deploy", "big", &dir, "--runtime", "process", "--env", &big];
    let refused = server.cli(&[&args[..], &["--command", "./handler.sh"]].concat());
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the limit is 64 KiB"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn the_sandbox_hides_the_host_and_limits_the_function() {
    if !running_as_root() {
        let server = Server::start();
        let log = server.server_log();
        assert!(log.contains("process functions run less isolated"), "{log}");
        return;
    }
    // As on a fresh host: the limits must hold without a `gust` group left by a former run.
    remove_gust_cgroups();
    let server = Server::start();
    let dir = fixture_dir("probe");
    let flags = [
        "--public",
        "--memory",
        "64",
        "--cpu",
        "250",
        "--env",
        "GREETING=s3cret-value",
    ];
    server.deploy_process("probe", &dir, "python3 probe.py", &flags);

    let me = json_of(&server, "/fn/probe/whoami");
    assert_eq!(
        (me["uid"].as_u64(), me["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
    // Its own pid namespace: the sandbox's init, the shell and the program, nothing else.
    let pids = me["pids"].as_array().unwrap();
    assert!(pids.iter().all(|p| p.as_u64().unwrap() < 10), "{pids:?}");
    assert_eq!(me["hostname"], "gust");
    // Only what the function declared, plus PORT, the egress proxy and a plain PATH/HOME.
    let env = me["env"].as_object().unwrap();
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort();
    let mut expected = vec!["GREETING", "HOME", "LANG", "PATH", "PORT", "PWD", "TMPDIR"];
    expected.extend(["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"]);
    expected.extend(["http_proxy", "https_proxy", "no_proxy"]);
    expected.sort();
    assert_eq!(names, expected);
    assert!(
        !any_command_line_contains("s3cret-value"),
        "environment values stay out of `ps`"
    );
    assert_eq!(me["cwd"], "/function");
    let root: Vec<&str> = me["root"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        !root.contains(&"root") && !root.contains(&"work"),
        "{root:?}"
    );

    let host_pid = server.pid();
    let signal = json_of(&server, &format!("/fn/probe/signal?pid={host_pid}"));
    assert_eq!(
        signal["signalled"], false,
        "the host's processes are out of reach"
    );

    let writes = json_of(&server, "/fn/probe/write");
    assert_eq!(writes["tmp"], "written");
    for read_only in ["function", "root", "etc"] {
        assert_ne!(
            writes[read_only], "written",
            "{read_only} must be read-only"
        );
    }

    let bomb = json_of(&server, "/fn/probe/forkbomb");
    let started = bomb["started"].as_u64().unwrap();
    assert!(
        (10..300).contains(&started),
        "the pid limit stops a fork bomb: {started}"
    );

    let spun = json_of(&server, "/fn/probe/spin?s=1");
    let cpu_s = spun["cpu_s"].as_f64().unwrap();
    assert!(
        cpu_s < 0.6,
        "a quarter of a core gets about 0.25 s a second: {cpu_s}"
    );

    let small = json_of(&server, "/fn/probe/hog?mb=16");
    assert_eq!(small["allocated_mb"], 16);
    let (status, code, _) = error_of(server.get("/fn/probe/hog?mb=256").send().unwrap());
    assert_eq!((status, code.as_str()), (500, "memory_exceeded"));
    assert_eq!(
        json_of(&server, "/fn/probe/whoami")["uid"],
        65534,
        "replaced after the kill"
    );
}

#[test]
fn timeouts_and_crashes_get_answers_and_fresh_instances() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    server.deploy_process(
        "probe",
        &dir,
        "python3 probe.py",
        &["--public", "--timeout", "1s"],
    );
    let before = json_of(&server, "/fn/probe/");
    let (status, code, message) = error_of(server.get("/fn/probe/sleep?s=60").send().unwrap());
    assert_eq!((status, code.as_str()), (504, "timeout"), "{message}");
    let after_timeout = server.get("/fn/probe/").send().unwrap();
    assert_eq!(
        after_timeout.headers()["x-gust-cold-start"],
        "true",
        "a new instance"
    );
    let _ = after_timeout.text();

    let (status, code, message) = error_of(server.get("/fn/probe/crash").send().unwrap());
    assert_eq!((status, code.as_str()), (502, "crashed"));
    assert!(
        message.contains("about to crash"),
        "stderr's tail: {message}"
    );
    let again = json_of(&server, "/fn/probe/");
    assert!(again["pid"].is_number() && before["pid"].is_number());
    let records = server.invocations("probe", 5);
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "crashed", "ok", "timeout", "ok"]);
}

#[test]
fn a_program_that_never_gets_ready_fails_clearly_and_is_backed_off() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let exits = "echo 'missing config file' >&2; exit 1";
    server.deploy_process("broken", &dir, exits, &["--public"]);
    let mut messages = Vec::new();
    for _ in 0..4 {
        let (status, code, message) = error_of(server.get("/fn/broken").send().unwrap());
        assert_eq!((status, code.as_str()), (502, "crashed"), "{message}");
        assert!(message.contains("missing config file"), "{message}");
        messages.push(message);
    }
    assert!(
        messages[0].contains("exited (exit code 1) before listening"),
        "{}",
        messages[0]
    );
    assert!(
        messages[3].contains("failed to start 3 times in a row"),
        "{}",
        messages[3]
    );

    server.deploy_process("silent", &dir, "sleep 60", &["--public", "--timeout", "1s"]);
    let (status, code, message) = error_of(server.get("/fn/silent").send().unwrap());
    assert_eq!((status, code.as_str()), (502, "crashed"));
    assert!(
        message.contains("did not listen on $PORT within"),
        "{message}"
    );
}

#[test]
fn bad_process_deploys_are_refused_and_nothing_is_written() {
    let server = Server::start();
    let dir = fixture_dir("probe");
    let dir = dir.to_string_lossy();
    let refused = |args: &[&str], expected: &str| {
        let output = server.cli(args);
        let message = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(message.contains(expected), "{args:?}: {message}");
    };
    refused(
        &["deploy", "f", &dir, "--runtime", "lambda"],
        "unknown runtime `lambda`",
    );
    refused(
        &["deploy", "f", &dir, "--runtime", "process"],
        "needs a command",
    );
    let wasm_with_command = ["deploy", "f", &dir, "--command", "python3 x.py"];
    refused(&wasm_with_command, "a command is for the process runtime");

    let config = json!({"command": "x", "mode": "socket"});
    let response = server.deploy_raw_with("f", "process", tarball_escaping(), config);
    let (status, _, message) = error_of(response);
    assert_eq!(status, 400);
    assert!(message.contains("unknown variant `socket`"), "{message}");

    let response =
        server.deploy_raw_with("f", "process", tarball_escaping(), json!({"command": "x"}));
    let (status, _, message) = error_of(response);
    assert_eq!(status, 400);
    assert!(
        message.contains("`../escape.txt` leaves its root"),
        "{message}"
    );
    let missing = server
        .admin(reqwest::Method::GET, "/v1/functions/f")
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404, "nothing was deployed");
}

/// A .tar.gz whose one entry climbs out of its root.
fn tarball_escaping() -> Vec<u8> {
    let mut header = [0u8; 512];
    let name = b"../escape.txt";
    header[..name.len()].copy_from_slice(name);
    header[100..107].copy_from_slice(b"0000644");
    header[124..135].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(&[0u8; 1024]);
    gzip(&tar)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn any_command_line_contains(text: &str) -> bool {
    let entries = std::fs::read_dir("/proc").unwrap();
    entries.flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains(text)
    })
}

/// Removes the `gust` groups of the cgroup hierarchies, as on a fresh host, as far as no
/// running server still uses them: the groups of servers whose process is gone, then `gust/`
/// itself (which stays while another test's server runs).
fn remove_gust_cgroups() {
    use std::path::Path;
    fn remove_tree(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for controller in ["memory", "pids", "cpu", "unified", ""] {
        let gust = Path::new("/sys/fs/cgroup").join(controller).join("gust");
        for server in std::fs::read_dir(&gust).into_iter().flatten().flatten() {
            let pid = server.file_name();
            if !Path::new("/proc").join(&pid).exists() {
                remove_tree(&server.path());
            }
        }
        let _ = std::fs::remove_dir(&gust);
    }
}
