//! The process runtime: a folder (uploaded as a .tar.gz) whose command runs in a sandbox,
//! either as a long-running HTTP server (`http` mode) or once per request (`stdio` mode).

mod cgroup;
mod egress;
mod http_mode;
mod instance;
mod kv_socket;
mod launch;
mod loopback_relay;
mod netns;
mod output;
mod pool;
pub mod sandbox;
mod spawner;
mod stdio_mode;
mod unpack;
mod watched_body;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};

use gust_core::{FunctionConfig, InstanceCount, InvocationStatus, KeyValue, ProcessMode};
use tokio::time::Instant;

use crate::execution::TRACEPARENT;
use crate::{
    ArtifactSource, Call, Execution, Executor, Failure, LoadError, Loaded, Outcome, RequestBody,
};
use kv_socket::KvSocket;
pub use launch::Isolation;
use launch::{FunctionFiles, Launcher};
use pool::HttpPool;
use spawner::Spawner;
use stdio_mode::StdioRunner;
pub use unpack::MAX_UNPACKED_BYTES;

pub struct ProcessExecutor {
    /// What starts instances, or why process functions cannot run on this server.
    launcher: Result<Arc<Launcher>, String>,
    /// Unpacked artifacts, one folder per sha256.
    artifacts: PathBuf,
    /// The node's key-value stores, and where loaded versions' sockets to them are made.
    kv: Option<Arc<dyn KeyValue>>,
    kv_sockets: PathBuf,
    next_socket: AtomicU64,
}

impl ProcessExecutor {
    /// `helper` is the `gust` binary (it runs the sandbox as `gust __sandbox`). Must be
    /// called inside the tokio runtime.
    pub fn new(
        helper: PathBuf,
        data_dir: &Path,
        isolation: Isolation,
    ) -> std::io::Result<ProcessExecutor> {
        let roots = data_dir.join("process/roots");
        let _ = std::fs::remove_dir_all(&roots);
        let kv_sockets = data_dir.join("process/kv");
        let _ = std::fs::remove_dir_all(&kv_sockets);
        std::fs::create_dir_all(&kv_sockets)?;
        let spawner = Spawner::start(tokio::runtime::Handle::current())?;
        Ok(ProcessExecutor {
            launcher: Ok(Arc::new(Launcher::new(helper, isolation, roots, spawner))),
            artifacts: data_dir.join("process/artifacts"),
            kv: None,
            kv_sockets,
            next_socket: AtomicU64::new(0),
        })
    }

    /// Gives functions granted a store (`--kv`) the node's key-value stores, on a socket.
    pub fn with_key_value(mut self, kv: Arc<dyn KeyValue>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// The socket of a version's key-value stores, when it was granted any.
    fn kv_socket(&self, config: &FunctionConfig) -> Result<Option<KvSocket>, LoadError> {
        if config.kv.is_empty() {
            return Ok(None);
        }
        let Some(kv) = &self.kv else {
            let why = "this node has no key-value stores for --kv";
            return Err(LoadError::Invalid(why.into()));
        };
        let n = self.next_socket.fetch_add(1, Ordering::Relaxed);
        let path = self.kv_sockets.join(format!("{n}.sock"));
        KvSocket::open(path, kv.clone(), &config.kv)
            .map(Some)
            .map_err(LoadError::Internal)
    }

    /// An executor that refuses every process function, saying `why`.
    pub fn disabled(data_dir: &Path, why: String) -> ProcessExecutor {
        ProcessExecutor {
            launcher: Err(why),
            artifacts: data_dir.join("process/artifacts"),
            kv: None,
            kv_sockets: data_dir.join("process/kv"),
            next_socket: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Executor for ProcessExecutor {
    async fn load(
        &self,
        sha256: &str,
        artifact: ArtifactSource,
        config: &Arc<FunctionConfig>,
    ) -> Result<Arc<dyn Loaded>, LoadError> {
        let launcher = self.launcher.clone().map_err(LoadError::Invalid)?;
        let dir = self.artifacts.join(sha256);
        if !dir.is_dir() {
            let target = dir.clone();
            tokio::task::spawn_blocking(move || match artifact {
                ArtifactSource::Bytes(bytes) => unpack::unpack(&bytes[..], &target),
                ArtifactSource::File(path) => {
                    let file = std::fs::File::open(&path)
                        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                    unpack::unpack(std::io::BufReader::new(file), &target)
                }
            })
            .await
            .map_err(|e| LoadError::Internal(e.to_string()))?
            .map_err(LoadError::Invalid)?;
        }
        let files = FunctionFiles {
            dir,
            kv_socket: self.kv_socket(config)?,
        };
        let function = match config.mode {
            ProcessMode::Http => {
                ProcessFunction::Http(HttpPool::new(launcher, files, config.clone()))
            }
            ProcessMode::Stdio => {
                ProcessFunction::Stdio(StdioRunner::new(launcher, files, config.clone()))
            }
        };
        Ok(Arc::new(function))
    }

    fn forget(&self, sha256: &str) {
        let dir = self.artifacts.join(sha256);
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", dir.display());
        }
    }
}

enum ProcessFunction {
    Http(HttpPool),
    Stdio(StdioRunner),
}

#[async_trait]
impl Loaded for ProcessFunction {
    async fn invoke(&self, call: Call, mut request: http::Request<RequestBody>) -> Execution {
        if let Some(traceparent) = &call.traceparent {
            request
                .headers_mut()
                .insert(TRACEPARENT, traceparent.clone());
        }
        match self {
            ProcessFunction::Http(pool) => http_mode::invoke(pool, call, request).await,
            ProcessFunction::Stdio(runner) => runner.invoke(call, request).await,
        }
    }

    fn instances(&self) -> InstanceCount {
        match self {
            ProcessFunction::Http(pool) => pool.count(),
            ProcessFunction::Stdio(runner) => runner.count(),
        }
    }

    fn scale_down(&self, idle: Duration, keep: u32) {
        if let ProcessFunction::Http(pool) = self {
            pool.scale_down(idle, keep);
        }
    }

    fn keep_warm(&self, min: u32) {
        if let ProcessFunction::Http(pool) = self {
            pool.keep_warm(min);
        }
    }
}

/// What every function process starts with: a plain PATH and a private home, then the
/// function's declared environment. Nothing of Gust's own environment leaks in.
fn base_env(config: &FunctionConfig) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/tmp"),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Connection-level headers belong to one hop, not to the function or its caller.
fn strip_hop_headers(headers: &mut http::HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// An execution that ended without a response.
fn failed(status: InvocationStatus, message: String, started: Instant, cold: bool) -> Execution {
    let failure = Failure {
        status,
        message: message.clone(),
    };
    let outcome = Outcome {
        status,
        error: Some(message),
        duration: started.elapsed(),
        instance_start: None,
    };
    Execution::over(Err(failure), outcome, cold)
}
