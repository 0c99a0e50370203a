//! Refusing a body that is too large in a way the client can read.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use futures::StreamExt;

/// Most bytes of an oversized body read before the connection is dropped instead.
const MAX_DISCARD: usize = 256 * 1024 * 1024;

/// The body length the client announced, if it did.
pub fn declared_length(request: &Request) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads and drops what the client is sending, so that it gets to see the 413 rather than a
/// connection reset in the middle of its upload.
pub async fn discard_body(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len();
        if read > MAX_DISCARD {
            break;
        }
    }
}
