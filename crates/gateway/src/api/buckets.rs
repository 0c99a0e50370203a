use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gust_core::{BucketGrant, BucketInfo, S3Key};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBucket {
    /// 3 to 63 characters of a-z, 0-9, `-` and `.`.
    name: String,
}

/// Creates a bucket of the S3 endpoint.
#[utoipa::path(post, path = "/v1/buckets", tag = "buckets", request_body = NewBucket,
    responses((status = 201, body = BucketInfo), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<NewBucket>, JsonRejection>,
) -> Result<(StatusCode, Json<BucketInfo>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bucket = state.buckets.create(&body.name).await?;
    Ok((StatusCode::CREATED, Json(bucket)))
}

/// Every bucket.
#[utoipa::path(get, path = "/v1/buckets", tag = "buckets",
    responses((status = 200, body = Vec<BucketInfo>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<BucketInfo>>, ApiError> {
    Ok(Json(state.buckets.list().await?))
}

#[derive(Deserialize, IntoParams)]
pub struct RemoveParams {
    /// Remove its objects too (they raise no events).
    force: Option<bool>,
}

/// Removes a bucket: an empty one, or with `force=true` one with objects.
#[utoipa::path(delete, path = "/v1/buckets/{bucket}", tag = "buckets",
    params(("bucket" = String, Path), RemoveParams),
    responses((status = 204), (status = 404), (status = 409, description = "not empty")),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(bucket): Path<String>,
    params: Result<Query<RemoveParams>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state
        .buckets
        .remove(&bucket, params.force.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// `NAME`, `NAME:read`, `NAME:write` or `NAME:rw`; none for a root key.
    #[serde(default)]
    buckets: Vec<String>,
}

/// Makes a key pair of the S3 endpoint; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/s3-keys", tag = "buckets", request_body = NewKey,
    responses((status = 201, body = S3Key)), security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<S3Key>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let grants = body
        .buckets
        .iter()
        .map(|text| BucketGrant::parse(text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        StatusCode::CREATED,
        Json(state.buckets.create_key(grants).await?),
    ))
}

/// Every key pair, without secrets.
#[utoipa::path(get, path = "/v1/s3-keys", tag = "buckets",
    responses((status = 200, body = Vec<S3Key>)), security(("bearer" = [])))]
pub async fn list_keys(State(state): State<AppState>) -> Result<Json<Vec<S3Key>>, ApiError> {
    Ok(Json(state.buckets.keys().await?))
}

/// Removes a key pair: requests signed with it fail from then on.
#[utoipa::path(delete, path = "/v1/s3-keys/{id}", tag = "buckets",
    params(("id" = String, Path)), responses((status = 204), (status = 404)),
    security(("bearer" = [])))]
pub async fn remove_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.buckets.remove_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
