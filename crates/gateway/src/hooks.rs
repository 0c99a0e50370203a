//! `POST /hooks/{id}`: a webhook's URL, for third parties. It takes no token: the sender's
//! signature admits a post (for an unsigned webhook, knowing the URL does). A post that passes
//! is stored before the 202; one that does not gets 401 and leaves nothing behind.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::enqueue::{read_payload, refuse_announced_oversize};
use crate::{ApiError, AppState};

pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let limit = state.max_async_payload_bytes;
    let request = refuse_announced_oversize(request, limit).await?;
    let (parts, body) = request.into_parts();
    let body = read_payload(body, limit).await?;
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
