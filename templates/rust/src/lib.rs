//! {{name}}: answers `{"message": "Hello, NAME!"}` for `?name=NAME` or a JSON body
//! `{"name": "NAME"}`, and a 400 with a JSON error for a body that is not such JSON.

use gust_sdk::{Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
struct Greeting {
    name: Option<String>,
}

fn handle(req: Request) -> Response {
    let name = match req.query("name") {
        Some(name) => name,
        None if req.body.is_empty() => "world".to_string(),
        None => match req.json::<Greeting>() {
            Ok(greeting) => greeting.name.unwrap_or_else(|| "world".to_string()),
            Err(bad_request) => return bad_request,
        },
    };
    Response::json(&serde_json::json!({ "message": format!("Hello, {name}!") }))
}

gust_sdk::export_handler!(handle);
