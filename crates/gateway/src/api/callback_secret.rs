use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// The secret that verifies a function's callbacks.
#[derive(Serialize, ToSchema)]
pub struct CallbackSecret {
    /// The HMAC-SHA256 key of the `x-gust-signature` header on this function's callbacks.
    pub secret: String,
    /// How to check a callback with it.
    pub verify: &'static str,
}

/// The secret a callback receiver verifies this function's signatures with.
#[utoipa::path(get, path = "/v1/functions/{name}/callback-secret", tag = "functions",
    params(("name" = String, Path)),
    responses((status = 200, body = CallbackSecret), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CallbackSecret>, ApiError> {
    state.dispatcher.function(&name).await?;
    Ok(Json(CallbackSecret {
        secret: state.queue.callback_secret(&name),
        verify: "x-gust-signature is t=<unix seconds>,v1=<hex>: v1 must equal the hex \
                 HMAC-SHA256, keyed with this secret, of <t> + \".\" + the raw body; refuse \
                 a t far from now",
    }))
}
