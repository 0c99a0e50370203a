//! Traces: with `--otlp-endpoint`, every invocation is a span with its phases as children,
//! exported over OTLP/HTTP; a caller's `traceparent` is continued into the function's own
//! requests, and an asynchronous invocation, its attempts and its callback are one trace.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::callbacks::{header, receiver};
use crate::harness::{Server, fixture_dir};
use crate::thumbnails::{Boto3, deploy_rust_thumbnail, image, set_up, thumbnail_size};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The test receiver (`tests/otlp/receiver.py`), and the spans it was sent.
struct Collector {
    child: Child,
    url: String,
    spans: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Collector {
    fn start() -> Collector {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the OTLP receiver (python3 with opentelemetry-proto)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap();
        let (tx, spans) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str::<Value>(&line).unwrap());
            }
        });
        Collector {
            child,
            url,
            spans,
            seen: Vec::new(),
        }
    }

    /// A server that exports its traces here, started with `extra_args` too.
    fn server(&self, extra_args: &[&str]) -> Server {
        Server::start_with(&[&["--otlp-endpoint", self.url.as_str()], extra_args].concat())
    }

    /// Waits until `done` holds of the spans received so far; `what` says what it waits for.
    fn wait_until(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.spans.recv_timeout(left) {
                Ok(span) => self.seen.push(span),
                Err(_) => panic!("no {what}; have {:#?}", self.seen),
            }
        }
    }

    /// Waits until the spans of every call made to `server` so far that will be exported are
    /// in: exports go out in order, so once those of a later call of `function` (in `trace`,
    /// which its caller samples) are in, the earlier calls' would be.
    fn catch_up(&mut self, server: &Server, function: &str, trace: &str) {
        let response = server
            .get(&format!("/fn/{function}"))
            .header("traceparent", traceparent(trace, true))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        self.trace(trace, &[function, "guest run"]);
    }

    /// Waits until the spans of `trace_id` include one named each of `names`, and returns
    /// them all.
    fn trace(&mut self, trace_id: &str, names: &[&str]) -> Vec<Value> {
        let in_trace = |s: &&Value| s["trace_id"] == trace_id;
        self.wait_until(&format!("spans {names:?} in trace {trace_id}"), |seen| {
            let spans: Vec<&Value> = seen.iter().filter(in_trace).collect();
            names.iter().all(|n| spans.iter().any(|s| s["name"] == *n))
        });
        self.seen.iter().filter(in_trace).cloned().collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let found = spans.iter().find(|s| s["name"] == name);
    found.unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

/// The span of invocation `id` among `spans`, if it was exported.
fn of_invocation<'a>(spans: &'a [Value], id: &str) -> Option<&'a Value> {
    spans
        .iter()
        .find(|s| s["attributes"]["faas.invocation_id"] == id)
}

/// The invocation id Gust answered a call with.
fn invocation_id(response: &reqwest::blocking::Response) -> String {
    let id = response.headers()["x-gust-invocation-id"].to_str().unwrap();
    id.to_string()
}

fn children<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a str> {
    let parent_id = &parent["span_id"];
    let found = spans.iter().filter(|s| s["parent_span_id"] == *parent_id);
    found.map(|s| s["name"].as_str().unwrap()).collect()
}

/// The trace and parent span a `traceparent` header names.
fn parent_of(traceparent: &str) -> (String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    (fields[1].to_string(), fields[2].to_string())
}

fn traceparent(trace: &str, sampled: bool) -> String {
    format!("00-{trace}-{CALLER_SPAN}-0{}", u8::from(sampled))
}

