//! What a node loads at start, before it serves: the functions that keep instances warm, and
//! those that were still loaded when the server stopped.

use std::collections::HashMap;
use std::sync::Arc;

use gust_core::{Error, FunctionInfo, InstanceCount, Runtime, now_ms};
use gust_runtime::ArtifactSource;

use crate::Dispatcher;

impl Dispatcher {
    /// Loads every version that keeps instances warm and that calls reach (the latest or an
    /// alias's), then reloads up to `reload` functions
    /// invoked within their idle timeout before the start: had the server not restarted, they
    /// would still be loaded, so a restart does not make their next request a cold start.
    /// Otherwise it walks the cold path once, so that the first cold request pays no one-time
    /// costs: the store's lookup statement gets parsed, the engine maps its first component.
    pub async fn warm_up(&self, reload: usize) -> Result<(), Error> {
        let functions = self.store.functions().await?;
        for info in &functions {
            self.keep_warm(&info.name).await?;
        }
        self.store.function("").await?;
        if self.reload_recent(&functions, reload).await? == 0 {
            self.map_one_component(&functions).await;
        }
        Ok(())
    }

    /// Loads the versions of `name` that calls reach and that keep instances warm.
    async fn keep_warm(&self, name: &str) -> Result<(), Error> {
        let versions = self.store.versions(name).await?;
        let pointers = self.pointers(name).await?;
        for version in versions {
            if version.config.min_instances == 0 || !pointers.points_at(version.number) {
                continue;
            }
            if let Err(e) = self.resolve_number(name, version.number).await {
                tracing::warn!(function = %name, version = version.number, "cannot keep warm: {e}");
            }
        }
        Ok(())
    }

    /// Loads the functions that would still be loaded, latest invoked first; returns how many.
    async fn reload_recent(
        &self,
        functions: &[FunctionInfo],
        limit: usize,
    ) -> Result<usize, Error> {
        let idle_timeouts: HashMap<&str, i64> = functions
            .iter()
            .map(|f| (f.name.as_str(), f.latest.config.idle_timeout_ms as i64))
            .collect();
        let Some(longest) = idle_timeouts.values().max().filter(|_| limit > 0) else {
            return Ok(0);
        };
        let now = now_ms();
        let mut reloaded = 0;
        for (name, last_ms) in self.store.last_invoked(now - longest).await? {
            // Not if deleted since, idle past its own timeout, or loaded already (it keeps
            // instances warm): the limit counts only what this reloads.
            let still_loaded = idle_timeouts
                .get(name.as_str())
                .is_some_and(|idle| now - last_ms < *idle);
            if !still_loaded || self.instances_of(&name) != InstanceCount::default() {
                continue;
            }
            match self.resolve(&name).await {
                Ok(active) => {
                    // It goes idle when it would have without the restart.
                    active.used_at(last_ms);
                    reloaded += 1;
                }
                Err(e) => tracing::warn!(function = %name, "cannot reload: {e}"),
            }
            if reloaded == limit {
                break;
            }
        }
        Ok(reloaded)
    }

    /// Maps one compiled component and drops it: the version itself stays at zero.
    async fn map_one_component(&self, functions: &[FunctionInfo]) {
        let Some(version) = functions
            .iter()
            .map(|f| &f.latest)
            .find(|v| v.runtime == Runtime::Wasm)
        else {
            return;
        };
        let Ok(file) = self.artifacts.fetch(&version.artifact_sha256).await else {
            return;
        };
        let stored = ArtifactSource::File(file);
        let config = Arc::new(version.config.clone());
        let load = self
            .executors
            .wasm
            .load(&version.artifact_sha256, stored, &config);
        drop(load.await);
    }
}
