//! Routes of the API gateway: added, listed and removed; each change applies at once.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gust_core::{Error, Route};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::routes::NewRoute;
use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRouteRequest {
    /// `GET`, `POST`, ... or `ANY`.
    method: String,
    /// A path template outside Gust's own prefixes: `/api/todos/{id}`, `/files/{*rest}`.
    path: String,
    /// Only requests for this host; any host when absent.
    host: Option<String>,
    /// `FN`, `FN@ALIAS` or `FN@VERSION`.
    function: String,
    /// Origins whose browsers may call it (CORS), or `*`.
    #[serde(default)]
    cors_origins: Vec<String>,
}

/// Adds a route.
#[utoipa::path(post, path = "/v1/routes", tag = "routes", request_body = NewRouteRequest,
    responses((status = 201, body = Route), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    body: Result<Json<NewRouteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Route>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state.dispatcher.check_target(&body.function).await?;
    let route = state
        .routes
        .add(NewRoute {
            method: body.method,
            path: body.path,
            host: body.host,
            function: body.function,
            cors_origins: body.cors_origins,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(route)))
}

/// Lists the routes.
#[utoipa::path(get, path = "/v1/routes", tag = "routes",
    responses((status = 200, body = [Route])), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Route>>, ApiError> {
    Ok(Json(state.routes.list().await?))
}

/// Removes a route.
#[utoipa::path(delete, path = "/v1/routes/{id}", tag = "routes", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.routes.remove(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::not_found(format!("no route {id}")).into())
    }
}