#[test]
fn an_invocation_is_a_span_with_its_phases_and_its_outbound_calls_continue_the_trace() {
    let mut collector = Collector::start();
    let server = collector.server(&["--trace-sample-ratio", "1"]);
    let (upstream, upstream_saw) = receiver(vec![(200, "")]);
    let upstream_host = upstream
        .trim_start_matches("http://")
        .trim_end_matches("/done");
    server.deploy(
        "fetch",
        "fetch",
        json!({"public": true, "allow_hosts": [upstream_host]}),
    );

    let path = format!("/fn/fetch?url={upstream}");
    let response = server
        .get(&path)
        .header("traceparent", traceparent(CALLER_TRACE, true))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = invocation_id(&response);
    let spans = collector.trace(CALLER_TRACE, &["fetch", "guest run", "record"]);

    let invocation = named(&spans, "fetch");
    assert_eq!(
        invocation["parent_span_id"], CALLER_SPAN,
        "the caller's trace"
    );
    assert_eq!(invocation["service"], "gust");
    assert_eq!(invocation["kind"], 2, "a server span");
    let attributes = &invocation["attributes"];
    assert_eq!(attributes["faas.name"], "fetch");
    assert_eq!(attributes["faas.version"], 1);
    assert_eq!(attributes["faas.invocation_id"], id.as_str());
    assert_eq!(attributes["gust.origin"], "http");
    assert_eq!(attributes["faas.coldstart"], true);
    assert!(
        attributes["gust.billed_ms"].as_i64().unwrap() >= 1,
        "{attributes}"
    );
    assert_eq!(attributes["http.response.status_code"], 200);
    assert_eq!(
        children(&spans, invocation),
        [
            "code load",
            "admission",
            "instance start",
            "guest run",
            "record"
        ],
        "the phases in order"
    );
    for child in spans
        .iter()
        .filter(|s| s["parent_span_id"] == invocation["span_id"])
    {
        assert!(child["start_ns"].as_u64() >= invocation["start_ns"].as_u64());
        assert!(
            child["end_ns"].as_u64() <= invocation["end_ns"].as_u64(),
            "{child}"
        );
    }

    // The function's own request is a child of its invocation.
    let (head, _) = upstream_saw.recv_timeout(Duration::from_secs(10)).unwrap();
    let sent = header(&head, "traceparent").expect("the outbound request carries traceparent");
    assert_eq!(
        parent_of(sent),
        (
            CALLER_TRACE.to_string(),
            invocation["span_id"].as_str().unwrap().to_string()
        )
    );

    // A caller that does not sample is obeyed; one that sends nothing starts a new trace.
    let unsampled = "11111111111111111111111111111111";
    let warm = server
        .get("/fn/fetch")
        .header("traceparent", traceparent(unsampled, false))
        .send()
        .unwrap();
    assert_eq!(warm.status(), 400, "no ?url=");
    let fresh_id = invocation_id(&server.get("/fn/fetch").send().unwrap());
    collector.wait_until("span of the call without traceparent", |seen| {
        of_invocation(seen, &fresh_id).is_some()
    });
    let root = of_invocation(&collector.seen, &fresh_id).unwrap().clone();
    assert_eq!(root["name"], "fetch");
    assert_eq!(root["parent_span_id"], "", "a root span");
    assert_ne!(root["trace_id"], CALLER_TRACE);
    let warm_spans = collector.trace(root["trace_id"].as_str().unwrap(), &["fetch", "record"]);
    assert_eq!(root["attributes"]["faas.coldstart"], false);
    assert!(!children(&warm_spans, &root).contains(&"code load"));
    assert!(
        collector.seen.iter().all(|s| s["trace_id"] != unsampled),
        "spans of an unsampled trace were exported"
    );
}

#[test]
fn a_process_function_gets_the_traceparent_of_its_invocation() {
    let mut collector = Collector::start();
    let server = collector.server(&[]);
    let probe = fixture_dir("probe");
    server.deploy_process("probe", &probe, "python3 probe.py", &["--public"]);

    let trace = "33333333333333333333333333333333";
    let response = server
        .get("/fn/probe/whoami")
        .header("traceparent", traceparent(trace, true))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().unwrap();
    let headers = seen["headers"].as_object().unwrap();
    let got = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
        .and_then(|(_, value)| value.as_str())
        .expect("the process gets traceparent");
    let spans = collector.trace(trace, &["probe"]);
    let invocation = named(&spans, "probe")["span_id"].as_str().unwrap();
    assert_eq!(
        parent_of(got),
        (trace.to_string(), invocation.to_string()),
        "its own span, not the caller's"
    );
}

