//! The dispatcher: the one call every event source ends in. It resolves a function to its
//! loaded version, runs it on its executor and records the invocation.

mod active;
mod hold;
mod invoke;
mod limiter;
mod number_header;
mod pending_records;
mod queue;
mod recorder;
mod scaler;
mod warm_up;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use gust_core::{
    Capability, ConfigPatch, Error, FunctionConfig, FunctionInfo, InstanceCount, LogLine, Runtime,
    Version, validate_function_name,
};
use gust_meter::Metrics;
use gust_runtime::{ArtifactSource, Executor, LoadError, Loaded};
use gust_store::{BlobStore, Deployed, NewVersion, Store};
use tokio::sync::broadcast;

pub use active::ActiveVersion;
pub use gust_runtime::RequestBody;
pub use invoke::{BILLED_MS, Entry, INVOCATION_ID, Invoked, failure_status};
pub use limiter::{Admission, NodeLimit, Permit};
pub use number_header::number_value;
pub use queue::{
    AsyncQueue, CallbackSigner, Delivered, Message, Outlet, Outlets, QueueOptions, literal_refusal,
};
use recorder::Recorder;

/// The runtimes a node offers.
pub struct Executors {
    pub wasm: Arc<dyn Executor>,
    pub process: Arc<dyn Executor>,
}

impl Executors {
    fn of(&self, runtime: Runtime) -> &dyn Executor {
        match runtime {
            Runtime::Wasm => self.wasm.as_ref(),
            Runtime::Process => self.process.as_ref(),
        }
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    executors: Executors,
    node_limit: NodeLimit,
    /// Held by deploys while they write, and by the removal of unused artifacts.
    publishing: tokio::sync::RwLock<()>,
    active: RwLock<HashMap<String, Arc<ActiveVersion>>>,
    /// One lock per function being loaded: concurrent first requests to a function load it
    /// once, and loads of different functions run side by side.
    loading: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    recorder: Recorder,
    /// Present when metering is on: records, metrics and billed durations.
    metrics: Option<Arc<Metrics>>,
    /// What grants in a config turn into when a version is loaded.
    capabilities: Vec<Arc<dyn Capability>>,
}

/// What one node allows, over all functions.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Invocations running at once; past it, 429.
    pub max_in_flight: u32,
    /// Bytes of log lines one invocation may write; the rest are dropped and counted.
    pub log_bytes_per_invocation: usize,
}

