//! The catalog in a JetStream key-value bucket: functions (`functions.NAME`, pointing at their
//! latest version), versions (`versions.NAME.N`) and triggers (`triggers.ID`), with the
//! aliases and routes beside them (pointers.rs). A version
//! number is taken by the node that creates its key first; the function's pointer and a
//! trigger's state move by compare-and-set on their revision.

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use futures::TryStreamExt;
use gust_core::{Error, ErrorKind, FunctionInfo, Trigger, Version, now_ms};
use gust_store::{Catalog, Deployed, NewVersion, Schedules};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{is_a_key, nats_error};

const BUCKET: &str = "gust-catalog";

pub struct JetStreamCatalog {
    pub(crate) kv: kv::Store,
}

/// A function's entry: when it was made and its latest version.
#[derive(Serialize, Deserialize)]
struct FunctionEntry {
    created_at_ms: i64,
    latest_version: u32,
}

fn function_key(name: &str) -> String {
    format!("functions.{name}")
}

fn version_key(name: &str, number: u32) -> String {
    format!("versions.{name}.{number}")
}

fn trigger_key(id: &str) -> String {
    format!("triggers.{id}")
}

impl JetStreamCatalog {
    /// The cluster's catalog (the bucket is made by the first node).
    pub async fn open(jetstream: &jetstream::Context) -> Result<JetStreamCatalog, Error> {
        let kv = match jetstream.get_key_value(BUCKET).await {
            Ok(kv) => kv,
            Err(_) => jetstream
                .create_key_value(kv::Config {
                    bucket: BUCKET.into(),
                    description: "Gust's functions, versions and triggers".into(),
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error("cannot make the catalog's bucket", e))?,
        };
        Ok(JetStreamCatalog { kv })
    }

    /// A key's value and revision; none when it was never written or was deleted, or cannot
    /// be a key (from a name no deploy would take).
    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, u64)>, Error> {
        if !is_a_key(key) {
            return Ok(None);
        }
        let entry = self
            .kv
            .entry(key)
            .await
            .map_err(|e| nats_error(&format!("cannot read {key}"), e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&entry.value)
            .map_err(|e| Error::internal(format!("the catalog's {key} does not read: {e}")))?;
        Ok(Some((value, entry.revision)))
    }

    /// Every key under `prefix` (ending with a dot).
    pub(crate) async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.kv
            .keys()
            .await
            .map_err(|e| nats_error("cannot list the catalog", e))?
            .try_filter(|key| std::future::ready(key.starts_with(prefix)))
            .try_collect()
            .await
            .map_err(|e| nats_error("cannot list the catalog", e))
    }

    /// Every value under `prefix` (ending with a dot).
    pub(crate) async fn read_all<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<T>, Error> {
        let keys = self.keys_under(prefix).await?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.extend(self.read(&key).await?.map(|(value, _)| value));
        }
        Ok(values)
    }

    async fn version(&self, name: &str, number: u32) -> Result<Option<Version>, Error> {
        Ok(self.read(&version_key(name, number)).await?.map(|(v, _)| v))
    }

    /// Writes a new key: a conflict when one by that name (a `what` with the same id) exists.
    pub(crate) async fn create(
        &self,
        key: &str,
        value: &impl Serialize,
        what: &str,
    ) -> Result<(), Error> {
        match self.kv.create(key, json(value)).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(Error::new(
                ErrorKind::Conflict,
                format!("a {what} with the id of {key} exists"),
            )),
            Err(e) => Err(nats_error(&format!("cannot write {key}"), e)),
        }
    }

    /// Deletes `key` if it holds a value; whether it did.
    pub(crate) async fn delete_existing<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<bool, Error> {
        if self.read::<T>(key).await?.is_none() {
            return Ok(false);
        }
        self.delete(key).await?;
        Ok(true)
    }

    pub(crate) async fn put(&self, key: &str, value: &impl Serialize) -> Result<(), Error> {
        self.kv
            .put(key, json(value))
            .await
            .map(drop)
            .map_err(|e| nats_error(&format!("cannot write {key}"), e))
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), Error> {
        self.kv
            .delete(key)
            .await
            .map_err(|e| nats_error(&format!("cannot delete {key}"), e))
    }

    /// Points the function at `number` unless it points at a later version already.
    async fn point_at(&self, name: &str, number: u32) -> Result<(), Error> {
        let key = function_key(name);
        loop {
            let written = match self.read::<FunctionEntry>(&key).await? {
                Some((entry, _)) if entry.latest_version >= number => return Ok(()),
                Some((entry, revision)) => {
                    let moved = FunctionEntry {
                        latest_version: number,
                        ..entry
                    };
                    let moving = self.kv.update(&key, json(&moved), revision).await;
                    swapped(moving, kv::UpdateErrorKind::WrongLastRevision, &key)?
                }
                None => {
                    let made = FunctionEntry {
                        created_at_ms: now_ms(),
                        latest_version: number,
                    };
                    let making = self.kv.create(&key, json(&made)).await;
                    swapped(making, kv::CreateErrorKind::AlreadyExists, &key)?
                }
            };
            if written {
                return Ok(());
            }
        }
    }
}

