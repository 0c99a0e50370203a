//! The dashboard in a real browser: Debian's Chromium, driven by selenium from Python
//! (tests/browser/dashboard.py says what it checks). Functions are deployed through the CLI.

use std::path::Path;
use std::process::Command;

use crate::async_queue::wait_final;
use crate::harness::{Server, guest, stderr, stdout};

#[test]
fn the_dashboard_shows_functions_invocations_live_logs_and_replays_a_dead_letter() {
    let server = Server::start();
    let hello = guest("hello").display().to_string();
    let panic = guest("panic").display().to_string();
    server.cli_ok(&["deploy", "hello", &hello, "--public"]);
    server.cli_ok(&["deploy", "panic", &panic, "--max-retries", "0"]);
    server.cli_ok(&["invoke", "hello", "--data", r#"{"name":"Ada"}"#]);
    server.cli_ok(&["trigger", "add", "hello", "--cron", "0 0 1 1 *"]);
    let dead = server.cli_ok(&["invoke", "panic", "--async"]);
    assert_eq!(wait_final(&server, dead.trim())["state"], "dead");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.py");
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&server.url)
        .arg(&server.token)
        .arg(&screenshots)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let attempts = || {
        let view = wait_final(&server, dead.trim());
        view["errors"].as_array().unwrap().len()
    };
    for _ in 0..100 {
        if attempts() == 2 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the page's replay did not run the dead letter again");
}
