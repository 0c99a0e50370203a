use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gust_core::{AsyncInvocation, AsyncState, ErrorKind, LogLine};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState};

/// An asynchronous invocation with the log lines its attempts wrote.
#[derive(Serialize, ToSchema)]
pub struct InvocationView {
    #[serde(flatten)]
    invocation: AsyncInvocation,
    logs: Vec<LogLine>,
}

fn unknown(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound.code(),
        format!("no asynchronous invocation with id `{id}`"),
    )
}

/// State, attempts, errors, result and logs of an asynchronous invocation.
#[utoipa::path(get, path = "/v1/invocations/{id}", tag = "async",
    params(("id" = String, Path)),
    responses((status = 200, body = InvocationView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<InvocationView>, ApiError> {
    let store = state.dispatcher.flushed_store().await;
    let invocation = store
        .async_invocation(&id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    let logs = store.invocation_logs(&id).await?;
    Ok(Json(InvocationView { invocation, logs }))
}

/// Cancels an invocation that has not run yet.
#[utoipa::path(delete, path = "/v1/invocations/{id}", tag = "async",
    params(("id" = String, Path)),
    responses((status = 200), (status = 404), (status = 409, description = "already running or done")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match state.dispatcher.store().cancel_async(&id).await? {
        None => Err(unknown(&id)),
        Some(AsyncState::Cancelled) => {
            Ok(Json(serde_json::json!({"id": id, "state": "cancelled"})))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::Conflict.code(),
            format!(
                "invocation `{id}` is {} and can no longer be cancelled",
                other.as_str()
            ),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// Only invocations in this state.
    state: Option<AsyncState>,
    /// How many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// A function's asynchronous invocations, newest first.
#[utoipa::path(get, path = "/v1/functions/{name}/async", tag = "async",
    params(("name" = String, Path), ListParams),
    responses((status = 200, body = Vec<AsyncInvocation>), (status = 404)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<AsyncInvocation>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state.dispatcher.function(&name).await?;
    let limit = params.limit.unwrap_or(100).min(1000);
    let list = state
        .dispatcher
        .store()
        .async_invocations(&name, params.state, limit)
        .await?;
    Ok(Json(list))
}

/// The function's dead-letter list: invocations whose every attempt failed.
#[utoipa::path(get, path = "/v1/functions/{name}/dlq", tag = "async",
    params(("name" = String, Path)),
    responses((status = 200, body = Vec<AsyncInvocation>), (status = 404)), security(("bearer" = [])))]
pub async fn dead_letters(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<AsyncInvocation>>, ApiError> {
    state.dispatcher.function(&name).await?;
    let dead = state
        .dispatcher
        .store()
        .async_invocations(&name, Some(AsyncState::Dead), 1000)
        .await?;
    Ok(Json(dead))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayRequest {
    /// Which dead invocations to run again; all of them when empty.
    ids: Vec<String>,
}

/// Requeues dead invocations with fresh attempts.
#[utoipa::path(post, path = "/v1/functions/{name}/dlq/replay", tag = "async",
    params(("name" = String, Path)), request_body = ReplayRequest,
    responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let replayed = state.queue.replay(&name, body.ids).await?;
    Ok(Json(serde_json::json!({"replayed": replayed})))
}