/// Whether a write that expects what it read went through: false when another writer came
/// first (`raced`), an error for anything else (the store is gone, say).
fn swapped<K>(
    written: Result<u64, async_nats::error::Error<K>>,
    raced: K,
    key: &str,
) -> Result<bool, Error>
where
    K: Clone + PartialEq + std::fmt::Debug + std::fmt::Display,
{
    match written {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == raced => Ok(false),
        Err(e) => Err(nats_error(&format!("cannot write {key}"), e)),
    }
}

pub(crate) fn json(value: &impl Serialize) -> bytes::Bytes {
    serde_json::to_vec(value)
        .expect("catalog values serialize")
        .into()
}

#[async_trait]
impl Catalog for JetStreamCatalog {
    async fn ping(&self) -> Result<(), Error> {
        self.kv
            .status()
            .await
            .map(drop)
            .map_err(|e| nats_error("the catalog does not answer", e))
    }

    async fn deploy(&self, new: NewVersion) -> Result<Deployed, Error> {
        loop {
            let latest = match self
                .read::<FunctionEntry>(&function_key(&new.function))
                .await?
            {
                Some((entry, _)) => self.version(&new.function, entry.latest_version).await?,
                None => None,
            };
            if let Some(latest) = latest.as_ref().filter(|v| is_the_same(v, &new)) {
                return Ok(Deployed {
                    version: latest.clone(),
                    created: false,
                });
            }
            let version = Version {
                function: new.function.clone(),
                number: latest.as_ref().map_or(1, |v| v.number + 1),
                runtime: new.runtime,
                artifact_sha256: new.artifact_sha256.clone(),
                artifact_size: new.artifact_size,
                config: new.config.clone(),
                created_at_ms: now_ms(),
            };
            // The number is the first creator's; another node's deploy took it: look again.
            let key = version_key(&new.function, version.number);
            let taking = self.kv.create(&key, json(&version)).await;
            if !swapped(taking, kv::CreateErrorKind::AlreadyExists, &key)? {
                continue;
            }
            self.point_at(&new.function, version.number).await?;
            return Ok(Deployed {
                version,
                created: true,
            });
        }
    }

    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>, Error> {
        let Some((entry, _)) = self.read::<FunctionEntry>(&function_key(name)).await? else {
            return Ok(None);
        };
        let latest = self.version(name, entry.latest_version).await?;
        Ok(latest.map(|latest| FunctionInfo {
            name: name.to_string(),
            created_at_ms: entry.created_at_ms,
            latest,
        }))
    }

    async fn functions(&self) -> Result<Vec<FunctionInfo>, Error> {
        let keys = self.keys_under("functions.").await?;
        let mut names: Vec<&str> = keys
            .iter()
            .filter_map(|key| key.strip_prefix("functions."))
            .collect();
        names.sort_unstable();
        let mut functions = Vec::with_capacity(names.len());
        for name in names {
            functions.extend(self.function(name).await?);
        }
        Ok(functions)
    }

