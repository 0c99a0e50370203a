//! The dispatcher: the one call every event source ends in. It resolves a function to its
//! loaded version, runs it on its executor and records the invocation.

mod active;
mod aliases;
mod hold;
mod invoke;
mod limiter;
mod loaded_versions;
mod number_header;
mod pending_records;
mod pointers;
mod queue;
mod recorder;
mod scaler;
mod traced;
mod warm_up;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use gust_core::{
    Capability, ConfigPatch, Error, FunctionConfig, FunctionInfo, InstanceCount, LogLine, Runtime,
    Selector, Target, Version, validate_function_name,
};
use gust_meter::Metrics;
use gust_runtime::{ArtifactSource, Executor, LoadError, Loaded};
use gust_store::{AliasStore, Artifacts, Deployed, NewVersion, Store, sha256_hex};
use gust_trace::Tracer;
use tokio::sync::broadcast;

pub use active::ActiveVersion;
pub use gust_runtime::RequestBody;
pub use invoke::{BILLED_MS, Entry, INVOCATION_ID, Invoked, failure_status};
pub use limiter::{Admission, NodeLimit, Permit};
use loaded_versions::LoadedVersions;
pub use number_header::number_value;
use pointers::Pointers;
pub use queue::{
    AsyncQueue, CallbackSigner, Delivered, Message, Outlet, Outlets, QueueOptions, literal_refusal,
};
use recorder::Recorder;

/// Held while one version loads.
type LoadLock = Arc<tokio::sync::Mutex<()>>;

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
    artifacts: Arc<dyn Artifacts>,
    executors: Executors,
    node_limit: NodeLimit,
    /// Held by deploys while they write, and by the removal of unused artifacts.
    publishing: tokio::sync::RwLock<()>,
    active: RwLock<LoadedVersions>,
    aliases: Arc<dyn AliasStore>,
    /// Each function's latest version and aliases, as calls resolve them.
    pointers: RwLock<HashMap<String, Arc<Pointers>>>,
    /// Held while pointers are read from the store, so that the last read is the newest.
    pointer_reads: tokio::sync::Mutex<()>,
    /// One lock per version being loaded: concurrent first requests to a version load it
    /// once, and loads of different versions run side by side.
    loading: std::sync::Mutex<HashMap<(String, u32), LoadLock>>,
    recorder: Recorder,
    /// Present when metering is on: records, metrics and billed durations.
    metrics: Option<Arc<Metrics>>,
    /// What grants in a config turn into when a version is loaded.
    capabilities: Vec<Arc<dyn Capability>>,
    tracer: Tracer,
}

