//! What each route of `/v1` needs, in one table: the middleware checks it and the API
//! document states it.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use gust_core::Permission::{self, Admin, Deploy, Invoke, Read};

use crate::access::Caller;
use crate::{ApiError, AppState};

/// (method, route under `/v1`, the permissions any one of which lets a request through).
pub const ROUTES: &[(&str, &str, &[Permission])] = &[
    ("GET", "/functions", &[Read]),
    ("GET", "/functions/{name}", &[Read]),
    ("PUT", "/functions/{name}", &[Deploy]),
    ("PATCH", "/functions/{name}", &[Deploy]),
    ("DELETE", "/functions/{name}", &[Deploy]),
    ("GET", "/functions/{name}/versions", &[Read]),
    ("GET", "/functions/{name}/aliases", &[Read]),
    ("PUT", "/functions/{name}/aliases/{alias}", &[Deploy]),
    ("DELETE", "/functions/{name}/aliases/{alias}", &[Deploy]),
    (
        "POST",
        "/functions/{name}/aliases/{alias}/rollback",
        &[Deploy],
    ),
    ("GET", "/functions/{name}/invocations", &[Read]),
    ("GET", "/functions/{name}/logs", &[Read]),
    ("GET", "/functions/{name}/callback-secret", &[Deploy]),
    ("POST", "/functions/{name}/triggers", &[Deploy]),
    ("GET", "/functions/{name}/async", &[Read, Invoke]),
    ("GET", "/functions/{name}/dlq", &[Read]),
    ("POST", "/functions/{name}/dlq/replay", &[Deploy]),
    ("GET", "/invocations/{id}", &[Read, Invoke]),
    ("DELETE", "/invocations/{id}", &[Deploy, Invoke]),
    ("GET", "/usage", &[Read]),
    ("GET", "/triggers", &[Read]),
    ("DELETE", "/triggers/{id}", &[Deploy]),
    ("GET", "/tokens", &[Admin]),
    ("POST", "/tokens", &[Admin]),
    ("DELETE", "/tokens/{id}", &[Admin]),
    ("GET", "/buckets", &[Read]),
    ("POST", "/buckets", &[Deploy]),
    ("DELETE", "/buckets/{bucket}", &[Deploy]),
    ("GET", "/s3-keys", &[Admin]),
    ("POST", "/s3-keys", &[Admin]),
    ("DELETE", "/s3-keys/{id}", &[Admin]),
    ("GET", "/routes", &[Read]),
    ("POST", "/routes", &[Deploy]),
    ("DELETE", "/routes/{id}", &[Deploy]),
    ("GET", "/kv", &[Read]),
    ("GET", "/kv/{store}", &[Read]),
    ("GET", "/kv/{store}/{*key}", &[Deploy]),
    ("PUT", "/kv/{store}/{*key}", &[Deploy]),
    ("DELETE", "/kv/{store}/{*key}", &[Deploy]),
    ("GET", "/secrets", &[Deploy]),
    ("PUT", "/secrets/{name}", &[Admin]),
    ("DELETE", "/secrets/{name}", &[Admin]),
];

/// What a route needs; a route missing from the table needs the admin's permission.
pub fn needed(method: &str, route: &str) -> &'static [Permission] {
    let route = route.strip_prefix("/v1").unwrap_or(route);
    ROUTES
        .iter()
        .find(|(m, r, _)| *m == method && *r == route)
        .map_or(&[Admin], |(_, _, needed)| needed)
}

/// The middleware of `/v1`: the admin passes; a scoped token passes when its role and
/// functions cover the route; anyone else gets 401.
pub async fn authorize(
    State(state): State<AppState>,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = state.access.caller(request.headers()).await?;
    if !matches!(caller, Caller::Admin) {
        let needed = needed(request.method().as_str(), route.as_str());
        let function = function_of(
            &state,
            request.method(),
            route.as_str(),
            request.uri().path(),
        )
        .await;
        state.access.permit(&caller, needed, function.as_deref())?;
    }
    Ok(next.run(request).await)
}

/// The function a request is about: from its path, or for an invocation, the invocation's.
/// (Inside `/v1`'s router the route and path may come without the `/v1` prefix.)
async fn function_of(state: &AppState, method: &Method, route: &str, path: &str) -> Option<String> {
    let route = route.strip_prefix("/v1").unwrap_or(route);
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if route.starts_with("/functions/{name}") {
        return segments.get(1).map(|s| s.to_string());
    }
    if route == "/invocations/{id}" && (method == Method::GET || method == Method::DELETE) {
        let id = segments.get(1)?;
        let invocation = state.dispatcher.store().async_invocation(id).await.ok()??;
        return Some(invocation.function);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_states_what_it_needs() {
        assert_eq!(needed("GET", "/v1/functions/{name}/logs"), &[Read]);
        assert_eq!(needed("PUT", "/v1/functions/{name}"), &[Deploy]);
        assert_eq!(needed("GET", "/v1/invocations/{id}"), &[Read, Invoke]);
        assert_eq!(needed("POST", "/v1/somewhere-new"), &[Admin]);
    }
}
