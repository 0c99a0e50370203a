use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use gust_core::{Error, Origin, Permission, Target};
use gust_dispatch::{
    Admission, BILLED_MS, Entry, INVOCATION_ID, RequestBody, failure_status, number_value,
};
use http_body_util::BodyExt;
use serde_json::json;

use crate::access::Caller;
use crate::{ApiError, AppState, guest_headers};

pub const COLD_START: HeaderName = HeaderName::from_static("x-gust-cold-start");
pub const VERSION: HeaderName = HeaderName::from_static("x-gust-version");

/// `ANY /fn/{target}[/{rest}]`: calls the function's latest version (`NAME`), an alias's
/// (`NAME@ALIAS`) or a given one (`NAME@3`) with the request, the path after the target and
/// the streamed body.
pub async fn invoke(State(state): State<AppState>, request: Request) -> Response {
    match admit(&state, request, "/fn/").await {
        Ok((function, parts, body)) => answer(&state, &function, parts, body).await,
        Err(err) => with_invocation_id(err.into_response(), &ulid::Ulid::new().to_string()),
    }
}

/// Calls `function` with a request it may get (admitted, its headers scrubbed) and answers
/// what it answered, or the error, with the invocation's id.
pub async fn answer(
    state: &AppState,
    function: &str,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let invocation_id = ulid::Ulid::new().to_string();
    let response = call(state, &invocation_id, function, parts, body)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    with_invocation_id(response, &invocation_id)
}

fn with_invocation_id(mut response: Response, invocation_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(invocation_id) {
        response.headers_mut().insert(INVOCATION_ID, value);
    }
    response
}

async fn call(
    state: &AppState,
    invocation_id: &str,
    function: &str,
    parts: http::request::Parts,
    body: Body,
) -> Result<Response, ApiError> {
    let body: RequestBody = body
        .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
        .boxed_unsync();
    let entry = Entry {
        function,
        invocation_id: invocation_id.to_string(),
        origin: Origin::HTTP,
        attempt: 1,
        admission: Admission::Queue,
        queued_since_ms: None,
    };
    let request = http::Request::from_parts(parts, body);
    let invoked = state.dispatcher.call(entry, request).await?;
    let mut response = match invoked.response {
        Ok(response) => response.map(Body::new),
        Err(failure) => {
            let status = StatusCode::from_u16(failure_status(failure.status))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": {
                "code": failure.status.as_str(),
                "message": failure.message,
                "invocation_id": invocation_id,
            }});
            (status, axum::Json(body)).into_response()
        }
    };
    if let Some(billed_ms) = invoked.billed_ms {
        response
            .headers_mut()
            .insert(BILLED_MS, number_value(billed_ms));
    }
    response
        .headers_mut()
        .insert(VERSION, number_value(invoked.version.into()));
    if invoked.cold {
        response
            .headers_mut()
            .insert(COLD_START, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Finds the function a request under `prefix` (`/fn/` or `/async/`) is for (`NAME`,
/// `NAME@ALIAS` or `NAME@N`), checks that the caller may call it, and rewrites the request as
/// the function will see it. Returns the target as named.
pub async fn admit(
    state: &AppState,
    request: Request,
    prefix: &str,
) -> Result<(String, http::request::Parts, Body), ApiError> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let (target, rest) = split_path(&path, prefix);
    let name = Target::parse(target)?.function;
    // Checked before anything is loaded. To a caller without a valid token a private
    // function does not exist, so names cannot be probed.
    if !state.dispatcher.is_public(target).await? {
        let caller = match state.access.caller(&parts.headers).await {
            Ok(Caller::Anonymous) | Err(_) => return Err(Error::function_not_found(name).into()),
            Ok(caller) => caller,
        };
        state
            .access
            .permit(&caller, &[Permission::Invoke], Some(name))?;
    }
    let target = target.to_string();
    guest_headers::scrub(&mut parts.headers, &state.access);
    parts.uri = guest_uri(rest, parts.uri.query())?;
    if !parts.headers.contains_key(header::HOST) {
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    Ok((target, parts, body))
}

/// Splits `{prefix}{name}/{rest}` into the name and the path the function sees.
fn split_path<'a>(path: &'a str, prefix: &str) -> (&'a str, &'a str) {
    let after = path.strip_prefix(prefix).unwrap_or_default();
    match after.find('/') {
        Some(slash) => (&after[..slash], &after[slash..]),
        None => (after, "/"),
    }
}

fn guest_uri(path: &str, query: Option<&str>) -> Result<Uri, Error> {
    let path_and_query = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    path_and_query
        .parse()
        .map_err(|e| Error::invalid(format!("invalid request path: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_sees_the_path_after_its_name() {
        assert_eq!(split_path("/fn/hello", "/fn/"), ("hello", "/"));
        assert_eq!(split_path("/fn/hello/", "/fn/"), ("hello", "/"));
        assert_eq!(split_path("/async/hello/a/b", "/async/"), ("hello", "/a/b"));
        assert_eq!(guest_uri("/a", Some("x=1")).unwrap(), "/a?x=1");
    }
}
