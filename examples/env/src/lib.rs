//! Answers with its environment as a JSON object.

use std::collections::BTreeMap;

use gust_sdk::{Request, Response};

fn handle(_req: Request) -> Response {
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    Response::json(&vars)
}

gust_sdk::export_handler!(handle);
