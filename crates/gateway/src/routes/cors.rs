//! CORS for routes that name origins: Gust answers their preflights itself and marks their
//! answers, so that browsers on those origins may call them.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use gust_core::Route;

/// How long a browser may keep a preflight's answer.
const MAX_AGE_S: &str = "600";

/// The request's `Origin` when `route` allows it.
pub fn allowed_origin<'a>(route: &Route, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    route
        .cors_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed == text)
        .then_some(origin)
}

/// Marks an answer for a browser on an allowed origin.
pub fn mark(response: &mut Response, origin: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

/// The answer to a preflight for the routes of a path: 204, with the CORS headers when the
/// route of the requested method allows the origin (a browser refuses the call otherwise).
pub fn preflight(routes: &[Route], headers: &HeaderMap) -> Response {
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default();
    let route = routes
        .iter()
        .find(|r| r.method == requested || r.method == "ANY");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let Some(origin) = route
        .and_then(|route| allowed_origin(route, headers))
        .cloned()
    else {
        return response;
    };
    let methods: Vec<&str> = routes.iter().map(|r| r.method.as_str()).collect();
    let methods = if methods.contains(&"ANY") {
        "GET, HEAD, POST, PUT, PATCH, DELETE".to_string()
    } else {
        methods.join(", ")
    };
    let out = response.headers_mut();
    if let Ok(methods) = HeaderValue::from_str(&methods) {
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_S),
    );
    mark(&mut response, origin);
    response
}
