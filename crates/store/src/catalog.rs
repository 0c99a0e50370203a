//! The catalog: what is deployed and how it is reached. Functions and their versions and
//! triggers here; aliases, routes, buckets, tokens and secrets in traits of their own.

use async_trait::async_trait;
use gust_core::{Error, FunctionConfig, FunctionInfo, Runtime, Trigger, Version};
use serde_json::{Map, Value};

/// The result of deploying: the version that now serves, and whether it is new.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub version: Version,
    pub created: bool,
}

/// A new version to record; its artifact is already stored.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub function: String,
    pub runtime: Runtime,
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub config: FunctionConfig,
}

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), Error>;
    /// Records a version unless the latest version is identical (same artifact and config).
    async fn deploy(&self, new: NewVersion) -> Result<Deployed, Error>;
    async fn function(&self, name: &str) -> Result<Option<FunctionInfo>, Error>;
    async fn functions(&self) -> Result<Vec<FunctionInfo>, Error>;
    async fn versions(&self, name: &str) -> Result<Vec<Version>, Error>;
    /// Deletes the function, its versions and its triggers (a store that holds its queue and
    /// logs too, as the embedded one does, deletes its asynchronous invocations and logs with
    /// them); its invocation records stay, for usage. False if it did not exist.
    async fn delete_function(&self, name: &str) -> Result<bool, Error>;
    /// Whether any version of any function still runs this artifact.
    async fn artifact_in_use(&self, sha256: &str) -> Result<bool, Error>;
    async fn add_trigger(&self, trigger: Trigger) -> Result<(), Error>;
    /// Triggers, of one function or all, of one kind or all, oldest first.
    async fn triggers(
        &self,
        function: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Trigger>, Error>;
    /// False if there was no such trigger.
    async fn delete_trigger(&self, id: &str) -> Result<bool, Error>;
    /// Replaces what a trigger's source keeps of its progress.
    async fn set_trigger_state(&self, id: &str, state: Map<String, Value>) -> Result<(), Error>;
}
