//! Serving a routed request: the function gets the original path and query, and each of the
//! template's parameters as `x-gust-param-NAME`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gust_core::ErrorKind;

use super::cors;
use super::table::Found;
use crate::{ApiError, AppState, error, guest_headers, invoke};

/// The main listener's fallback: what is not Gust's own goes to the routes.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let table = state.routes.table();
    let host = table.has_hosts().then(|| host_of(&parts.headers)).flatten();
    let path = parts.uri.path();
    let is_preflight = parts.method == Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight
        && let Some((routes, _)) = table.path(host.as_deref(), path)
        && routes.iter().any(|r| !r.cors_origins.is_empty())
    {
        return cors::preflight(routes, &parts.headers);
    }
    let (route, params) = match table.find(host.as_deref(), parts.method.as_str(), path) {
        Found::Route { route, params } => (route, params),
        Found::WrongMethod { allow } => return wrong_method(parts.method.as_str(), &allow),
        Found::Nothing => return error::no_route().await.into_response(),
    };
    let origin = cors::allowed_origin(route, &parts.headers).cloned();
    guest_headers::scrub(&mut parts.headers, &state.access);
    for (name, value) in params {
        let name = HeaderName::try_from(format!("x-gust-param-{}", name.to_ascii_lowercase()));
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(&value)) {
            parts.headers.insert(name, value);
        }
    }
    let mut response = invoke::answer(&state, &route.function, parts, body).await;
    if let Some(origin) = origin {
        cors::mark(&mut response, origin);
    }
    response
}

/// The request's host, without its port.
fn host_of(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    Some(name.to_ascii_lowercase())
}

fn wrong_method(method: &str, allow: &[String]) -> Response {
    let error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::InvalidInput.code(),
        format!("{method} is not routed here: use {}", allow.join(", ")),
    );
    let mut response = error.into_response();
    if let Ok(allow) = HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}
