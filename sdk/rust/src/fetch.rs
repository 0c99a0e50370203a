use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Method, OutgoingBody, OutgoingRequest, Scheme};

use crate::wire::{fields, read_body, write_body};

/// A response to an outbound request.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// Why an outbound request failed; `Denied` when the host was not allowed at deploy.
#[derive(Debug, Clone)]
pub enum FetchError {
    InvalidUrl(String),
    Denied,
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::InvalidUrl(url) => write!(f, "invalid URL `{url}`"),
            FetchError::Denied => f.write_str("outbound request denied: host not allowed"),
            FetchError::Failed(why) => write!(f, "outbound request failed: {why}"),
        }
    }
}

fn failed(code: ErrorCode) -> FetchError {
    match code {
        ErrorCode::HttpRequestDenied => FetchError::Denied,
        other => FetchError::Failed(format!("{other:?}")),
    }
}

/// Sends an HTTP request (`http://` or `https://` URL) and reads the whole response.
pub fn fetch(method: &str, url: &str, body: &[u8]) -> Result<Fetched, FetchError> {
    fetch_with(method, url, &[], body)
}

/// [`fetch`] with request headers.
pub fn fetch_with(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Fetched, FetchError> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(FetchError::InvalidUrl(url.into())),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    let request = OutgoingRequest::new(fields(&headers));
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.into()),
    };
    let invalid = |()| FetchError::InvalidUrl(url.into());
    request.set_method(&method).map_err(invalid)?;
    request.set_scheme(Some(&scheme)).map_err(invalid)?;
    request.set_authority(Some(authority)).map_err(invalid)?;
    request.set_path_with_query(Some(path)).map_err(invalid)?;
    let outgoing_body = request.body().expect("a new request has a body");
    let pending = outgoing_handler::handle(request, None).map_err(failed)?;
    // The body's stream closes once the host is done with the request: when it was refused,
    // or when the server answered without reading further. Either way the response, or its
    // error code, tells what happened: a failed write of the body itself says nothing more.
    if !body.is_empty() {
        let _ = write_body(&outgoing_body, body);
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
    pending.subscribe().block();
    let response = pending
        .get()
        .expect("the response is ready after block()")
        .map_err(|()| FetchError::Failed("response already taken".into()))?
        .map_err(failed)?;
    let status = response.status();
    let headers = response.headers().entries();
    let body = response
        .consume()
        .map_err(|()| FetchError::Failed("response body already taken".into()))?;
    Ok(Fetched {
        status,
        headers,
        body: read_body(body).map_err(FetchError::Failed)?,
    })
}
