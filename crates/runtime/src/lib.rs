//! Executors run a function's artifact for one request. `wasm` runs wasi:http components;
//! each runtime implements `Executor`, so the dispatcher does not care which one it calls.

mod execution;
mod lines;
mod log_sink;
pub mod process;
pub mod wasm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gust_core::{FunctionConfig, InstanceCount};

pub use execution::{Call, Execution, Failure, Outcome, RequestBody, ResponseBody};
pub use log_sink::{DEFAULT_LOG_BYTES_PER_INVOCATION, LogSink, SinkSlot};

/// Where an artifact's bytes come from: fresh from an upload, or from the blob store.
pub enum ArtifactSource {
    Bytes(Arc<[u8]>),
    File(PathBuf),
}

/// Why an artifact cannot run, in words that tell the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Invalid(String),
    #[error("could not load the artifact: {0}")]
    Internal(String),
}

/// A runtime: turns an artifact into something that can be invoked.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Checks and prepares an artifact, compiling it if needed.
    async fn load(
        &self,
        sha256: &str,
        artifact: ArtifactSource,
        config: &Arc<FunctionConfig>,
    ) -> Result<Arc<dyn Loaded>, LoadError>;

    /// Removes what was made from an artifact no version uses any more (compiled code,
    /// unpacked files).
    fn forget(&self, sha256: &str);
}

/// A version ready to serve requests.
#[async_trait]
pub trait Loaded: Send + Sync + 'static {
    async fn invoke(&self, call: Call, request: http::Request<RequestBody>) -> Execution;

    /// Its instances: warm ones and those serving a request now.
    fn instances(&self) -> InstanceCount;

    /// Stops instances idle for `idle` or longer, keeping at least `keep`.
    fn scale_down(&self, _idle: Duration, _keep: u32) {}

    /// Starts instances until at least `min` run.
    fn keep_warm(&self, _min: u32) {}
}
