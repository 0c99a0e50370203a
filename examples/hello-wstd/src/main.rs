//! Hello from a component made with wstd: answers with its path and logs it.

use wstd::http::body::Body;
use wstd::http::{Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    println!("wstd serving {path}");
    Ok(Response::new(format!("Hello from wstd at {path}\n").into()))
}
