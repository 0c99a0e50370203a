use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gust_core::{ErrorKind, Origin, Permission, StoredRequest};
use gust_dispatch::literal_refusal;
use http_body_util::{BodyExt, Limited};
use serde_json::json;

use crate::access::{Caller, forbidden};
use crate::body_limit::{declared_length, discard_body};
use crate::invoke::admit;
use crate::{ApiError, AppState};

pub const CALLBACK_URL: &str = "x-callback-url";

/// `ANY /async/{name}[/{rest}]`: stores the request durably and answers 202 with the id; the
/// queue runs it later.
pub async fn enqueue(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let limit = state.max_async_payload_bytes;
    let request = refuse_announced_oversize(request, limit).await?;
    // Read before `admit` takes Gust's token off the request.
    let caller = state
        .access
        .caller(request.headers())
        .await
        .unwrap_or(Caller::Anonymous);
    let (function, parts, body) = admit(&state, request, "/async/").await?;
    if function.contains('@') {
        return Err(ApiError::bad_request(
            "an asynchronous invocation runs the function's latest version: call \
             /async/NAME (aliases and versions are for /fn/ and routes)",
        ));
    }
    let callback_url = callback_url(&parts.headers)?;
    if let Some(url) = &callback_url {
        let active = state.dispatcher.resolve(&function).await?;
        let function = Some(function.as_str());
        let may_invoke = state
            .access
            .permit(&caller, &[Permission::Invoke], function)
            .is_ok();
        if !may_invoke && !active.config.allow_callbacks {
            return Err(forbidden(
                "setting X-Callback-Url needs the token, or a function deployed with \
                 --allow-callbacks",
            ));
        }
        if let Some(refusal) = literal_refusal(url, state.queue.allows_private_callbacks()) {
            return Err(ApiError::bad_request(refusal));
        }
    }
    let body = read_payload(body, limit).await?;
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !is_transport_header(name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let stored = StoredRequest {
        method: parts.method.to_string(),
        path_with_query: parts.uri.to_string(),
        headers,
        body: body.to_vec(),
    };
    let id = state
        .queue
        .enqueue(&function, Origin::ASYNC, stored, callback_url)
        .await?;
    let location = format!("/v1/invocations/{id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "state": "queued", "status_url": location})),
    )
        .into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(id)) = (HeaderValue::from_str(&location), HeaderValue::from_str(&id)) {
        headers.insert(header::LOCATION, location);
        headers.insert(gust_dispatch::INVOCATION_ID, id);
    }
    Ok(response)
}

/// Headers about this hop, not the request: they are not replayed to the function.
fn is_transport_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "authorization"
            | CALLBACK_URL
    )
}

fn callback_url(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(CALLBACK_URL) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("X-Callback-Url is not valid text"))?;
    let uri: Uri = text
        .parse()
        .map_err(|e| ApiError::bad_request(format!("X-Callback-Url `{text}` is not a URL: {e}")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(Some(text.to_string())),
        _ => Err(ApiError::bad_request(format!(
            "X-Callback-Url `{text}` must be an absolute http:// or https:// URL"
        ))),
    }
}

/// The request, unless it announces a body over the asynchronous limit: then a 413, which the
/// client gets to read (what it sends is read and dropped first).
pub(crate) async fn refuse_announced_oversize(
    request: Request,
    limit: usize,
) -> Result<Request, ApiError> {
    if declared_length(&request).is_some_and(|len| len > limit) {
        discard_body(request.into_body()).await;
        return Err(too_large(limit));
    }
    Ok(request)
}

/// A payload of at most `limit` bytes, or a 413.
pub(crate) async fn read_payload(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    Ok(Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| too_large(limit))?
        .to_bytes())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TooLarge.code(),
        format!(
            "the payload is larger than the asynchronous limit of {} KiB \
             (set with `gust serve --max-async-payload-kb`)",
            limit / 1024
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_callback(url: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CALLBACK_URL, HeaderValue::from_str(url).unwrap());
        headers
    }

    #[test]
    fn callbacks_must_be_http_urls() {
        assert!(callback_url(&HeaderMap::new()).unwrap().is_none());
        assert!(callback_url(&with_callback("https://example.com/done")).is_ok());
        assert!(callback_url(&with_callback("http://127.0.0.1:9/x")).is_ok());
        for bad in ["ftp://example.com/x", "/relative", "mailto:me@example.com"] {
            assert!(callback_url(&with_callback(bad)).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_callback_header_is_taken_as_a_web_url_or_refused(text in "\\PC{0,120}") {
            let Ok(value) = HeaderValue::from_str(&text) else { return Ok(()) };
            let mut headers = HeaderMap::new();
            headers.insert(CALLBACK_URL, value);
            if let Ok(Some(url)) = callback_url(&headers) {
                prop_assert!(url.starts_with("http://") || url.starts_with("https://"), "{}", url);
            }
            let _ = literal_refusal(&text, false);
        }

        #[test]
        fn internal_addresses_are_refused_however_written(
            octets in prop::sample::select(vec![[127, 0, 0, 1], [10, 1, 2, 3], [169, 254, 169, 254], [192, 168, 0, 9]]),
            port in 1u16..,
            path in "[a-z/]{0,20}",
        ) {
            let [a, b, c, d] = octets;
            let url = format!("http://{a}.{b}.{c}.{d}:{port}/{path}");
            prop_assert!(literal_refusal(&url, false).is_some(), "{}", url);
            let mapped = format!("http://[::ffff:{a}.{b}.{c}.{d}]:{port}/{path}");
            prop_assert!(literal_refusal(&mapped, false).is_some(), "{}", mapped);
        }
    }
}
