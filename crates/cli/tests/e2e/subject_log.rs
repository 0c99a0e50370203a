//! The stream trigger tests' function: the fixture `subject-log`, a stdio process function that
//! logs each event's ce-subject (a message's id in its stream) and fails messages saying "fail".

use std::time::{Duration, Instant};

use crate::harness::{Server, fixture_dir, stderr, stdout};

/// A port nothing listens on now, for a broker of the test's own.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Deploys the fixture as `log`, with these deploy flags, and a trigger of these source flags.
pub fn consume(server: &Server, deploy_flags: &[&str], source: &[&str]) {
    let mut flags = vec!["--mode", "stdio"];
    flags.extend_from_slice(deploy_flags);
    let fixture = fixture_dir("subject-log");
    server.deploy_process("log", &fixture, "./handler.sh", &flags);
    let mut args = vec!["trigger", "add", "log"];
    args.extend_from_slice(source);
    let added = server.cli(&args);
    assert!(added.status.success(), "{}", stderr(&added));
}

/// The (subject, body) of each event the function logged, in order, once there are at least
/// `count`.
fn logged(server: &Server, count: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = stdout(&server.cli(&["logs", "log", "--limit", "10000"]));
        let found: Vec<(String, String)> = logs
            .lines()
            .filter_map(|line| line.split("subject=").nth(1)?.split_once(" body="))
            .map(|(subject, body)| (subject.trim().to_string(), body.trim().to_string()))
            .collect();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The subjects of the events the function logged, in order, once there are at least `count`.
pub fn subjects(server: &Server, count: usize) -> Vec<String> {
    logged(server, count)
        .into_iter()
        .map(|(subject, _)| subject)
        .collect()
}

/// The bodies of the events the function logged, in order, once there are at least `count`.
pub fn bodies(server: &Server, count: usize) -> Vec<String> {
    logged(server, count)
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

/// The function's one dead letter, once the trigger of `kind` made it.
pub fn one_dead_letter(server: &Server, kind: &str) -> serde_json::Value {
    let dead = server.admin_json("/v1/functions/log/async?state=dead");
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["trigger"], kind);
    dead[0].clone()
}

/// `gust_trigger_events_total` of the trigger of `kind`.
pub fn events_delivered(server: &Server, kind: &str) -> u64 {
    let metrics = server.get("/metrics").send().unwrap().text().unwrap();
    let prefix = format!("gust_trigger_events_total{{kind=\"{kind}\"");
    metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}
