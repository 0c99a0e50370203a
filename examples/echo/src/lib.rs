//! Echoes the request: the body streamed back chunk by chunk as it arrives, and the method,
//! path and headers as `x-echo-*` response headers. `?chunks=N&delay_ms=D` instead streams N
//! lines with a pause between them.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::{OutputStream, StreamError};

struct Echo;

impl Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let headers = Fields::new();
        let _ = headers.append("x-echo-method", method_name(&request.method()).as_bytes());
        let _ = headers.append("x-echo-path", path.as_bytes());
        for (name, value) in request.headers().entries() {
            let _ = headers.append(&format!("x-echo-h-{name}"), &value);
        }
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("response body");
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().expect("response stream");
        match query(&path, "chunks") {
            Some(chunks) => {
                let delay_ms: u64 = query(&path, "delay_ms")
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                stream_lines(&stream, chunks.parse().unwrap_or(1), delay_ms);
            }
            None => copy_body(request, &stream),
        }
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}

fn copy_body(request: IncomingRequest, out: &OutputStream) {
    let body = request.consume().expect("request body");
    {
        let input = body.stream().expect("request stream");
        loop {
            match input.blocking_read(64 * 1024) {
                Ok(chunk) => write_all(out, &chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    eprintln!("read failed: {}", e.to_debug_string());
                    break;
                }
            }
        }
    }
    IncomingBody::finish(body);
}

fn stream_lines(out: &OutputStream, chunks: u32, delay_ms: u64) {
    for i in 0..chunks {
        if i > 0 && delay_ms > 0 {
            wasi::clocks::monotonic_clock::subscribe_duration(delay_ms * 1_000_000).block();
        }
        write_all(out, format!("chunk {i}\n").as_bytes());
    }
}

fn write_all(out: &OutputStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = (bytes.len()).min(4096);
        if out.blocking_write_and_flush(&bytes[..n]).is_err() {
            return;
        }
        bytes = &bytes[n..];
    }
}

fn query(path: &str, key: &str) -> Option<String> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Patch => "PATCH".into(),
        Method::Options => "OPTIONS".into(),
        Method::Connect => "CONNECT".into(),
        Method::Trace => "TRACE".into(),
        Method::Other(other) => other.clone(),
    }
}

wasi::http::proxy::export!(Echo);
