use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gust_core::{ErrorKind, Trigger};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState};

/// A new trigger: its source's kind and that source's settings beside it.
#[derive(Deserialize, ToSchema)]
pub struct NewTrigger {
    /// `cron`, `bucket` or `webhook`. Absent, a body with `cron` is a schedule (the form from
    /// before kinds).
    kind: Option<String>,
    /// The source's settings. `cron`: `cron` (`*/10 * * * * *` with seconds first, or the
    /// classic five fields) and `timezone` (IANA; UTC when absent). `bucket`: `bucket`,
    /// `events` (`created`, `removed`), `prefix`, `suffix`. `webhook`: `verify` (`github`,
    /// `stripe`, `hmac-sha256`; unsigned when absent), `secret` (never shown back), `header`
    /// (hmac-sha256), `tolerance_s` (stripe, default 300).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    settings: Map<String, Value>,
}

/// Adds a trigger: an event source that invokes the function, e.g. a cron schedule whose
/// firings are asynchronous invocations delivered as CloudEvents.
#[utoipa::path(post, path = "/v1/functions/{name}/triggers", tag = "triggers",
    params(("name" = String, Path)), request_body = NewTrigger,
    responses((status = 201, body = Trigger), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<NewTrigger>, JsonRejection>,
) -> Result<(StatusCode, Json<Trigger>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let kind = match body.kind {
        Some(kind) => kind,
        None if body.settings.contains_key("cron") => "cron".into(),
        None => {
            return Err(ApiError::bad_request(
                "a trigger needs its `kind`, e.g. `cron`",
            ));
        }
    };
    let trigger = state.triggers.add(&name, &kind, body.settings).await?;
    Ok((StatusCode::CREATED, Json(trigger.without_secrets())))
}

#[derive(Deserialize, IntoParams)]
pub struct TriggerFilter {
    /// Only this function's triggers.
    function: Option<String>,
    /// Only triggers of this kind.
    kind: Option<String>,
}

/// Every trigger, or one function's, or those of one kind.
#[utoipa::path(get, path = "/v1/triggers", tag = "triggers", params(TriggerFilter),
    responses((status = 200, body = Vec<Trigger>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    filter: Result<Query<TriggerFilter>, QueryRejection>,
) -> Result<Json<Vec<Trigger>>, ApiError> {
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let store = state.dispatcher.store();
    let (function, kind) = (filter.function.as_deref(), filter.kind.as_deref());
    let triggers = store.triggers(function, kind).await?;
    Ok(Json(
        triggers.into_iter().map(Trigger::without_secrets).collect(),
    ))
}

/// Removes a trigger.
#[utoipa::path(delete, path = "/v1/triggers/{id}", tag = "triggers",
    params(("id" = String, Path)), responses((status = 204), (status = 404)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.triggers.remove(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound.code(),
            format!("no trigger with id `{id}`; `gust trigger ls` lists them"),
        ))
    }
}
