//! Secrets: set from a request's body, listed by name and dates, never shown again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gust_core::{Error, ErrorKind, SecretInfo};

use crate::{ApiError, AppState};

/// Sets a secret to the request's body (UTF-8 text, at most 32 KiB).
#[utoipa::path(put, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "1 to 64 of A-Z a-z 0-9 _ -")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = SecretInfo), (status = 400)), security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<SecretInfo>, ApiError> {
    let value = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("a secret's value must be UTF-8 text"))?;
    Ok(Json(state.secrets.set(&name, value).await?))
}

/// The secrets' names and dates.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets",
    responses((status = 200, body = [SecretInfo])), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<Vec<SecretInfo>> {
    Json(state.secrets.list())
}

/// Removes a secret that no function's latest version uses.
#[utoipa::path(delete, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let functions = state.dispatcher.store().functions().await?;
    let users: Vec<String> = functions
        .into_iter()
        .filter(|f| f.latest.config.secrets.values().any(|s| *s == name))
        .map(|f| f.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "the secret `{name}` is used by {}: deploy them without it first",
                users.join(", ")
            ),
        )
        .into());
    }
    if state.secrets.remove(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::not_found(format!("no secret `{name}`")).into())
    }
}
