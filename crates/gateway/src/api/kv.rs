//! Key-value stores for operators: list stores and keys, read, write and delete values.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gust_core::{Error, KeyPage, KvStoreInfo, MAX_KV_BATCH};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{ApiError, AppState};

/// Every store that holds a key, with its size.
#[utoipa::path(get, path = "/v1/kv", tag = "kv",
    responses((status = 200, body = [KvStoreInfo])), security(("bearer" = [])))]
pub async fn stores(State(state): State<AppState>) -> Result<Json<Vec<KvStoreInfo>>, ApiError> {
    Ok(Json(state.kv.stores().await?))
}

#[derive(Deserialize, IntoParams)]
pub struct KeysQuery {
    /// Only keys that start with it.
    #[serde(default)]
    prefix: String,
    /// The page after this key (the previous page's `next`).
    after: Option<String>,
    /// Keys per page, at most 1000.
    limit: Option<usize>,
}

/// One page of a store's keys, in order.
#[utoipa::path(get, path = "/v1/kv/{store}", tag = "kv",
    params(("store" = String, Path), KeysQuery),
    responses((status = 200, body = KeyPage), (status = 400)), security(("bearer" = [])))]
pub async fn keys(
    State(state): State<AppState>,
    Path(store): Path<String>,
    query: Result<Query<KeysQuery>, QueryRejection>,
) -> Result<Json<KeyPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(MAX_KV_BATCH);
    let page = state
        .kv
        .keys(&store, &query.prefix, query.after.as_deref(), limit);
    Ok(Json(page.await?))
}

/// A key's value, as stored.
#[utoipa::path(get, path = "/v1/kv/{store}/{key}", tag = "kv",
    params(("store" = String, Path), ("key" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 400),
        (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path((store, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match state.kv.get(&store, &key).await? {
        Some(value) => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], value).into_response())
        }
        None => Err(no_key(&store, &key)),
    }
}

/// Sets a key to the request's body.
#[utoipa::path(put, path = "/v1/kv/{store}/{key}", tag = "kv",
    params(("store" = String, Path), ("key" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    Path((store, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    state.kv.set(&store, &key, body.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a key.
#[utoipa::path(delete, path = "/v1/kv/{store}/{key}", tag = "kv",
    params(("store" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path((store, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state.kv.delete(&store, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_key(&store, &key))
    }
}

fn no_key(store: &str, key: &str) -> ApiError {
    Error::not_found(format!("no key `{key}` in store `{store}`")).into()
}
