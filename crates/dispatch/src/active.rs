use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use gust_core::{FunctionConfig, Version};
use gust_meter::FunctionMetrics;
use gust_runtime::Loaded;

/// A version loaded in this process and ready to serve.
pub struct ActiveVersion {
    pub version: Version,
    pub config: Arc<FunctionConfig>,
    pub(crate) loaded: Arc<dyn Loaded>,
    /// Set by the first invocation: that one is cold, the rest are warm.
    pub(crate) used: AtomicBool,
    pub(crate) metrics: Option<FunctionMetrics>,
}

impl ActiveVersion {
    pub(crate) fn new(
        version: Version,
        loaded: Arc<dyn Loaded>,
        metrics: Option<FunctionMetrics>,
    ) -> Self {
        ActiveVersion {
            metrics,
            config: Arc::new(version.config.clone()),
            version,
            loaded,
            used: AtomicBool::new(false),
        }
    }
}
