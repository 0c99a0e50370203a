//! Greets whoever calls: `?name=` in the query or `{"name": ...}` in a JSON body (any other
//! JSON, such as a schedule's event, greets the world; a body that is not JSON is a 400).

use gust_sdk::{Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
struct Greeting {
    name: Option<String>,
}

fn handle(req: Request) -> Response {
    let name = match req.query("name") {
        Some(name) => name,
        None if !req.body.is_empty() => match req.json::<Greeting>() {
            Ok(Greeting { name: Some(name) }) => name,
            Ok(Greeting { name: None }) => return Response::text("Hello, world!\n"),
            Err(bad_request) => return bad_request,
        },
        None => return Response::text("Hello, world!\n"),
    };
    println!("greeting {name}");
    Response::text(format!("Hello, {name}!\n"))
}

gust_sdk::export_handler!(handle);
