//! Callbacks: where an asynchronous result is POSTed, signed, and only where it may go.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Server, error_of};

pub type Received = mpsc::Receiver<(Vec<String>, String)>;

/// A one-shot HTTP server that answers `answers` (status and extra header lines) in turn and
/// reports what it was sent.
pub fn receiver(answers: Vec<(u16, &'static str)>) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, extra) in answers {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                head.push(line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
            let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, rx)
}

/// A server that accepts connections and never answers.
fn hanging_receiver() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hang", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).flatten().collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    url
}

fn queue_with_callback(server: &Server, url: &str, admin: bool) -> reqwest::blocking::Response {
    let request = if admin {
        server.admin(Method::POST, "/async/echo")
    } else {
        server.post("/async/echo")
    };
    request
        .header("x-callback-url", url)
        .body("tell me")
        .send()
        .unwrap()
}

pub fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn the_callback_gets_the_signed_result_and_is_retried() {
    let server = Server::start_with(&["--retry-base-delay", "20ms", "--allow-private-callbacks"]);
    server.deploy(
        "echo",
        "echo",
        json!({"public": true, "allow_callbacks": true}),
    );
    let (url, received) = receiver(vec![(500, ""), (200, "")]);
    let response = queue_with_callback(&server, &url, false);
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = received.recv_timeout(Duration::from_secs(20)).unwrap();
    let (head, body) = received.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(first.1, body, "the retry carries the same result");
    assert_eq!(body, "tell me");
    assert!(head[0].starts_with("POST /done"), "{head:?}");
    assert_eq!(header(&head, "x-gust-invocation-id"), Some(id.as_str()));
    assert_eq!(header(&head, "x-gust-status"), Some("succeeded"));
    assert_eq!(header(&head, "x-gust-attempt"), Some("1"));
    assert_eq!(header(&head, "x-gust-function-status"), Some("200"));

    // A receiver checks the signature with the function's secret, as the API describes.
    let secret = server.admin_json("/v1/functions/echo/callback-secret")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let signature = header(&head, "x-gust-signature").expect("signed");
    let (stamp, v1) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{stamp}.{body}").as_bytes());
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);
}

#[test]
fn only_the_token_or_the_function_lets_a_caller_set_a_callback() {
    let server = Server::start_with(&["--allow-private-callbacks"]);
    server.deploy("echo", "echo", json!({"public": true}));
    let (url, received) = receiver(vec![(200, "")]);
    let (status, code, message) = error_of(queue_with_callback(&server, &url, false));
    assert_eq!((status, code.as_str()), (403, "forbidden"), "{message}");
    assert!(message.contains("--allow-callbacks"), "{message}");
    assert_eq!(queue_with_callback(&server, &url, true).status(), 202);
    received.recv_timeout(Duration::from_secs(20)).unwrap();
}

#[test]
fn callbacks_reach_no_internal_address_and_follow_no_redirect() {
    let server = Server::start_with(&["--retry-base-delay", "20ms"]);
    server.deploy("echo", "echo", json!({"public": true}));
    let (url, received) = receiver(vec![(200, "")]);
    let (status, _, message) = error_of(queue_with_callback(&server, &url, true));
    assert_eq!(status, 400, "an internal address, refused at once");
    assert!(message.contains("--allow-private-callbacks"), "{message}");

    // A name is checked where it leads: localhost is refused when the callback is sent.
    let port = url.rsplit(':').next().unwrap();
    let by_name = format!("http://user:pa55word@localhost:{port}/done");
    let accepted = queue_with_callback(&server, &by_name, true);
    assert_eq!(accepted.status(), 202);
    let log = wait_for_log(&server, "refused");
    assert!(
        !log.contains("pa55word"),
        "logged URLs carry no credentials: {log}"
    );
    assert!(received.try_recv().is_err(), "nothing reached the receiver");

    // With private addresses allowed, a redirect is still not followed.
    let open = Server::start_with(&["--retry-base-delay", "20ms", "--allow-private-callbacks"]);
    open.deploy("echo", "echo", json!({"public": true}));
    let (target, reached) = receiver(vec![(200, "")]);
    let redirect = Box::leak(format!("location: {target}\r\n").into_boxed_str());
    let (bouncer, bounced) = receiver(vec![(302, redirect), (302, redirect)]);
    assert_eq!(queue_with_callback(&open, &bouncer, true).status(), 202);
    bounced.recv_timeout(Duration::from_secs(20)).unwrap();
    bounced.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(reached.try_recv().is_err(), "the redirect was not followed");
}

#[test]
fn a_hanging_receiver_does_not_hold_up_other_callbacks() {
    let server = Server::start_with(&["--allow-private-callbacks"]);
    server.deploy("echo", "echo", json!({"public": true}));
    let hanging = hanging_receiver();
    for _ in 0..4 {
        assert_eq!(queue_with_callback(&server, &hanging, true).status(), 202);
    }
    let (url, received) = receiver(vec![(200, "")]);
    assert_eq!(queue_with_callback(&server, &url, true).status(), 202);
    // Well within the 10 s a hanging delivery is given: it went alongside, not after.
    let delivered = received.recv_timeout(Duration::from_secs(8));
    assert!(delivered.is_ok(), "the other receiver got its callback");
}

fn wait_for_log(server: &Server, text: &str) -> String {
    for _ in 0..200 {
        let log = server.server_log();
        if log.contains(text) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("`{text}` never appeared in the server's log");
}
