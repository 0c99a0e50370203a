//! A kept result as it is passed on (to a callback, or a destination): its body's bytes and
//! content type.

use base64::Engine;
use gust_core::AsyncResult;

/// The answer's bytes (decoded when it was kept as base64) and its content type
/// (`application/octet-stream` when it named none).
pub fn body_and_type(result: &AsyncResult) -> (Vec<u8>, String) {
    let body = if result.body_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(&result.body)
            .unwrap_or_default()
    } else {
        result.body.clone().into_bytes()
    };
    let content_type = result
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map_or("application/octet-stream", |(_, value)| value.as_str());
    (body, content_type.to_string())
}