#[test]
fn an_async_invocation_and_its_callback_are_one_trace() {
    let mut collector = Collector::start();
    let server = collector.server(&["--allow-private-callbacks"]);
    server.deploy(
        "echo",
        "echo",
        json!({"public": true, "allow_callbacks": true}),
    );
    let (callback_url, callbacks) = receiver(vec![(200, "")]);
    let trace = "22222222222222222222222222222222";
    let response = server
        .post("/async/echo")
        .header("traceparent", traceparent(trace, true))
        .header("x-callback-url", &callback_url)
        .body("later")
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);

    let (head, body) = callbacks.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(body, "later");
    let sent = header(&head, "traceparent").expect("the callback carries traceparent");
    let spans = collector.trace(trace, &["enqueue echo", "echo", "callback", "queue wait"]);
    let enqueue = named(&spans, "enqueue echo");
    let invocation = named(&spans, "echo");
    let callback = named(&spans, "callback");
    assert_eq!(enqueue["parent_span_id"], CALLER_SPAN);
    assert_eq!(invocation["parent_span_id"], enqueue["span_id"]);
    assert_eq!(callback["parent_span_id"], enqueue["span_id"]);
    assert_eq!(invocation["attributes"]["gust.origin"], "async");
    assert_eq!(invocation["kind"], 5, "a consumer span");
    assert_eq!(
        children(&spans, invocation)[0],
        "queue wait",
        "its wait in the queue comes first"
    );
    assert_eq!(
        parent_of(sent),
        (
            trace.to_string(),
            callback["span_id"].as_str().unwrap().to_string()
        )
    );
}

#[test]
fn an_upload_and_the_thumbnail_it_makes_are_one_trace() {
    let mut collector = Collector::start();
    let server = collector.server(&[]);
    set_up(&server, "thumbnail", deploy_rust_thumbnail);
    let dir = TempDir::new().unwrap();
    let png = image(dir.path(), "dog.png", "PNG", 300, 600);
    let trace = "44444444444444444444444444444444";
    let upload = ["put-traced", "photos", "dog.png", png.to_str().unwrap()];
    let traced = traceparent(trace, true);
    Boto3 { server: &server }.run(&[&upload[..], &[traced.as_str()]].concat());
    assert_eq!(thumbnail_size(&server, dir.path(), "dog.png"), "64 128 PNG");
    let spans = collector.trace(trace, &["enqueue thumbnail", "thumbnail", "guest run"]);
    let enqueue = named(&spans, "enqueue thumbnail");
    let invocation = named(&spans, "thumbnail");
    assert_eq!(enqueue["parent_span_id"], CALLER_SPAN, "the upload's trace");
    assert_eq!(invocation["parent_span_id"], enqueue["span_id"]);
    let origin = invocation["attributes"]["gust.origin"].as_str().unwrap();
    assert!(origin.starts_with("bucket:"), "{origin}");
}

#[test]
fn a_sample_ratio_thins_the_traces_gust_starts_but_not_the_callers() {
    let mut collector = Collector::start();
    let server = collector.server(&["--trace-sample-ratio", "0", "--trace-reservoir", "0"]);
    server.deploy("hello", "hello", json!({"public": true}));
    let unsampled_id = invocation_id(&server.get("/fn/hello").send().unwrap());
    collector.catch_up(&server, "hello", "33333333333333333333333333333333");
    assert!(
        of_invocation(&collector.seen, &unsampled_id).is_none(),
        "a trace Gust started was sampled"
    );
}

#[test]
fn by_default_a_function_called_now_and_then_is_traced_and_a_busy_one_thinned() {
    let mut collector = Collector::start();
    let server = collector.server(&[]);
    server.deploy("hello", "hello", json!({"public": true}));
    let call = || invocation_id(&server.get("/fn/hello").send().unwrap());
    let rare = call();
    collector.wait_until("the span of a lone call", |seen| {
        of_invocation(seen, &rare).is_some()
    });

    let busy: Vec<String> = (0..100).map(|_| call()).collect();
    collector.catch_up(&server, "hello", "44444444444444444444444444444444");
    let recorded = busy
        .iter()
        .filter(|id| of_invocation(&collector.seen, id).is_some())
        .count();
    assert!(
        recorded < 50,
        "{recorded} of 100 calls in a burst were traced"
    );
}

#[test]
fn a_bad_endpoint_is_refused_at_start() {
    let data_dir = tempfile::TempDir::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gust"))
        .args(["serve", "--listen", "127.0.0.1:0", "--s3-listen", "off"])
        .args(["--otlp-endpoint", "127.0.0.1:4318", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("must be an http:// or https:// URL"),
        "{stderr}"
    );
}
