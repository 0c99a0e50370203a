//! Times key-value calls from inside a guest, for the benchmarks: `?op=get|set|increment&n=N`
//! makes N calls on the store `bench` (a 100-byte value under one key) and answers the
//! microseconds per call. Deploy with `--kv bench`.

use std::time::Instant;

use gust_sdk::kv::Store;
use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let op = req.query("op").unwrap_or_else(|| "get".into());
    let n: u32 = req.query("n").and_then(|n| n.parse().ok()).unwrap_or(1000);
    let store = match Store::open("bench") {
        Ok(store) => store,
        Err(e) => return Response::text(format!("{e}\n")).with_status(500),
    };
    let value = [b'v'; 100];
    if let Err(e) = store.set("probe", &value) {
        return Response::text(format!("{e}\n")).with_status(500);
    }
    let started = Instant::now();
    for _ in 0..n {
        let done = match op.as_str() {
            "get" => store.get("probe").map(drop),
            "set" => store.set("probe", &value),
            "increment" => store.increment("probe-count", 1).map(drop),
            other => return Response::text(format!("unknown op {other}\n")).with_status(400),
        };
        if let Err(e) = done {
            return Response::text(format!("{e}\n")).with_status(500);
        }
    }
    let per_call_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1));
    Response::json(&serde_json::json!({"op": op, "n": n, "per_call_us": per_call_us}))
}

gust_sdk::export_handler!(handle);
