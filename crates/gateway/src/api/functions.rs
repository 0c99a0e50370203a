use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gust_core::{ConfigPatch, FunctionInfo, FunctionStatus, InvocationRecord, Version};
use serde::Deserialize;
use utoipa::IntoParams;

use super::DeployResponse;
use crate::{ApiError, AppState};

/// Lists deployed functions with their latest version and instances.
#[utoipa::path(get, path = "/v1/functions", tag = "functions",
    responses((status = 200, body = Vec<FunctionStatus>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<FunctionStatus>>, ApiError> {
    let functions = state.dispatcher.store().functions().await?;
    let mut instances = state.dispatcher.instances();
    let with_instances = |function: FunctionInfo| FunctionStatus {
        instances: instances.remove(&function.name).unwrap_or_default(),
        function,
    };
    Ok(Json(functions.into_iter().map(with_instances).collect()))
}

/// One function: its latest version and instances.
#[utoipa::path(get, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path)),
    responses((status = 200, body = FunctionStatus), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<FunctionStatus>, ApiError> {
    let function = state.dispatcher.function(&name).await?;
    let instances = state.dispatcher.instances_of(&name);
    Ok(Json(FunctionStatus {
        function,
        instances,
    }))
}

/// Changes settings (limits, env, allowed hosts, public): a new version of the same artifact.
#[utoipa::path(patch, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path)), request_body = ConfigPatch,
    responses((status = 201, body = DeployResponse), (status = 200, body = DeployResponse),
        (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn reconfigure(
    State(state): State<AppState>,
    Path(name): Path<String>,
    patch: Result<Json<ConfigPatch>, JsonRejection>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let Json(patch) = patch.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let current = state.dispatcher.function(&name).await?.latest.config;
    state
        .queue
        .check_destinations(&name, &patch.clone().apply(&current))?;
    let deployed = state.dispatcher.reconfigure(&name, patch).await?;
    Ok(DeployResponse::reply(name, deployed))
}

/// Deletes a function with its versions, invocation records and logs.
#[utoipa::path(delete, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.dispatcher.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a function, oldest first.
#[utoipa::path(get, path = "/v1/functions/{name}/versions", tag = "functions",
    params(("name" = String, Path)),
    responses((status = 200, body = Vec<Version>), (status = 404)), security(("bearer" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Version>>, ApiError> {
    state.dispatcher.function(&name).await?;
    Ok(Json(state.dispatcher.store().versions(&name).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct InvocationQuery {
    /// How many, newest first (default 50, at most 1000).
    limit: Option<u32>,
}

/// Recent invocations of a function, newest first.
#[utoipa::path(get, path = "/v1/functions/{name}/invocations", tag = "invocations",
    params(("name" = String, Path), InvocationQuery),
    responses((status = 200, body = Vec<InvocationRecord>), (status = 404)),
    security(("bearer" = [])))]
pub async fn invocations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<InvocationQuery>, QueryRejection>,
) -> Result<Json<Vec<InvocationRecord>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state.dispatcher.function(&name).await?;
    let limit = query.limit.unwrap_or(50).min(1000);
    let store = state.dispatcher.flushed_store().await;
    Ok(Json(store.invocations(&name, limit).await?))
}