    async fn versions(&self, name: &str) -> Result<Vec<Version>, Error> {
        let mut versions: Vec<Version> = self.read_all(&format!("versions.{name}.")).await?;
        versions.sort_by_key(|v| v.number);
        Ok(versions)
    }

    async fn delete_function(&self, name: &str) -> Result<bool, Error> {
        if self
            .read::<FunctionEntry>(&function_key(name))
            .await?
            .is_none()
        {
            return Ok(false);
        }
        for trigger in self.triggers(Some(name), None).await? {
            self.delete(&trigger_key(&trigger.id)).await?;
        }
        for key in self.keys_under(&format!("aliases.{name}.")).await? {
            self.delete(&key).await?;
        }
        for version in self.versions(name).await? {
            self.delete(&version_key(name, version.number)).await?;
        }
        self.delete(&function_key(name)).await?;
        Ok(true)
    }

    async fn artifact_in_use(&self, sha256: &str) -> Result<bool, Error> {
        let versions: Vec<Version> = self.read_all("versions.").await?;
        Ok(versions.iter().any(|v| v.artifact_sha256 == sha256))
    }

    async fn add_trigger(&self, trigger: Trigger) -> Result<(), Error> {
        self.create(&trigger_key(&trigger.id), &trigger, "trigger")
            .await
    }

    async fn triggers(
        &self,
        function: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Trigger>, Error> {
        let mut triggers: Vec<Trigger> = self.read_all("triggers.").await?;
        triggers.retain(|t| {
            function.is_none_or(|f| t.function == f) && kind.is_none_or(|k| t.kind == k)
        });
        triggers.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(triggers)
    }

    async fn delete_trigger(&self, id: &str) -> Result<bool, Error> {
        self.delete_existing::<Trigger>(&trigger_key(id)).await
    }

    async fn set_trigger_state(&self, id: &str, state: Map<String, Value>) -> Result<(), Error> {
        let key = trigger_key(id);
        loop {
            let Some((trigger, revision)) = self.read::<Trigger>(&key).await? else {
                return Ok(());
            };
            let changed = Trigger {
                state: state.clone(),
                ..trigger
            };
            let changing = self.kv.update(&key, json(&changed), revision).await;
            if swapped(changing, kv::UpdateErrorKind::WrongLastRevision, &key)? {
                return Ok(());
            }
        }
    }
}

#[async_trait]
impl Schedules for JetStreamCatalog {
    async fn claim_firing(
        &self,
        trigger_id: &str,
        seen: &Map<String, Value>,
        next: Map<String, Value>,
    ) -> Result<bool, Error> {
        let key = trigger_key(trigger_id);
        let Some((trigger, revision)) = self.read::<Trigger>(&key).await? else {
            return Ok(false);
        };
        if &trigger.state != seen {
            return Ok(false);
        }
        let moved = Trigger {
            state: next,
            ..trigger
        };
        let moving = self.kv.update(&key, json(&moved), revision).await;
        swapped(moving, kv::UpdateErrorKind::WrongLastRevision, &key)
    }
}

/// The latest version needs no successor: same artifact, runtime and settings.
fn is_the_same(latest: &Version, new: &NewVersion) -> bool {
    latest.artifact_sha256 == new.artifact_sha256
        && latest.runtime == new.runtime
        && latest.config == new.config
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream;
    use gust_store::conformance::{self, Fresh};

    use super::*;
    use crate::test_server::NatsServer;

    /// A catalog on a nats-server of its own.
    async fn fresh() -> Fresh<JetStreamCatalog> {
        let server = NatsServer::start();
        let catalog = JetStreamCatalog::open(&jetstream::new(server.connect().await))
            .await
            .unwrap();
        Fresh {
            store: catalog,
            keep: Box::new(server),
        }
    }

    #[tokio::test]
    async fn is_a_catalog() {
        conformance::catalog::run(fresh).await;
    }

    #[tokio::test]
    async fn keeps_tokens_and_secrets() {
        conformance::access::run(fresh).await;
    }

    #[tokio::test]
    async fn keeps_aliases_and_routes() {
        conformance::pointers::run(fresh).await;
    }

    #[tokio::test]
    async fn claims_each_firing_once() {
        conformance::schedules::run(fresh).await;
    }
}
