//! Write a Gust function in a few lines: a plain `fn(Request) -> Response`, exported as a
//! standard `wasi:http/proxy` component that any wasi:http host can run.
//!
//! ```ignore
//! use gust_sdk::{Request, Response};
//!
//! fn handle(req: Request) -> Response {
//!     Response::text(format!("Hello, {}!", req.query("name").unwrap_or("world".into())))
//! }
//!
//! gust_sdk::export_handler!(handle);
//! ```

pub mod bucket;
mod fetch;
pub mod kafka;
pub mod kv;
mod request;
mod response;
mod wire;

pub use fetch::{FetchError, Fetched, fetch, fetch_with};
pub use request::Request;
pub use response::Response;
pub use wasi;

/// Reads an environment variable set at deploy (`gust deploy --env KEY=VALUE`).
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Exports `$handler: fn(Request) -> Response` as the component's `wasi:http/incoming-handler`.
#[macro_export]
macro_rules! export_handler {
    ($handler:path) => {
        struct GustHandler;

        impl $crate::wasi::exports::http::incoming_handler::Guest for GustHandler {
            fn handle(
                request: $crate::wasi::http::types::IncomingRequest,
                response_out: $crate::wasi::http::types::ResponseOutparam,
            ) {
                $crate::serve(request, response_out, $handler);
            }
        }

        $crate::wasi::http::proxy::export!(GustHandler with_types_in $crate::wasi);
    };
}

#[doc(hidden)]
pub fn serve(
    request: wasi::http::types::IncomingRequest,
    response_out: wasi::http::types::ResponseOutparam,
    handler: fn(Request) -> Response,
) {
    let response = match wire::read_request(request) {
        Ok(request) => handler(request),
        Err(message) => Response::text(message).with_status(400),
    };
    wire::write_response(response_out, response);
}
