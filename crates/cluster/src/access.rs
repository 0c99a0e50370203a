//! API tokens (`tokens.ID`) and sealed secrets (`secrets.NAME`) in the catalog's bucket, so
//! that a token made on one node is taken by all, and a function's secrets are the same
//! wherever it runs (every node opens them with the same key: see the README).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gust_core::{Error, SecretInfo, TokenInfo};
use gust_store::{NewToken, SealedSecret, SecretStore, TokenStore};
use serde::{Deserialize, Serialize};

use crate::catalog::JetStreamCatalog;

fn token_key(id: &str) -> String {
    format!("tokens.{id}")
}

fn secret_key(name: &str) -> String {
    format!("secrets.{name}")
}

#[derive(Serialize, Deserialize)]
struct StoredToken {
    info: TokenInfo,
    secret_sha256: String,
}

#[derive(Serialize, Deserialize)]
struct StoredSecret {
    info: SecretInfo,
    /// The sealed value, in base64.
    sealed: String,
}

impl StoredSecret {
    fn open(self) -> Result<SealedSecret, Error> {
        let sealed = STANDARD.decode(&self.sealed).map_err(|e| {
            Error::internal(format!("secret {} does not read: {e}", self.info.name))
        })?;
        Ok(SealedSecret {
            info: self.info,
            sealed,
        })
    }
}

#[async_trait]
impl TokenStore for JetStreamCatalog {
    async fn create_token(&self, token: NewToken) -> Result<(), Error> {
        let stored = StoredToken {
            info: token.info,
            secret_sha256: token.secret_sha256,
        };
        self.create(&token_key(&stored.info.id), &stored, "token")
            .await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        let stored: Vec<StoredToken> = self.read_all("tokens.").await?;
        let mut tokens: Vec<TokenInfo> = stored.into_iter().map(|t| t.info).collect();
        tokens.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(tokens)
    }

    async fn token(&self, id: &str) -> Result<Option<(TokenInfo, String)>, Error> {
        let stored = self.read::<StoredToken>(&token_key(id)).await?;
        Ok(stored.map(|(token, _)| (token.info, token.secret_sha256)))
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, Error> {
        self.delete_existing::<StoredToken>(&token_key(id)).await
    }

    async fn token_used(&self, id: &str, at_ms: i64) -> Result<(), Error> {
        let key = token_key(id);
        let Some((mut token, _)) = self.read::<StoredToken>(&key).await? else {
            return Ok(());
        };
        // The latest use wins; two nodes writing at once lose nothing that matters.
        token.info.last_used_at_ms = Some(at_ms);
        self.put(&key, &token).await
    }
}

#[async_trait]
impl SecretStore for JetStreamCatalog {
    async fn put_secret(&self, secret: SealedSecret) -> Result<(), Error> {
        let key = secret_key(&secret.info.name);
        let created_at_ms = match self.read::<StoredSecret>(&key).await? {
            Some((existing, _)) => existing.info.created_at_ms,
            None => secret.info.created_at_ms,
        };
        let stored = StoredSecret {
            info: SecretInfo {
                created_at_ms,
                ..secret.info
            },
            sealed: STANDARD.encode(&secret.sealed),
        };
        self.put(&key, &stored).await
    }

    async fn secrets(&self) -> Result<Vec<SealedSecret>, Error> {
        let stored: Vec<StoredSecret> = self.read_all("secrets.").await?;
        let mut secrets = stored
            .into_iter()
            .map(StoredSecret::open)
            .collect::<Result<Vec<_>, _>>()?;
        secrets.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        Ok(secrets)
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, Error> {
        self.delete_existing::<StoredSecret>(&secret_key(name))
            .await
    }
}