/// What a node tells of its invocations besides their answers.
#[derive(Default)]
pub struct Telemetry {
    /// Present when metering is on: records, metrics and billed durations. Off, there are no
    /// invocation records, metrics or billed durations (a mode for measuring their cost).
    pub metrics: Option<Arc<Metrics>>,
    /// Where invocation spans go (nowhere unless `--otlp-endpoint` is given).
    pub tracer: Tracer,
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
    pub fn new(
        store: Arc<dyn Store>,
        aliases: Arc<dyn AliasStore>,
        artifacts: Arc<dyn Artifacts>,
        executors: Executors,
        telemetry: Telemetry,
        limits: NodeLimits,
        capabilities: Vec<Arc<dyn Capability>>,
    ) -> Arc<Self> {
        let Telemetry { metrics, tracer } = telemetry;
        let recorder = Recorder::spawn(
            store.clone(),
            metrics.clone(),
            limits.log_bytes_per_invocation,
        );
        let dispatcher = Arc::new(Dispatcher {
            recorder,
            metrics,
            store,
            artifacts,
            executors,
            node_limit: NodeLimit::new(limits.max_in_flight),
            publishing: tokio::sync::RwLock::new(()),
            active: RwLock::new(LoadedVersions::default()),
            aliases,
            pointers: RwLock::new(HashMap::new()),
            pointer_reads: tokio::sync::Mutex::new(()),
            loading: std::sync::Mutex::new(HashMap::new()),
            capabilities,
            tracer,
        });
        scaler::spawn(Arc::downgrade(&dispatcher));
        dispatcher
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
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
        let sha = sha256_hex(&artifact);
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
        let stored = ArtifactSource::File(self.artifacts.fetch(&sha).await?);
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
            self.artifacts.put(bytes).await?;
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
        if deployed.created {
            // A new version starts at zero, like a function nobody called yet (its first
            // request loads it from the compiled-code cache), unless it keeps instances warm.
            if running.min_instances > 0 {
                let version = deployed.version.clone();
                let active = self.activate(version, running, loaded);
                self.loaded_versions().insert(active);
            }
            self.refresh_pointers(name).await?;
            self.release_unpointed(name);
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
        let deleted = self.store.delete_function(name).await?;
        self.refresh_pointers(name).await?;
        for removed in self.loaded_versions().remove_where(name, |_| false) {
            removed.unloaded();
        }
        if !deleted {
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
            if let Err(e) = self.artifacts.remove(&sha).await {
                tracing::warn!("cannot remove an unused artifact: {e}");
            }
            self.executors.of(runtime).forget(&sha);
        }
    }

    /// Whether `target` (`FN`, `FN@ALIAS`, `FN@N`) may be called without a token, read
    /// without loading its code. A split alias is public when both its versions are. An
    /// unknown alias or version is as public as the latest version: a private function's
    /// aliases are as absent as it is to a caller without a token.
    pub async fn is_public(&self, target: &str) -> Result<bool, Error> {
        let target = Target::parse(target)?;
        let name = target.function;
        let pointers = self.pointers(name).await?;
        let numbers: Vec<u32> = match target.selector {
            Selector::Alias(alias) => match pointers.aliases.get(alias) {
                Some(alias) => alias.versions().collect(),
                None => vec![pointers.latest],
            },
            selector => vec![pointers.pick(name, selector).unwrap_or(pointers.latest)],
        };
        for number in numbers {
            let public = match self.cached(name, number) {
                Some(active) => active.config.public,
                None => self.version(name, number).await?.config.public,
            };
            if !public {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The version that serves `target` (`FN`, `FN@ALIAS` or `FN@N`), loading it on first
    /// use. An alias with a split picks one of its versions at random, by its weights.
    pub async fn resolve(&self, target: &str) -> Result<Arc<ActiveVersion>, Error> {
        Ok(self.resolve_loading(target).await?.0)
    }

    /// Resolves `target`, and says whether its code had to be loaded (by this call, or by
    /// another one it waited for).
    async fn resolve_loading(&self, target: &str) -> Result<(Arc<ActiveVersion>, bool), Error> {
        let target = Target::parse(target)?;
        let name = target.function;
        let number = self.pointers(name).await?.pick(name, target.selector)?;
        if let Some(active) = self.cached(name, number) {
            return Ok((active, false));
        }
        Ok((self.resolve_number(name, number).await?, true))
    }

    async fn resolve_number(&self, name: &str, number: u32) -> Result<Arc<ActiveVersion>, Error> {
        if let Some(active) = self.cached(name, number) {
            return Ok(active);
        }
        let lock = self.loading_lock(name, number);
        let _loading = lock.lock().await;
        if let Some(active) = self.cached(name, number) {
            return Ok(active);
        }
        let version = self.version(name, number).await?;
        let sha = &version.artifact_sha256;
        let stored = ArtifactSource::File(self.artifacts.fetch(sha).await?);
        let config = self.running_config(name, &version.config)?;
        let loaded = self
            .executors
            .of(version.runtime)
            .load(sha, stored, &config)
            .await
            .map_err(load_error)?;
        let active = self.activate(version, config, loaded);
        self.loaded_versions().insert(active.clone());
        Ok(active)
    }

    /// One version as stored: the latest from the function's row, an older one from its list.
    async fn version(&self, name: &str, number: u32) -> Result<Version, Error> {
        let latest = self.function(name).await?.latest;
        if latest.number == number {
            return Ok(latest);
        }
        let versions = self.store.versions(name).await?;
        versions
            .into_iter()
            .find(|v| v.number == number)
            .ok_or_else(|| Error::not_found(format!("function `{name}` has no version {number}")))
    }

    /// Where calls to `name` go, read from the store on first use.
    async fn pointers(&self, name: &str) -> Result<Arc<Pointers>, Error> {
        if let Some(pointers) = self.cached_pointers(name) {
            return Ok(pointers);
        }
        let _reading = self.pointer_reads.lock().await;
        if let Some(pointers) = self.cached_pointers(name) {
            return Ok(pointers);
        }
        self.read_pointers(name)
            .await?
            .ok_or_else(|| Error::function_not_found(name))
    }

    fn cached_pointers(&self, name: &str) -> Option<Arc<Pointers>> {
        let pointers = self.pointers.read().unwrap_or_else(|p| p.into_inner());
        pointers.get(name).cloned()
    }

    /// Reads where calls to `name` go again, after a change to its versions or aliases.
    async fn refresh_pointers(&self, name: &str) -> Result<(), Error> {
        let _reading = self.pointer_reads.lock().await;
        self.read_pointers(name).await.map(drop)
    }

    /// Reads the pointers of `name` and keeps them (forgets them if it is gone); the caller
    /// holds `pointer_reads`.
    async fn read_pointers(&self, name: &str) -> Result<Option<Arc<Pointers>>, Error> {
        let pointers = match self.store.function(name).await? {
            Some(info) => Some(Pointers::new(
                info.latest.number,
                self.aliases.aliases(name).await?,
            )),
            None => None,
        };
        let mut cache = self.pointers.write().unwrap_or_else(|p| p.into_inner());
        match &pointers {
            Some(pointers) => cache.insert(name.to_string(), pointers.clone()),
            None => cache.remove(name),
        };
        Ok(pointers)
    }

    /// Another node changed `name` (deployed it, deleted it, moved an alias): where its calls
    /// go is read again, and the versions nothing points at any more are unloaded.
    pub async fn changed_elsewhere(&self, name: &str) -> Result<(), Error> {
        self.refresh_pointers(name).await?;
        if self.cached_pointers(name).is_none() {
            for capability in &self.capabilities {
                capability.revoke(name);
            }
        }
        self.release_unpointed(name);
        Ok(())
    }

    /// The functions whose pointers this node holds: those to read again when what changed
    /// elsewhere is unknown.
    pub fn known_functions(&self) -> Vec<String> {
        let pointers = self.pointers.read().unwrap_or_else(|p| p.into_inner());
        pointers.keys().cloned().collect()
    }

    /// Whether the latest version of `name` or one of its aliases sends calls to `number`.
    fn is_pointed_at(&self, name: &str, number: u32) -> bool {
        self.cached_pointers(name)
            .is_some_and(|pointers| pointers.points_at(number))
    }

    /// Unloads the versions of `name` that nothing points at any more, as a deploy or an alias
    /// moves away from them. A call naming one by number loads it again.
    fn release_unpointed(&self, name: &str) {
        let pointers = self.cached_pointers(name);
        let pointed = |number| pointers.as_ref().is_some_and(|p| p.points_at(number));
        for released in self.loaded_versions().remove_where(name, pointed) {
            released.unloaded();
        }
    }

    fn loaded_versions(&self) -> std::sync::RwLockWriteGuard<'_, LoadedVersions> {
        self.active.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The config a version of `name` runs with: its own and what its grants provide.
    fn running_config(
        &self,
        name: &str,
        config: &FunctionConfig,
    ) -> Result<Arc<FunctionConfig>, Error> {
        gust_core::provisioned(name, config, &self.capabilities).map(Arc::new)
    }

    /// The lock that loads of a version take; dropped from the map once nobody holds it.
    fn loading_lock(&self, name: &str, number: u32) -> LoadLock {
        let mut locks = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry((name.to_string(), number)).or_default().clone()
    }

    /// Makes a loaded version the one that serves, starting its provisioned instances.
    fn activate(
        &self,
        version: Version,
        config: Arc<FunctionConfig>,
        loaded: Arc<dyn Loaded>,
    ) -> Arc<ActiveVersion> {
        let metrics =
            (self.metrics.as_ref()).map(|m| m.function(&version.function, version.number));
        loaded.keep_warm(config.min_instances);
        let active = Arc::new(ActiveVersion::new(version, config, loaded, metrics));
        active.report_instances();
        active
    }

    /// Scale to zero: drops a version's loaded code and instances; the next request loads it
    /// again (from the compiled-code cache or the unpacked folder) as a cold start.
    pub(crate) fn unload(&self, idle: &Arc<ActiveVersion>) {
        if self.loaded_versions().remove_if(idle) {
            idle.unloaded();
        }
    }

    pub(crate) fn active_versions(&self) -> Vec<Arc<ActiveVersion>> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.all()
    }

    /// The instances each loaded function has on this node, over its versions (absent:
    /// scaled to zero).
    pub fn instances(&self) -> HashMap<String, InstanceCount> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active
            .functions()
            .map(|name| (name.clone(), active.instances_of(name)))
            .collect()
    }

    /// The instances one function has on this node, over its versions (none: scaled to zero).
    pub fn instances_of(&self, name: &str) -> InstanceCount {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.instances_of(name)
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

    fn cached(&self, name: &str, number: u32) -> Option<Arc<ActiveVersion>> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.get(name, number).cloned()
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
        for active in self.active_versions() {
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
