//! The versions loaded in this process, by function and number: several versions of one
//! function serve side by side (an alias on an older one, a canary, a call to `FN@3`).

use std::collections::HashMap;
use std::sync::Arc;

use gust_core::InstanceCount;

use crate::ActiveVersion;

#[derive(Default)]
pub(crate) struct LoadedVersions(HashMap<String, HashMap<u32, Arc<ActiveVersion>>>);

impl LoadedVersions {
    pub fn get(&self, function: &str, number: u32) -> Option<&Arc<ActiveVersion>> {
        self.0.get(function)?.get(&number)
    }

    pub fn insert(&mut self, active: Arc<ActiveVersion>) {
        let version = &active.version;
        let versions = self.0.entry(version.function.clone()).or_default();
        versions.insert(version.number, active);
    }

    /// Removes one version, when it is still `expected` (it may have been replaced meanwhile).
    pub fn remove_if(&mut self, expected: &Arc<ActiveVersion>) -> bool {
        let version = &expected.version;
        let Some(versions) = self.0.get_mut(&version.function) else {
            return false;
        };
        let current = versions.get(&version.number);
        if !current.is_some_and(|current| Arc::ptr_eq(current, expected)) {
            return false;
        }
        versions.remove(&version.number);
        if versions.is_empty() {
            self.0.remove(&version.function);
        }
        true
    }

    /// Removes the versions of `function` that `keep` refuses, and returns them.
    pub fn remove_where(
        &mut self,
        function: &str,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<Arc<ActiveVersion>> {
        let Some(versions) = self.0.get_mut(function) else {
            return Vec::new();
        };
        let dropped: Vec<u32> = versions.keys().copied().filter(|n| !keep(*n)).collect();
        let removed = dropped.iter().filter_map(|n| versions.remove(n)).collect();
        if versions.is_empty() {
            self.0.remove(function);
        }
        removed
    }

    pub fn all(&self) -> Vec<Arc<ActiveVersion>> {
        self.0.values().flat_map(|v| v.values().cloned()).collect()
    }

    /// The instances of one function, over its loaded versions.
    pub fn instances_of(&self, function: &str) -> InstanceCount {
        let mut sum = InstanceCount::default();
        for active in self.0.get(function).into_iter().flat_map(|v| v.values()) {
            let instances = active.instances();
            sum.warm += instances.warm;
            sum.busy += instances.busy;
        }
        sum
    }

    pub fn functions(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}
