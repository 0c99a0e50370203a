//! What a caller's headers may carry to a function.

use axum::http::{HeaderMap, HeaderName, header};

use crate::Access;

/// Removes what a function must never be handed by its caller: Gust's own token (the CLI
/// sends it on every call, public functions included), and the headers whose names Gust
/// reserves for what it sets itself (`x-gust-*`, and the CloudEvents `ce-*` of its events),
/// so that no caller can pass for a retry or a schedule.
///
/// A caller's own `Authorization` for a public function's own scheme goes through.
pub fn scrub(headers: &mut HeaderMap, access: &Access) {
    if access.carries_gust_token(headers) {
        headers.remove(header::AUTHORIZATION);
    }
    let reserved: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_reserved(name.as_str()))
        .cloned()
        .collect();
    for name in reserved {
        headers.remove(name);
    }
}

fn is_reserved(name: &str) -> bool {
    name.starts_with("x-gust-") || name.starts_with("ce-")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use axum::http::HeaderValue;

    use crate::AdminToken;

    use super::*;

    fn access() -> (tempfile::TempDir, Access) {
        let dir = tempfile::tempdir().unwrap();
        let admin = AdminToken::load_or_create(&dir.path().join("admin.token")).unwrap();
        let store = gust_store::SqliteStore::open(&dir.path().join("gust.db")).unwrap();
        (dir, Access::new(admin, std::sync::Arc::new(store)))
    }

    fn token_text(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("admin.token")).unwrap()
    }

    #[test]
    fn gusts_token_and_reserved_names_never_reach_the_function() {
        let (dir, access) = access();
        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", token_text(dir.path()));
        headers.insert(header::AUTHORIZATION, bearer.parse().unwrap());
        headers.insert("x-gust-attempt", HeaderValue::from_static("7"));
        headers.append("ce-type", HeaderValue::from_static("dev.gust.schedule"));
        headers.append("ce-type", HeaderValue::from_static("twice"));
        headers.insert("x-request-id", HeaderValue::from_static("kept"));
        scrub(&mut headers, &access);
        let names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-request-id"]);

        // A scoped token, valid or not, is Gust's too.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Bearer gust_abc_def".parse().unwrap(),
        );
        scrub(&mut headers, &access);
        assert!(headers.is_empty());
    }

    #[test]
    fn a_callers_own_authorization_goes_through() {
        let (_dir, access) = access();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer app-user".parse().unwrap());
        scrub(&mut headers, &access);
        assert_eq!(headers[header::AUTHORIZATION], "Bearer app-user");
    }
}
