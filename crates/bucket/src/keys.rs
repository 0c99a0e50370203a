//! The S3 endpoint's key pairs: created, listed and removed through here, and looked up on every
//! request (signature check and access) from memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use gust_core::{BucketGrant, Error, S3Key, now_ms};
use gust_store::BucketStore;
use rand::Rng;

pub struct KeyRing {
    store: Arc<dyn BucketStore>,
    known: RwLock<HashMap<String, S3Key>>,
    /// Keys handed to functions, by function and grants. They live in memory only: a key is
    /// issued when a version is loaded, and the instances holding it end with Gust.
    issued: Mutex<HashMap<(String, Vec<BucketGrant>), S3Key>>,
}

impl KeyRing {
    pub fn new(store: Arc<dyn BucketStore>) -> Arc<KeyRing> {
        Arc::new(KeyRing {
            store,
            known: RwLock::new(HashMap::new()),
            issued: Mutex::new(HashMap::new()),
        })
    }

    pub async fn get(&self, access_key: &str) -> Result<Option<S3Key>, Error> {
        if let Some(key) = self.cached(access_key) {
            return Ok(Some(key));
        }
        let found = self.store.s3_key(access_key).await?;
        if let Some(key) = &found {
            let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
            known.insert(access_key.to_string(), key.clone());
        }
        Ok(found)
    }

    fn cached(&self, access_key: &str) -> Option<S3Key> {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        known.get(access_key).cloned()
    }

    /// A new key pair: `GK` and 18 random characters, and a 40-character secret, as AWS's
    /// look. No grants make a root key.
    pub async fn create(
        &self,
        grants: Vec<BucketGrant>,
        function: Option<String>,
    ) -> Result<S3Key, Error> {
        let key = S3Key {
            access_key: format!("GK{}", random_text(18, UPPER_ALPHANUMERIC)),
            secret_key: random_text(40, SECRET_ALPHABET),
            grants,
            function,
            created_at_ms: now_ms(),
        };
        self.store.create_key(key.clone()).await?;
        Ok(key)
    }

    /// The key of `function` for these grants: the one issued before, or a new one. Versions
    /// with the same grants share it.
    pub fn for_function(&self, function: &str, grants: &[BucketGrant]) -> S3Key {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let entry = (function.to_string(), grants.to_vec());
        if let Some(key) = issued.get(&entry) {
            return key.clone();
        }
        let key = S3Key {
            access_key: format!("GF{}", random_text(18, UPPER_ALPHANUMERIC)),
            secret_key: random_text(40, SECRET_ALPHABET),
            grants: grants.to_vec(),
            function: Some(function.to_string()),
            created_at_ms: now_ms(),
        };
        issued.insert(entry, key.clone());
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        known.insert(key.access_key.clone(), key.clone());
        key
    }

    /// Forgets the keys issued to `function` (it was deleted).
    pub fn revoke_function(&self, function: &str) {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        issued.retain(|(owner, _), key| {
            let keep = owner != function;
            if !keep {
                known.remove(&key.access_key);
            }
            keep
        });
    }

    pub async fn list(&self) -> Result<Vec<S3Key>, Error> {
        let mut keys = self.store.s3_keys().await?;
        keys.iter_mut().for_each(|key| key.secret_key.clear());
        Ok(keys)
    }

    pub async fn remove(&self, access_key: &str) -> Result<bool, Error> {
        let removed = self.store.delete_key(access_key).await?;
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        known.remove(access_key);
        drop(known);
        Ok(removed)
    }
}

const UPPER_ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_text(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}
