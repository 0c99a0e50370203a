//! `POST /hooks/{id}`: a webhook's URL, for third parties. It takes no token: the sender's
//! signature admits a post (for an unsigned webhook, knowing the URL does). A post that passes
//! is stored before the 202; one that does not gets 401 and leaves nothing behind.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::json;

use crate::body_limit::{declared_length, discard_body};
use crate::enqueue::too_large;
use crate::{ApiError, AppState};

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let limit = state.max_async_payload_bytes;
    if declared_length(&request).is_some_and(|len| len > limit) {
        discard_body(request.into_body()).await;
        return Err(too_large(limit));
    }
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| too_large(limit))?
        .to_bytes();
    let invocation = state.webhooks.receive(&id, &parts.headers, body).await?;
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"id": invocation, "state": "queued"})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&invocation) {
        response
            .headers_mut()
            .insert(gust_dispatch::INVOCATION_ID, value);
    }
    Ok(response)
}
