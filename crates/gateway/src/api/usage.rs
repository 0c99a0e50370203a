use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gust_core::{UsageGroup, UsageQuery};
use gust_meter::UsageReport;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
pub struct UsageParams {
    /// Start (inclusive): RFC 3339 (`2026-11-01T00:00:00Z`), a date (`2026-11-01`) or ms since
    /// the epoch.
    from: Option<String>,
    /// End (exclusive), in the same forms.
    to: Option<String>,
    /// Only this function.
    function: Option<String>,
    /// `function` (default), `version` (keys `FN@N`), `day` or `hour`.
    group_by: Option<UsageGroup>,
}

/// Invocations, errors, billed seconds, GB-seconds and price, summed from invocation records.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(UsageParams),
    responses((status = 200, body = UsageReport), (status = 400)), security(("bearer" = [])))]
pub async fn usage(
    State(state): State<AppState>,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<UsageReport>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let query = UsageQuery {
        from_ms: params.from.as_deref().map(parse_time).transpose()?,
        to_ms: params.to.as_deref().map(parse_time).transpose()?,
        function: params.function,
        group_by: params.group_by.unwrap_or_default(),
    };
    let store = state.dispatcher.flushed_store().await;
    let sums = store.usage(query.clone()).await?;
    Ok(Json(UsageReport::build(
        sums,
        query.group_by,
        &state.prices,
    )))
}

/// Milliseconds since the epoch from RFC 3339, a bare date, or a number of milliseconds.
fn parse_time(text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let time = humantime::parse_rfc3339_weak(&full).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid time `{text}`: {e}; use RFC 3339, YYYY-MM-DD or milliseconds"
        ))
    })?;
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::bad_request(format!("time `{text}` is before 1970")))?;
    Ok(since.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_three_forms() {
        assert_eq!(parse_time("86400000").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-02T00:00:01Z").unwrap(), 86_401_000);
        assert!(parse_time("yesterday").is_err());
    }
}
