use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use rand::RngCore;

/// The bearer token that guards `/v1` and private functions.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    /// Reads `<data-dir>/admin.token`, creating it (mode 0600) with a random token if absent.
    /// The file is written whole under another name, then renamed: a crash never leaves a
    /// partial token, and its mode is made 0600 again if someone widened it.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        if let Ok(text) = fs::read_to_string(path) {
            let token = text.trim();
            if !token.is_empty() {
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
                return Ok(AdminToken(token.into()));
            }
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        gust_store::write_private(path, token.as_bytes())?;
        Ok(AdminToken(token.into()))
    }

    /// A token given by the operator (not generated).
    pub fn given(token: &str) -> Self {
        AdminToken(token.into())
    }

    /// Whether the request carries `Authorization: Bearer <token>`. Compares in constant time.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|given| same(given, &self.0))
    }
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Compares in constant time, so that a secret cannot be guessed byte by byte.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
