use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gust_core::{CronTrigger, ErrorKind};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// `*/10 * * * * *` (seconds first) or the classic five fields.
    cron: String,
    /// IANA time zone; UTC when absent.
    timezone: Option<String>,
}

/// Adds a cron schedule: each firing is an asynchronous invocation delivered as a CloudEvent.
#[utoipa::path(post, path = "/v1/functions/{name}/triggers", tag = "triggers",
    params(("name" = String, Path)), request_body = NewSchedule,
    responses((status = 201, body = CronTrigger), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<NewSchedule>, JsonRejection>,
) -> Result<(StatusCode, Json<CronTrigger>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let trigger = state
        .scheduler
        .add(&name, &body.cron, body.timezone.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(trigger)))
}

#[derive(Deserialize, IntoParams)]
pub struct TriggerFilter {
    /// Only this function's schedules.
    function: Option<String>,
}

/// Every schedule, or one function's.
#[utoipa::path(get, path = "/v1/triggers", tag = "triggers", params(TriggerFilter),
    responses((status = 200, body = Vec<CronTrigger>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    filter: Result<Query<TriggerFilter>, QueryRejection>,
) -> Result<Json<Vec<CronTrigger>>, ApiError> {
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let store = state.dispatcher.store();
    Ok(Json(store.triggers(filter.function.as_deref()).await?))
}

/// Removes a schedule.
#[utoipa::path(delete, path = "/v1/triggers/{id}", tag = "triggers",
    params(("id" = String, Path)), responses((status = 204), (status = 404)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.dispatcher.store().delete_trigger(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound.code(),
            format!("no trigger with id `{id}`; `gust trigger ls` lists them"),
        ))
    }
}
