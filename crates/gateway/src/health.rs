use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn alive() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// `GET /readyz`: the store answers (the runtime is ready once the server listens).
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.dispatcher.store().ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": e.message})),
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text exposition; with a metrics token set, only for a bearer
/// of it (or of the admin token).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token
        && !token.admits(&headers)
        && !state.access.admin().admits(&headers)
    {
        return crate::access::unauthorized().into_response();
    }
    match &state.metrics {
        Some(metrics) => {
            state.dispatcher.refresh_metrics().await;
            match state.dispatcher.store().queue_depth().await {
                Ok((depth, oldest)) => {
                    let age_ms = oldest.map_or(0, |at| (gust_core::now_ms() - at).max(0));
                    metrics.set_queue(depth, Duration::from_millis(age_ms as u64));
                }
                Err(e) => tracing::warn!("cannot read the queue depth: {e}"),
            }
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                metrics.encode(),
            )
                .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "metering is off on this node (gust serve --no-metering)\n",
        )
            .into_response(),
    }
}
