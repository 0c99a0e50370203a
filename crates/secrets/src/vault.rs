//! The node's secrets: sealed in the store, open in memory, provided to functions as variables.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use gust_core::{
    Capability, Error, FunctionConfig, MAX_SECRET_BYTES, Provision, SecretInfo, now_ms,
    validate_secret_name,
};
use gust_store::{SealedSecret, SecretStore};

use crate::SecretKey;
use crate::seal::{open, seal};

pub struct SecretVault {
    key: SecretKey,
    store: Arc<dyn SecretStore>,
    open: RwLock<OpenSecrets>,
}

impl SecretVault {
    /// Opens every stored secret with `key`; one that does not open stops the start, since
    /// the functions using it could not run.
    pub async fn open(key: SecretKey, store: Arc<dyn SecretStore>) -> Result<Arc<Self>, Error> {
        let values = open_all(&key, store.as_ref()).await?;
        Ok(Arc::new(SecretVault {
            key,
            store,
            open: RwLock::new(values),
        }))
    }

    /// Opens every stored secret again, after another node of a cluster changed them.
    pub async fn reload(&self) -> Result<(), Error> {
        let values = open_all(&self.key, self.store.as_ref()).await?;
        *self.write() = values;
        Ok(())
    }

    /// Sets a secret's value (text, without NUL bytes, at most 32 KiB).
    pub async fn set(&self, name: &str, value: String) -> Result<SecretInfo, Error> {
        validate_secret_name(name)?;
        if value.len() > MAX_SECRET_BYTES {
            return Err(Error::invalid(format!(
                "the value is {} bytes; a secret holds at most {} KiB",
                value.len(),
                MAX_SECRET_BYTES / 1024
            )));
        }
        if value.contains('\0') {
            return Err(Error::invalid("a secret's value cannot hold a NUL byte"));
        }
        let now = now_ms();
        let created_at_ms = self.info(name).map_or(now, |info| info.created_at_ms);
        let info = SecretInfo {
            name: name.to_string(),
            created_at_ms,
            updated_at_ms: now,
        };
        let sealed = seal(&self.key, name, value.as_bytes());
        self.store
            .put_secret(SealedSecret {
                info: info.clone(),
                sealed,
            })
            .await?;
        self.write().insert(name.to_string(), (info.clone(), value));
        Ok(info)
    }

    pub fn list(&self) -> Vec<SecretInfo> {
        self.read().values().map(|(info, _)| info.clone()).collect()
    }

    pub fn info(&self, name: &str) -> Option<SecretInfo> {
        self.read().get(name).map(|(info, _)| info.clone())
    }

    /// Removes a secret; false when there was none.
    pub async fn remove(&self, name: &str) -> Result<bool, Error> {
        let removed = self.store.delete_secret(name).await?;
        self.write().remove(name);
        Ok(removed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, OpenSecrets> {
        self.open.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, OpenSecrets> {
        self.open.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Capability for SecretVault {
    fn provide(&self, function: &str, config: &FunctionConfig) -> Result<Provision, Error> {
        let open = self.read();
        let env = config
            .secrets
            .iter()
            .map(|(variable, name)| match open.get(name) {
                Some((_, value)) => Ok((variable.clone(), value.clone())),
                None => Err(Error::invalid(format!(
                    "function `{function}` uses the secret `{name}`, which does not exist \
                     (`gust secret set {name}` makes it)"
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Provision {
            env,
            allow_hosts: Vec::new(),
        })
    }
}

type OpenSecrets = BTreeMap<String, (SecretInfo, String)>;

async fn open_all(key: &SecretKey, store: &dyn SecretStore) -> Result<OpenSecrets, Error> {
    let mut values = BTreeMap::new();
    for secret in store.secrets().await? {
        let name = secret.info.name.clone();
        let value = open(key, &name, &secret.sealed)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                Error::internal(format!(
                    "the secret `{name}` does not open with this node's key: was \
                     <data-dir>/secret.key or GUST_SECRET_KEY changed (in a cluster, every \
                     node needs the same)?"
                ))
            })?;
        values.insert(name, (secret.info, value));
    }
    Ok(values)
}
