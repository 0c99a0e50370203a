//! The dispatcher: the one call every event source ends in. It resolves a function to its
//! loaded version, runs it on its executor and records the invocation.

mod active;
mod recorder;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use gust_core::{
    ConfigPatch, Error, FunctionConfig, FunctionInfo, InvocationRecord, InvocationStatus, LogLine,
    Runtime, Trigger, now_ms, validate_function_name,
};
use gust_runtime::{ArtifactSource, Call, Executor, Failure, LoadError, ResponseBody};
use gust_store::{BlobStore, Deployed, NewVersion, Store};
use tokio::sync::broadcast;

pub use active::ActiveVersion;
pub use gust_runtime::RequestBody;
use recorder::Recorder;

/// What an invocation produced: the response or why there is none, and whether it paid a start.
pub struct Invoked {
    pub response: Result<http::Response<ResponseBody>, Failure>,
    pub cold: bool,
}

/// The HTTP status a caller gets for a run that ended without a response.
pub fn failure_status(status: InvocationStatus) -> u16 {
    match status {
        InvocationStatus::Timeout => 504,
        _ => 500,
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    wasm: Arc<dyn Executor>,
    active: RwLock<HashMap<String, Arc<ActiveVersion>>>,
    /// Serialises loads so that concurrent first requests compile a version once.
    loading: tokio::sync::Mutex<()>,
    recorder: Recorder,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, blobs: BlobStore, wasm: Arc<dyn Executor>) -> Self {
        Dispatcher {
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
        self.publish(name, &sha, bytes, config).await
    }

    /// Makes a new version of a function's latest artifact with some settings changed.
    pub async fn reconfigure(&self, name: &str, patch: ConfigPatch) -> Result<Deployed, Error> {
        let info = self.function(name).await?;
        let config = patch.apply(&info.latest.config);
        config.validate()?;
        let sha = info.latest.artifact_sha256;
        let stored = ArtifactSource::File(self.blobs.path(&sha));
        self.publish(name, &sha, stored, config).await
    }

    /// Loads the artifact (which checks it), stores a new upload, then records the version:
    /// nothing is written for an artifact that cannot run.
    async fn publish(
        &self,
        name: &str,
        sha: &str,
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
                artifact_size: std::fs::metadata(self.blobs.path(sha)).map_or(0, |m| m.len()),
                config,
            })
            .await?;
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        let current = active.get(name).map(|a| a.version.number);
        if current != Some(deployed.version.number) {
            active.insert(
                name.to_string(),
                Arc::new(ActiveVersion::new(deployed.version.clone(), loaded)),
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
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
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
        let active = Arc::new(ActiveVersion::new(info.latest, loaded));
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), active.clone());
        Ok(active)
    }

    fn cached(&self, name: &str) -> Option<Arc<ActiveVersion>> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.get(name).cloned()
    }

    /// Runs one invocation of a resolved version and records it once the function finishes.
    pub async fn invoke(
        &self,
        active: &ActiveVersion,
        invocation_id: String,
        trigger: Trigger,
        request: http::Request<RequestBody>,
    ) -> Invoked {
        let cold = !active.used.swap(true, Ordering::Relaxed);
        let started_at_ms = now_ms();
        let call = Call {
            invocation_id: invocation_id.clone(),
            config: active.config.clone(),
            logs: self
                .recorder
                .log_sink(invocation_id.clone(), active.version.function.clone()),
        };
        let execution = active.loaded.invoke(call, request).await;
        let http_status = match &execution.response {
            Ok(response) => response.status().as_u16(),
            Err(failure) => failure_status(failure.status),
        };
        let failed_early = execution.response.as_ref().err().cloned();
        let recorder = self.recorder.clone();
        let (function, version, memory_mb) = (
            active.version.function.clone(),
            active.version.number,
            active.config.memory_mb,
        );
        tokio::spawn(async move {
            let Ok(outcome) = execution.finished.await else {
                return;
            };
            let duration_us = outcome.duration.as_micros() as u64;
            // A run that answered with an error but then returned cleanly is still an error.
            let (status, error) = match (outcome.status, failed_early) {
                (InvocationStatus::Ok, Some(failure)) => (failure.status, Some(failure.message)),
                (status, _) => (status, outcome.error),
            };
            recorder.record(InvocationRecord {
                id: invocation_id,
                function,
                version,
                trigger,
                started_at_ms,
                duration_us,
                billed_ms: InvocationRecord::billed_ms_for(duration_us),
                memory_mb,
                status,
                cold,
                http_status,
                error,
            });
        });
        Invoked {
            response: execution.response,
            cold,
        }
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
