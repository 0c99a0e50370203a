//! The dispatcher: the one call every event source ends in. It resolves a function to its
//! loaded version, runs it on its executor and records the invocation.

mod active;
mod hold;
mod invoke;
mod queue;
mod recorder;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use gust_core::{
    ConfigPatch, Error, FunctionConfig, FunctionInfo, LogLine, Runtime, Version,
    validate_function_name,
};
use gust_meter::Metrics;
use gust_runtime::{ArtifactSource, Executor, LoadError, Loaded};
use gust_store::{BlobStore, Deployed, NewVersion, Store};
use tokio::sync::broadcast;

pub use active::ActiveVersion;
pub use gust_runtime::RequestBody;
pub use invoke::{BILLED_MS, INVOCATION_ID, Invoked, failure_status};
pub use queue::{AsyncQueue, QueueOptions};
use recorder::Recorder;

pub struct Dispatcher {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    wasm: Arc<dyn Executor>,
    active: RwLock<HashMap<String, Arc<ActiveVersion>>>,
    /// Serialises loads so that concurrent first requests compile a version once.
    loading: tokio::sync::Mutex<()>,
    recorder: Recorder,
    /// Present when metering is on: records, metrics and billed durations.
    metrics: Option<Arc<Metrics>>,
}

impl Dispatcher {
    /// `metrics` is the node's metrics with metering on; `None` turns metering off (no
    /// invocation records, metrics or billed durations: for measuring what metering costs).
    pub fn new(
        store: Arc<dyn Store>,
        blobs: BlobStore,
        wasm: Arc<dyn Executor>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Dispatcher {
            metrics,
            recorder: Recorder::spawn(store.clone()),
            store,
            blobs,
            wasm,
            active: RwLock::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Checks the artifact, stores it and records a version (none if identical to the latest).
    pub async fn deploy(
        &self,
        name: &str,
        artifact: Bytes,
        config: FunctionConfig,
    ) -> Result<Deployed, Error> {
        validate_function_name(name)?;
        config.validate()?;
        let sha = BlobStore::sha256_hex(&artifact);
        let bytes = ArtifactSource::Bytes(Arc::from(artifact.as_ref()));
        let size = artifact.len() as u64;
        self.publish(name, &sha, size, bytes, config).await
    }

    /// Makes a new version of a function's latest artifact with some settings changed.
    pub async fn reconfigure(&self, name: &str, patch: ConfigPatch) -> Result<Deployed, Error> {
        let info = self.function(name).await?;
        let config = patch.apply(&info.latest.config);
        config.validate()?;
        let sha = info.latest.artifact_sha256;
        let stored = ArtifactSource::File(self.blobs.path(&sha));
        let size = info.latest.artifact_size;
        self.publish(name, &sha, size, stored, config).await
    }

    /// Loads the artifact (which checks it), stores a new upload, then records the version:
    /// nothing is written for an artifact that cannot run.
    async fn publish(
        &self,
        name: &str,
        sha: &str,
        artifact_size: u64,
        artifact: ArtifactSource,
        config: FunctionConfig,
    ) -> Result<Deployed, Error> {
        let upload = match &artifact {
            ArtifactSource::Bytes(bytes) => Some(bytes.clone()),
            ArtifactSource::File(_) => None,
        };
        let loaded = self.wasm.load(sha, artifact).await.map_err(load_error)?;
        if let Some(bytes) = upload {
            let blobs = self.blobs.clone();
            tokio::task::spawn_blocking(move || blobs.put(&bytes))
                .await
                .map_err(|e| Error::internal(format!("blob write failed: {e}")))??;
        }
        let deployed = self
            .store
            .deploy(NewVersion {
                function: name.to_string(),
                runtime: Runtime::Wasm,
                artifact_sha256: sha.to_string(),
                artifact_size,
                config,
            })
            .await?;
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        let current = active.get(name).map(|a| a.version.number);
        if current != Some(deployed.version.number) {
            active.insert(
                name.to_string(),
                Arc::new(self.activate(deployed.version.clone(), loaded)),
            );
        }
        Ok(deployed)
    }

    pub async fn function(&self, name: &str) -> Result<FunctionInfo, Error> {
        self.store
            .function(name)
            .await?
            .ok_or_else(|| Error::function_not_found(name))
    }

    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let removed = self
            .active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(metrics) = removed.as_ref().and_then(|a| a.metrics.as_ref()) {
            metrics.set_warm(false);
        }
        if self.store.delete_function(name).await? {
            Ok(())
        } else {
            Err(Error::function_not_found(name))
        }
    }

    /// The version that serves `name`, loading it on first use.
    pub async fn resolve(&self, name: &str) -> Result<Arc<ActiveVersion>, Error> {
        if let Some(active) = self.cached(name) {
            return Ok(active);
        }
        let _loading = self.loading.lock().await;
        if let Some(active) = self.cached(name) {
            return Ok(active);
        }
        let info = self.function(name).await?;
        let sha = &info.latest.artifact_sha256;
        let stored = ArtifactSource::File(self.blobs.path(sha));
        let loaded = self.wasm.load(sha, stored).await.map_err(load_error)?;
        let active = Arc::new(self.activate(info.latest, loaded));
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), active.clone());
        Ok(active)
    }

    fn activate(&self, version: Version, loaded: Arc<dyn Loaded>) -> ActiveVersion {
        let metrics = self.metrics.as_ref().map(|m| m.function(&version.function));
        if let Some(metrics) = &metrics {
            metrics.set_warm(true);
        }
        ActiveVersion::new(version, loaded, metrics)
    }

    fn cached(&self, name: &str) -> Option<Arc<ActiveVersion>> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.get(name).cloned()
    }

    /// Log lines as they are written, from every function.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<LogLine> {
        self.recorder.subscribe()
    }

    /// Waits until every record and log line handed over so far is in the store.
    pub async fn flush(&self) {
        self.recorder.flush().await;
    }
}

fn load_error(err: LoadError) -> Error {
    match err {
        LoadError::Invalid(message) => Error::invalid(message),
        LoadError::Internal(message) => Error::internal(message),
    }
}
