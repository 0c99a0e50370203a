use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gust_core::{Role, TokenInfo, now_ms, parse_duration_ms, validate_function_name};
use gust_store::NewToken;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{TOKEN_PREFIX, secret_hash};
use crate::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    role: Role,
    /// The functions it is limited to; none for all.
    #[serde(default)]
    functions: Vec<String>,
    /// How long it lasts (`30d`, `12h`); for ever when absent.
    expires_in: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token itself, shown this once: only its hash is kept.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// Makes a scoped token.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = NewTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<NewTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    for name in &body.functions {
        validate_function_name(name)?;
    }
    let now = now_ms();
    let expires_at_ms = match &body.expires_in {
        Some(text) => Some(now + parse_duration_ms(text)? as i64),
        None => None,
    };
    let id = hex::encode(random::<6>());
    let secret = hex::encode(random::<32>());
    let info = TokenInfo {
        prefix: format!("{TOKEN_PREFIX}{id}"),
        id: id.clone(),
        role: body.role,
        functions: body.functions,
        created_at_ms: now,
        expires_at_ms,
        last_used_at_ms: None,
    };
    let secret_sha256 = secret_hash(&secret);
    state
        .access
        .tokens()
        .create_token(NewToken {
            info: info.clone(),
            secret_sha256,
        })
        .await?;
    let token = format!("{TOKEN_PREFIX}{id}_{secret}");
    Ok((StatusCode::CREATED, Json(CreatedToken { token, info })))
}

/// Lists the scoped tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenInfo>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(state.access.tokens().tokens().await?))
}

/// Revokes a token: it stops working at once.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path)), responses((status = 204), (status = 404)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id.strip_prefix(TOKEN_PREFIX).unwrap_or(&id).to_string();
    state.access.forget(&id);
    if state.access.tokens().revoke_token(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(gust_core::Error::not_found(format!(
            "no token with id `{id}`; `gust token ls` lists them"
        ))
        .into())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}
