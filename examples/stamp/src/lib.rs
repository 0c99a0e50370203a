//! Logs what started it and when, in microseconds since the Unix epoch: the key of each object
//! of a bucket event, or the body of any other event (a stream message saying its name). The
//! probe of the benchmarks of upload-to-function-start and produce-to-function-start latency.

use std::time::{SystemTime, UNIX_EPOCH};

use gust_sdk::bucket::object_events;
use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let started_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    match object_events(&req.body) {
        Ok(events) => {
            for event in events {
                println!("{} {started_us}", event.key);
            }
            Response::text("stamped\n")
        }
        Err(_) => {
            println!("{} {started_us}", String::from_utf8_lossy(&req.body).trim());
            Response::text("stamped\n")
        }
    }
}

gust_sdk::export_handler!(handle);
