//! Moves requests and responses between the SDK's types and wasi:http resources.

use std::io::{Read, Write};

use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use crate::{Request, Response};

pub fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other.as_str(),
    }
    .to_string()
}

pub fn read_request(request: IncomingRequest) -> Result<Request, String> {
    let headers = request.headers().entries();
    let body = request
        .consume()
        .map_err(|()| "the request body was already taken".to_string())?;
    Ok(Request {
        method: method_name(&request.method()),
        path_with_query: request.path_with_query().unwrap_or_else(|| "/".into()),
        headers,
        body: read_body(body)?,
    })
}

pub fn read_body(body: IncomingBody) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let mut stream = body
            .stream()
            .map_err(|()| "the body stream was already taken".to_string())?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the body: {e}"))?;
    }
    IncomingBody::finish(body);
    Ok(bytes)
}

pub fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let mut stream = body
        .write()
        .map_err(|()| "the body stream was already taken".to_string())?;
    stream
        .write_all(bytes)
        .and_then(|()| Write::flush(&mut stream))
        .map_err(|e| format!("cannot write the body: {e}"))
}

pub fn fields(headers: &[(String, Vec<u8>)]) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers {
        // A header the host forbids (e.g. hop-by-hop) is dropped rather than failing the call.
        let _ = fields.append(name, value);
    }
    fields
}

pub fn write_response(out: ResponseOutparam, response: Response) {
    let outgoing = OutgoingResponse::new(fields(&response.headers));
    let _ = outgoing.set_status_code(response.status);
    let body = outgoing.body().expect("a new response has a body");
    ResponseOutparam::set(out, Ok(outgoing));
    match write_body(&body, &response.body) {
        Ok(()) => {
            let _ = OutgoingBody::finish(body, None);
        }
        Err(message) => eprintln!("{message}"),
    }
}
