use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use futures::{StreamExt, stream};
use gust_core::LogLine;
use serde::Deserialize;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use utoipa::IntoParams;

use crate::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
pub struct LogQuery {
    /// Keep the response open and stream new lines as they are written.
    #[serde(default)]
    follow: bool,
    /// How many of the latest lines to start with (default 100, at most 10000).
    limit: Option<u32>,
}

/// A function's log lines as newline-delimited JSON, oldest first.
#[utoipa::path(get, path = "/v1/functions/{name}/logs", tag = "invocations",
    params(("name" = String, Path), LogQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = LogLine),
        (status = 404)),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    state.dispatcher.function(&name).await?;
    let store = state.dispatcher.flushed_store().await;
    // Subscribe before reading the backlog so that no line falls between the two.
    let live = state.dispatcher.subscribe_logs();
    let limit = query.limit.unwrap_or(100).min(10_000);
    let backlog = store.logs(&name, limit).await?;
    let backlog = stream::iter(backlog);
    let body = if query.follow {
        let stopping =
            WatchStream::new(state.shutdown.clone()).filter(|stop| std::future::ready(*stop));
        let live = BroadcastStream::new(live)
            .filter_map(move |line| {
                let line = line.ok().filter(|line| line.function == name);
                std::future::ready(line)
            })
            .take_until(stopping.into_future());
        Body::from_stream(backlog.chain(live).map(to_ndjson))
    } else {
        Body::from_stream(backlog.map(to_ndjson))
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .expect("static response parts"))
}

fn to_ndjson(line: LogLine) -> Result<Bytes, std::convert::Infallible> {
    let mut json = serde_json::to_vec(&line).expect("log line serializes");
    json.push(b'\n');
    Ok(Bytes::from(json))
}