impl Dispatcher {
    /// `metrics` is the node's metrics with metering on; `None` turns metering off (no
    /// invocation records, metrics or billed durations: for measuring what metering costs).
    pub fn new(
        store: Arc<dyn Store>,
        blobs: BlobStore,
        executors: Executors,
        metrics: Option<Arc<Metrics>>,
        limits: NodeLimits,
        capabilities: Vec<Arc<dyn Capability>>,
    ) -> Arc<Self> {
        let recorder = Recorder::spawn(
            store.clone(),
            metrics.clone(),
            limits.log_bytes_per_invocation,
        );
        let dispatcher = Arc::new(Dispatcher {
            recorder,
            metrics,
            store,
            blobs,
            executors,
            node_limit: NodeLimit::new(limits.max_in_flight),
            publishing: tokio::sync::RwLock::new(()),
            active: RwLock::new(HashMap::new()),
            loading: std::sync::Mutex::new(HashMap::new()),
            capabilities,
        });
        scaler::spawn(Arc::downgrade(&dispatcher));
        dispatcher
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store once every record and log line handed over so far is in it. They are written
    /// in batches off the request path; reads of them go through here, so that a request
    /// answered before a read is in what it reads.
    pub async fn flushed_store(&self) -> &dyn Store {
        self.flush().await;
        self.store()
    }

    /// Checks the artifact, stores it and records a version (none if identical to the latest).
    pub async fn deploy(
        &self,
        name: &str,
        artifact: Bytes,
        runtime: Runtime,
        config: FunctionConfig,
    ) -> Result<Deployed, Error> {
        validate_function_name(name)?;
        config.validate_for(runtime)?;
        let sha = BlobStore::sha256_hex(&artifact);
        let bytes = ArtifactSource::Bytes(Arc::from(artifact.as_ref()));
        let size = artifact.len() as u64;
        self.publish(name, runtime, &sha, size, bytes, config).await
    }

    /// Makes a new version of a function's latest artifact with some settings changed.
    pub async fn reconfigure(&self, name: &str, patch: ConfigPatch) -> Result<Deployed, Error> {
        let info = self.function(name).await?;
        let config = patch.apply(&info.latest.config);
        let runtime = info.latest.runtime;
        config.validate_for(runtime)?;
        let sha = info.latest.artifact_sha256;
        let stored = ArtifactSource::File(self.blobs.path(&sha));
        let size = info.latest.artifact_size;
        self.publish(name, runtime, &sha, size, stored, config)
            .await
    }

    /// Loads the artifact (which checks it and compiles it into the cache), stores a new
    /// upload, then records the version: nothing is written for an artifact that cannot run.
    /// Only a version with provisioned instances stays loaded.
    async fn publish(
        &self,
        name: &str,
        runtime: Runtime,
        sha: &str,
        artifact_size: u64,
        artifact: ArtifactSource,
        config: FunctionConfig,
    ) -> Result<Deployed, Error> {
        let _publishing = self.publishing.read().await;
        let upload = match &artifact {
            ArtifactSource::Bytes(bytes) => Some(bytes.clone()),
            ArtifactSource::File(_) => None,
        };
        let running = self.running_config(name, &config)?;
        let loaded = self
            .executors
            .of(runtime)
            .load(sha, artifact, &running)
            .await
            .map_err(load_error)?;
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
                runtime,
                artifact_sha256: sha.to_string(),
                artifact_size,
                config,
            })
            .await?;
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        let current = active.get(name).map(|a| a.version.number);
        if current != Some(deployed.version.number) {
            if running.min_instances > 0 {
                let version = deployed.version.clone();
                active.insert(name.to_string(), self.activate(version, running, loaded));
            } else if let Some(replaced) = active.remove(name) {
                // A new version starts at zero, like a function nobody called yet: its first
                // request loads it (from the compiled-code cache, not compiling).
                replaced.unloaded();
            }
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
        let versions = self.store.versions(name).await?;
        let removed = self
            .active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(removed) = removed {
            removed.unloaded();
        }
        if !self.store.delete_function(name).await? {
            return Err(Error::function_not_found(name));
        }
        for capability in &self.capabilities {
            capability.revoke(name);
        }
        let mut artifacts: Vec<(String, Runtime)> = versions
            .into_iter()
            .map(|v| (v.artifact_sha256, v.runtime))
            .collect();
        artifacts.sort_by(|a, b| a.0.cmp(&b.0));
        artifacts.dedup_by(|a, b| a.0 == b.0);
        self.collect_unused(artifacts).await;
        Ok(())
    }

    /// Removes the artifacts, and what was made of them, that no version uses any more.
    async fn collect_unused(&self, artifacts: Vec<(String, Runtime)>) {
        // No deploy runs meanwhile: one could be about to use an artifact found unused.
        let _collecting = self.publishing.write().await;
        for (sha, runtime) in artifacts {
            match self.store.artifact_in_use(&sha).await {
                Ok(false) => {}
                Ok(true) => continue,
                Err(e) => {
                    tracing::warn!("cannot tell whether artifact {sha} is in use: {e}");
                    continue;
                }
            }
            if let Err(e) = self.blobs.remove(&sha) {
                tracing::warn!("cannot remove an unused artifact: {e}");
            }
            self.executors.of(runtime).forget(&sha);
        }
    }

    /// Whether `name` may be called without a token, read without loading its code.
    pub async fn is_public(&self, name: &str) -> Result<bool, Error> {
        if let Some(active) = self.cached(name) {
            return Ok(active.config.public);
        }
        Ok(self.function(name).await?.latest.config.public)
    }

