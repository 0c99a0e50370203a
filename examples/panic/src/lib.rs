//! Panics on every request, after writing a log line.

use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    eprintln!("about to fail on {}", req.path());
    panic!("boom: this function always fails");
}

gust_sdk::export_handler!(handle);
