use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use gust_core::{FunctionConfig, InstanceCount, Runtime, Version, now_ms};
use gust_meter::FunctionMetrics;
use gust_runtime::Loaded;

use crate::limiter::Limiter;

/// A version loaded in this process and ready to serve.
pub struct ActiveVersion {
    pub version: Version,
    /// The function's name, shared by the records of its invocations.
    pub(crate) name: Arc<str>,
    pub config: Arc<FunctionConfig>,
    pub(crate) loaded: Arc<dyn Loaded>,
    pub(crate) limiter: Limiter,
    /// When an invocation last started or ended, for scaling down after idle time.
    last_used_ms: AtomicI64,
    pub(crate) metrics: Option<FunctionMetrics>,
}

impl ActiveVersion {
    pub(crate) fn new(
        version: Version,
        config: Arc<FunctionConfig>,
        loaded: Arc<dyn Loaded>,
        metrics: Option<FunctionMetrics>,
    ) -> Self {
        ActiveVersion {
            metrics,
            limiter: Limiter::new(&config),
            config,
            name: version.function.as_str().into(),
            version,
            loaded,
            last_used_ms: AtomicI64::new(now_ms()),
        }
    }

    /// Sets when it was last used: as an invocation starts, or for a version reloaded at
    /// start, when its last invocation did.
    pub(crate) fn used_at(&self, ms: i64) {
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn idle_ms(&self) -> i64 {
        now_ms() - self.last_used_ms.load(Ordering::Relaxed)
    }

    /// Its instances on this node.
    pub fn instances(&self) -> InstanceCount {
        self.loaded.instances()
    }

    /// Sets its instance gauges from what its runtime holds now.
    pub(crate) fn report_instances(&self) {
        if let Some(metrics) = &self.metrics {
            let instances = self.instances();
            metrics.set_instances(instances.warm, instances.busy);
        }
    }

    /// Reports in the metrics that it no longer holds anything.
    pub(crate) fn unloaded(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.set_instances(0, 0);
        }
    }

    pub fn runtime(&self) -> Runtime {
        self.version.runtime
    }
}