    /// The version that serves `name`, loading it on first use.
    pub async fn resolve(&self, name: &str) -> Result<Arc<ActiveVersion>, Error> {
        if let Some(active) = self.cached(name) {
            return Ok(active);
        }
        let lock = self.loading_lock(name);
        let _loading = lock.lock().await;
        if let Some(active) = self.cached(name) {
            return Ok(active);
        }
        let info = self.function(name).await?;
        let version = info.latest;
        let sha = &version.artifact_sha256;
        let stored = ArtifactSource::File(self.blobs.path(sha));
        let config = self.running_config(name, &version.config)?;
        let loaded = self
            .executors
            .of(version.runtime)
            .load(sha, stored, &config)
            .await
            .map_err(load_error)?;
        let active = self.activate(version, config, loaded);
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), active.clone());
        Ok(active)
    }

    /// The config a version of `name` runs with: its own and what its grants provide.
    fn running_config(
        &self,
        name: &str,
        config: &FunctionConfig,
    ) -> Result<Arc<FunctionConfig>, Error> {
        gust_core::provisioned(name, config, &self.capabilities).map(Arc::new)
    }

    /// The lock that loads of `name` take; dropped from the map once nobody holds it.
    fn loading_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(name.to_string()).or_default().clone()
    }

    /// Makes a loaded version the one that serves, starting its provisioned instances.
    fn activate(
        &self,
        version: Version,
        config: Arc<FunctionConfig>,
        loaded: Arc<dyn Loaded>,
    ) -> Arc<ActiveVersion> {
        let metrics = self.metrics.as_ref().map(|m| m.function(&version.function));
        loaded.keep_warm(config.min_instances);
        let active = Arc::new(ActiveVersion::new(version, config, loaded, metrics));
        active.report_instances();
        active
    }

    /// Scale to zero: drops a version's loaded code and instances; the next request loads it
    /// again (from the compiled-code cache or the unpacked folder) as a cold start.
    pub(crate) fn unload(&self, name: &str, idle: &Arc<ActiveVersion>) {
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        if active
            .get(name)
            .is_some_and(|current| Arc::ptr_eq(current, idle))
        {
            active.remove(name);
            idle.unloaded();
        }
    }

    pub(crate) fn active_versions(&self) -> Vec<(String, Arc<ActiveVersion>)> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The instances each loaded function has on this node (absent: scaled to zero).
    pub fn instances(&self) -> HashMap<String, InstanceCount> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active
            .iter()
            .map(|(k, v)| (k.clone(), v.instances()))
            .collect()
    }

    /// The instances one function has on this node (none: scaled to zero).
    pub fn instances_of(&self, name: &str) -> InstanceCount {
        self.cached(name)
            .map(|active| active.instances())
            .unwrap_or_default()
    }

    /// Waits for leave to run an invocation of `active`, within its limits.
    async fn admit(&self, active: &ActiveVersion, how: Admission) -> Result<Permit, Error> {
        let admitted = active.limiter.admit(&self.node_limit, how).await;
        if admitted.is_err()
            && let Some(metrics) = &active.metrics
        {
            metrics.throttled();
        }
        admitted
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

    /// Brings the metrics up to now, for a scrape: every finished invocation counted, the
    /// instance and in-flight gauges read from the runtimes and the node's limit.
    pub async fn refresh_metrics(&self) {
        let Some(metrics) = &self.metrics else { return };
        self.recorder.flush().await;
        metrics.set_in_flight(self.node_limit.in_use());
        metrics.set_log_lines_dropped(self.recorder.log_lines_dropped());
        for (_, active) in self.active_versions() {
            active.report_instances();
        }
    }
}

fn load_error(err: LoadError) -> Error {
    match err {
        LoadError::Invalid(message) => Error::invalid(message),
        LoadError::Internal(message) => Error::internal(message),
    }
}
