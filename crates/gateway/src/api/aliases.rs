//! Aliases of a function: set (with an optional split), listed, rolled back and removed.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gust_core::{Alias, Error, ErrorKind, Split};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasRequest {
    version: u32,
    /// A share of the requests for another version: `{"version": 2, "percent": 10}`.
    split: Option<Split>,
}

/// Points an alias at a version, optionally splitting traffic with another.
#[utoipa::path(put, path = "/v1/functions/{name}/aliases/{alias}", tag = "aliases",
    params(("name" = String, Path), ("alias" = String, Path)), request_body = AliasRequest,
    responses((status = 200, body = Alias), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    body: Result<Json<AliasRequest>, JsonRejection>,
) -> Result<Json<Alias>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let set = state
        .dispatcher
        .set_alias(&name, &alias, body.version, body.split);
    Ok(Json(set.await?))
}

/// A function's aliases.
#[utoipa::path(get, path = "/v1/functions/{name}/aliases", tag = "aliases",
    params(("name" = String, Path)),
    responses((status = 200, body = [Alias]), (status = 404)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Alias>>, ApiError> {
    Ok(Json(state.dispatcher.aliases(&name).await?))
}

/// Moves an alias back to the version it pointed to before.
#[utoipa::path(post, path = "/v1/functions/{name}/aliases/{alias}/rollback", tag = "aliases",
    params(("name" = String, Path), ("alias" = String, Path)),
    responses((status = 200, body = Alias), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Json<Alias>, ApiError> {
    Ok(Json(state.dispatcher.rollback(&name, &alias).await?))
}

/// Removes an alias that no route targets.
#[utoipa::path(delete, path = "/v1/functions/{name}/aliases/{alias}", tag = "aliases",
    params(("name" = String, Path), ("alias" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let target = format!("{name}@{alias}");
    let routes = state.routes.list().await?;
    if let Some(route) = routes.iter().find(|r| r.function == target) {
        let message = format!(
            "route {} ({} {}) calls {target}: remove it first",
            route.id, route.method, route.path
        );
        return Err(Error::new(ErrorKind::Conflict, message).into());
    }
    state.dispatcher.remove_alias(&name, &alias).await?;
    Ok(StatusCode::NO_CONTENT)
}
