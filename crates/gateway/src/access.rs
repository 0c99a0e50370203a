//! Who is calling: the admin token, a scoped token, or nobody; and whether they may.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use gust_core::{ErrorKind, Permission, TokenInfo, now_ms};
use gust_store::TokenStore;
use sha2::{Digest, Sha256};

use crate::auth::{bearer, same};
use crate::{AdminToken, ApiError};

/// Scoped tokens look like `gust_<id>_<secret>`.
pub const TOKEN_PREFIX: &str = "gust_";
/// How long a checked token is trusted without reading the store again (a revocation on this
/// node takes effect at once).
const CACHE_FOR: Duration = Duration::from_secs(5);
/// A token's last use is written at most this often.
const RECORD_USE_EVERY: Duration = Duration::from_secs(60);

pub enum Caller {
    Anonymous,
    Admin,
    Scoped(TokenInfo),
}

pub struct Access {
    admin: AdminToken,
    tokens: Arc<dyn TokenStore>,
    checked: Mutex<HashMap<String, Checked>>,
}

struct Checked {
    info: TokenInfo,
    secret_sha256: String,
    at: Instant,
    use_recorded: Option<Instant>,
}

impl Access {
    pub fn new(admin: AdminToken, tokens: Arc<dyn TokenStore>) -> Self {
        Access {
            admin,
            tokens,
            checked: Mutex::new(HashMap::new()),
        }
    }

    pub fn admin(&self) -> &AdminToken {
        &self.admin
    }

    pub fn tokens(&self) -> &dyn TokenStore {
        self.tokens.as_ref()
    }

    /// Whether the request carries one of Gust's tokens, valid or not: it must not reach a
    /// function.
    pub fn carries_gust_token(&self, headers: &HeaderMap) -> bool {
        self.admin.admits(headers) || bearer(headers).is_some_and(|t| t.starts_with(TOKEN_PREFIX))
    }

    /// The caller; 401 for a token that is not one of Gust's, or expired.
    pub async fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.admin.admits(headers) {
            return Ok(Caller::Admin);
        }
        let Some(given) = bearer(headers) else {
            return Ok(Caller::Anonymous);
        };
        let (id, secret) = given
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or_else(unauthorized)?;
        let info = self.check(id, secret).await?.ok_or_else(unauthorized)?;
        if info.expires_at_ms.is_some_and(|at| at <= now_ms()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::Unauthorized.code(),
                format!("token {} has expired", info.prefix),
            ));
        }
        Ok(Caller::Scoped(info))
    }

    /// Checks that the caller may do one of `permissions` (to `function`): 401 without a
    /// token, 403 naming what is missing.
    pub fn permit(
        &self,
        caller: &Caller,
        permissions: &[Permission],
        function: Option<&str>,
    ) -> Result<(), ApiError> {
        match caller {
            Caller::Admin => Ok(()),
            Caller::Anonymous => Err(unauthorized()),
            Caller::Scoped(info) => {
                // Any one of the permissions will do.
                let refusals: Vec<String> = permissions
                    .iter()
                    .filter_map(|p| info.refusal(*p, function))
                    .collect();
                if refusals.len() == permissions.len() {
                    Err(forbidden(refusals.join("; ")))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Forgets a revoked token at once.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    async fn check(&self, id: &str, secret: &str) -> Result<Option<TokenInfo>, ApiError> {
        let hash = secret_hash(secret);
        let use_recorded = {
            let mut checked = self.lock();
            match checked.get_mut(id) {
                Some(entry) if entry.at.elapsed() < CACHE_FOR => {
                    if !same(&entry.secret_sha256, &hash) {
                        return Ok(None);
                    }
                    return Ok(Some(self.record_use(id, entry)));
                }
                Some(stale) => stale.use_recorded,
                None => None,
            }
        };
        let Some((info, secret_sha256)) = self.tokens.token(id).await? else {
            return Ok(None);
        };
        if !same(&secret_sha256, &hash) {
            return Ok(None);
        }
        let mut entry = Checked {
            info,
            secret_sha256,
            at: Instant::now(),
            use_recorded,
        };
        let info = self.record_use(id, &mut entry);
        self.lock().insert(id.to_string(), entry);
        Ok(Some(info))
    }

    /// Writes the token's last use now and then, off the request's path.
    fn record_use(&self, id: &str, entry: &mut Checked) -> TokenInfo {
        let due = entry
            .use_recorded
            .is_none_or(|at| at.elapsed() >= RECORD_USE_EVERY);
        if due {
            entry.use_recorded = Some(Instant::now());
            let now = now_ms();
            entry.info.last_used_at_ms = Some(now);
            let (tokens, id) = (self.tokens.clone(), id.to_string());
            tokio::spawn(async move {
                if let Err(e) = tokens.token_used(&id, now).await {
                    tracing::warn!("cannot record a token's use: {e}");
                }
            });
        }
        entry.info.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Checked>> {
        self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What is stored of a token's secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorKind::Unauthorized.code(),
        "missing or wrong token: send `Authorization: Bearer <token>` with the token from \
         <data-dir>/admin.token, or one made by `gust token create`",
    )
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorKind::Forbidden.code(), message)
}
