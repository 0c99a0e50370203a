//! Routes of the API gateway: a method and a path template (with an optional host) that call a
//! function, served on the main listener.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, Target};

/// Paths that are Gust's own: no route may take them.
pub const RESERVED_PREFIXES: [&str; 8] = [
    "/fn", "/async", "/v1", "/hooks", "/metrics", "/healthz", "/readyz", "/ui",
];

pub const METHODS: [&str; 8] = [
    "ANY", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Route {
    pub id: String,
    /// `GET`, `POST`, ... or `ANY`.
    pub method: String,
    /// A path template: `/api/todos/{id}`, `/files/{*rest}`.
    pub path: String,
    /// Only requests for this host (the `Host` header, without its port); any host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub function: String,
    /// Origins allowed by CORS (`https://app.example.com`, or `*`); Gust answers their
    /// preflights. None: no CORS headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    pub created_at_ms: i64,
}

impl Route {
    /// `METHOD PATH` (and the host), as people write a route.
    pub fn spec(&self) -> String {
        match &self.host {
            Some(host) => format!("{} {} (host {host})", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }

    /// Checks what can be checked of a route on its own; conflicts need the others.
    pub fn validate(&self) -> Result<(), Error> {
        if !METHODS.contains(&self.method.as_str()) {
            return Err(Error::invalid(format!(
                "unknown method `{}`: use one of {}",
                self.method,
                METHODS.join(", ")
            )));
        }
        if !self.path.starts_with('/') || self.path.contains(['?', '#', ' ']) {
            return Err(Error::invalid(format!(
                "the path `{}` must start with `/` and hold no query, fragment or space",
                self.path
            )));
        }
        let reserved = RESERVED_PREFIXES
            .iter()
            .find(|prefix| self.path == **prefix || self.path.starts_with(&format!("{prefix}/")));
        if let Some(prefix) = reserved {
            return Err(Error::invalid(format!(
                "`{}` is under `{prefix}`, which is Gust's own: routes take other paths",
                self.path
            )));
        }
        if let Some(host) = &self.host {
            let valid = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c));
            if !valid {
                return Err(Error::invalid(format!(
                    "invalid host `{host}`: a lowercase name without port"
                )));
            }
        }
        for origin in &self.cors_origins {
            let valid = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/'));
            if !valid {
                return Err(Error::invalid(format!(
                    "invalid CORS origin `{origin}`: use `*` or SCHEME://HOST[:PORT]"
                )));
            }
        }
        Target::parse(&self.function).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            id: "r1".into(),
            method: method.into(),
            path: path.into(),
            host: None,
            function: "todos".into(),
            cors_origins: Vec::new(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn routes_take_any_path_but_gusts_own() {
        assert!(route("GET", "/api/todos/{id}").validate().is_ok());
        assert!(route("ANY", "/").validate().is_ok());
        assert!(route("GET", "/functional").validate().is_ok());
        for path in ["/fn/x", "/v1", "/hooks/a", "/ui/app"] {
            let error = route("GET", path).validate().unwrap_err().message;
            assert!(error.contains("Gust's own"), "{path}: {error}");
        }
        assert!(route("FETCH", "/a").validate().is_err());
        assert!(route("GET", "a").validate().is_err());
    }
}
