//! Logs the key of each bucket event it gets and the time it started, in microseconds since
//! the Unix epoch: the probe of the benchmark of upload-to-function-start latency.

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
        Err(message) => Response::text(message).with_status(400),
    }
}

gust_sdk::export_handler!(handle);
